"""Start a drill's inner run with the signal state a terminal gives a new command.

Ignored signals and the signal mask are inherited through fork and exec, and Python keeps an
ignored SIGINT ignored (it installs its KeyboardInterrupt handler only over the default). A
test process that something in the same worker left with Ctrl-C ignored would then hand that
to the inner run, and a Ctrl-C drill would measure the test process, not lossconform. This
resets SIGINT, SIGTERM and SIGHUP to their defaults and unblocks them in the child before it
runs the command (``subprocess.Popen(..., preexec_fn=terminal_signals)``).
"""
from __future__ import annotations

import signal

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def terminal_signals() -> None:
    for num in _SIGNALS:
        signal.signal(num, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
