"""What happened in a run, from its results document, in words the page can say.

The document's run fields (``lossconform.record``, "The results document"): ``status``,
``exitstatus``, ``tests`` (collected, reported, lost, crashed), ``checks`` (recorded). A
document from before the run fields existed lacks ``tests`` and ``checks`` (unknown, never
zero); there ``complete`` may include failed tests and ``failed`` meant an internal or usage
error, so its status is read from its exit status where that says more.

Counts say what ran: a *check* is a record whose verdict is not ``unsupported``; an
``unsupported`` record is a combination the entry point cannot express, counted apart.

Only a run that is ``complete``, with exit status 0 and no ``fail`` verdict, is *green*; the
page says "all agree or explained" only when every run it shows is green.
"""
from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from lossconform.record import PARTIAL_STATUSES, VERDICTS

__all__ = ["RunState", "run_state", "headline", "verdict_counts", "checks_of", "EXIT_MEANINGS",
           "LOST_SHOWN"]

#: pytest's exit codes (``pytest.ExitCode``) in words.
EXIT_MEANINGS = {0: "all tests passed", 1: "tests failed", 2: "interrupted",
                 3: "internal error", 4: "usage error", 5: "no tests collected"}
#: How many lost node ids a run's line names (the rest are counted).
LOST_SHOWN = 3
#: An old document's status, read from its exit status (a status that already says the
#: run stopped early is kept).
_FROM_EXIT = {0: "complete", 1: "failed", 2: "interrupted", 3: "error", 4: "error",
              5: "no-tests"}
_STATUS_WORDS = {
    "complete": "complete", "failed": "failed", "interrupted": "interrupted",
    "terminated": "terminated", "worker-crashed": "worker crashed", "error": "pytest error",
    "no-tests": "no tests ran"}


def verdict_counts(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Records per verdict, every verdict present (0 where none)."""
    counts = Counter(r["verdict"] for r in records)
    return {v: counts.get(v, 0) for v in VERDICTS}


def checks_of(counts: dict[str, int]) -> int:
    """The number of checks: records whose verdict is not ``unsupported``."""
    return sum(n for v, n in counts.items() if v != "unsupported")


def exit_text(code: int | None, status: str | None = None) -> str:
    """``exit status 3: internal error``; the meaning left out where ``status`` says it
    already (``interrupted``, exit status 2); ``exit status not recorded`` when unknown."""
    if code is None:
        return "exit status not recorded"
    natural = _FROM_EXIT.get(code, "terminated" if code > 128 else None)
    if status is not None and status == natural and status != "error":
        return f"exit status {code}"
    if code in EXIT_MEANINGS:
        return f"exit status {code}: {EXIT_MEANINGS[code]}"
    if code > 128:
        try:
            return f"exit status {code}: {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit status {code}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


@dataclass
class RunState:
    """One run's status, exit status and counts, and the phrases the page shows."""
    status: str                       # the status the page uses (derived for old documents)
    written_status: str               # the document's own status
    exitstatus: int | None
    counts: dict[str, int]            # records per verdict
    n_records: int
    collected: int | None = None      # tests.* (None: the document predates them)
    reported: int | None = None
    lost: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    recorded: int | None = None       # checks.recorded
    derived: bool = False             # status read from the exit status (old document)

    @property
    def checks(self) -> int:
        return checks_of(self.counts)

    @property
    def unsupported(self) -> int:
        return self.counts["unsupported"]

    @property
    def fails(self) -> int:
        return self.counts["fail"]

    @property
    def partial(self) -> bool:
        """Stopped before running everything it selected (its records are partial)."""
        return self.status in PARTIAL_STATUSES

    @property
    def inconsistent(self) -> str:
        """Why the document contradicts itself ('' when it does not)."""
        if self.recorded is not None and self.recorded != self.n_records:
            return (f"the document says {_plural(self.recorded, 'record')} were written "
                    f"and holds {self.n_records:,}")
        return ""

    @property
    def green(self) -> bool:
        return (self.status == "complete" and self.exitstatus == 0 and self.fails == 0
                and not self.inconsistent)

    @property
    def severity(self) -> str:
        """``good``, ``bad`` (failures, a failed or crashed run, an error) or ``warn``
        (partial without failures, nothing ran, the exit status unknown)."""
        if self.green:
            return "good"
        if self.fails or self.status in ("failed", "worker-crashed", "error") or \
                self.inconsistent or (self.exitstatus not in (None, 0) and
                                      self.status not in ("interrupted", "terminated",
                                                          "no-tests")):
            return "bad"
        return "warn"

    def status_words(self) -> str:
        """``interrupted (exit status 2: interrupted)``."""
        words = _STATUS_WORDS.get(self.status, self.status)
        if self.status == "terminated" and self.exitstatus and self.exitstatus > 128:
            try:
                words = f"terminated by {signal.Signals(self.exitstatus - 128).name}"
            except ValueError:
                pass
        return f"{words} ({exit_text(self.exitstatus, self.status)})"

    def tests_text(self) -> str:
        """What the document says about tests: how many ran of those selected, which were
        lost (the first ``LOST_SHOWN`` named)."""
        if self.collected is None or self.reported is None:
            return "test counts not recorded (an older results file)"
        if not self.collected:
            return "no tests selected" if self.status == "no-tests" else "no tests collected"
        text = f"{self.reported:,} of {_plural(self.collected, 'test')} ran"
        if self.lost:
            crashed = set(self.crashed)
            named = [n + (" (its worker crashed)" if n in crashed and self.status !=
                          "worker-crashed" else "") for n in self.lost[:LOST_SHOWN]]
            more = len(self.lost) - len(named)
            text += (f", {_plural(len(self.lost), 'test')} lost (" + ", ".join(named)
                     + (f" and {more:,} more" if more else "") + ")")
        return text

    def counts_text(self) -> str:
        """``3 failures among 45,635 checks`` / ``45,635 checks, none failed`` (``checks
        recorded`` for a partial run)."""
        return _counts_text(self.checks, self.fails, self.green, self.partial)

    def line(self) -> str:
        """The run's one-line summary: status, exit status, tests, checks."""
        parts = [self.status_words(), self.tests_text(), self.counts_text()]
        if self.unsupported:
            parts.append(f"+ {self.unsupported:,} unsupported "
                         f"combination{'s' if self.unsupported != 1 else ''}")
        if self.inconsistent:
            parts.append(self.inconsistent)
        if self.derived:
            parts.append(f"status read from the exit status (the file says "
                         f"{self.written_status!r})")
        if self.partial:
            parts.append("results are partial")
        return "; ".join(parts)


def _counts_text(n: int, fails: int, green: bool, partial: bool) -> str:
    checks = _plural(n, "check") + (" recorded" if partial else "")
    if fails:
        return f"{_plural(fails, 'failure')} among {checks}"
    if not n:
        return "no checks recorded"
    if green:
        return f"{checks}: all agree or explained"
    return f"{checks}, none failed"


def _int(value: Any) -> int | None:
    return value if value.__class__ is int else None


def run_state(doc: dict[str, Any]) -> RunState:
    """The RunState of a loaded results document (``reports.results.load_results``)."""
    written = str(doc.get("status") or "complete")
    code = _int(doc.get("exitstatus"))
    tests = doc.get("tests") if isinstance(doc.get("tests"), dict) else None
    checks = doc.get("checks") if isinstance(doc.get("checks"), dict) else None
    status, derived = written, False
    if tests is None and written in ("complete", "failed") and code is not None:
        # before the run fields: "complete" may include failed tests, "failed" meant an
        # internal or usage error; the exit status says which
        status = _FROM_EXIT.get(code, "terminated" if code > 128 else written)
        derived = status != written
    lost = [str(n) for n in tests.get("lost") or []] if tests else []
    crashed = [str(n) for n in tests.get("crashed") or []] if tests else []
    return RunState(
        status=status, written_status=written, exitstatus=code,
        counts=verdict_counts(doc["records"]), n_records=len(doc["records"]),
        collected=_int(tests.get("collected")) if tests else None,
        reported=_int(tests.get("reported")) if tests else None,
        lost=lost, crashed=crashed,
        recorded=_int(checks.get("recorded")) if checks else None, derived=derived)


def headline(states: Sequence[RunState], shorts: Sequence[str] = ()) -> tuple[str, str]:
    """The page's one-line verdict and its class (``good``, ``warn``, ``bad``).

    Green ("N checks: all agree or explained") only when every run is green and there is
    at least one check. Otherwise the line leads with what stopped a single run, or names
    the runs that are not green in a merge."""
    counts = {v: sum(s.counts[v] for s in states) for v in VERDICTS}
    n, fails = checks_of(counts), counts["fail"]
    if states and all(s.green for s in states) and n:
        return f"{_plural(n, 'check')}: all agree or explained", "good"
    cls = "bad" if any(s.severity == "bad" for s in states) else "warn"
    what = _counts_text(n, fails, False, any(s.partial for s in states))
    if len(states) == 1:
        s = states[0]
        if s.status == "no-tests":
            return (f"No tests ran ({exit_text(s.exitstatus, s.status)})"
                    + (f"; {what}" if s.n_records else ""), cls)
        if s.partial:
            words = s.status_words()
            tests = f": {s.tests_text()}" if s.collected is not None else ""
            return f"{words[:1].upper()}{words[1:]}{tests}; {what} — results are partial", cls
        notes = [f"run {s.status_words()}"] if not (s.status == "complete" and
                                                    s.exitstatus == 0) else []
        if s.inconsistent:
            notes.append(s.inconsistent)
        what = what + (f" — {'; '.join(notes)}" if notes else "")
        return what[:1].upper() + what[1:], cls
    names = [(shorts[i] if i < len(shorts) and shorts[i] else f"run {i + 1}")
             for i in range(len(states))]
    odd = [f"{name} {s.status_words()}" for name, s in zip(names, states) if not s.green]
    partial = any(s.partial for s in states)
    tail = "; ".join(odd) + (": results are partial" if partial else "")
    what = what + (f" — {tail}" if tail else "")
    return what[:1].upper() + what[1:], cls
