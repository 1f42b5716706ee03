"""Settings and execution modes that change the numbers.

A plug-in declares, as data (``lossconform.contract.Setting`` from ``Adapter.settings()``),
the settings a user may have: environment variables read when the framework loads,
process-wide switches, and execution modes (values of the ``mode`` facet). For each one this
engine runs the convention probes and a representative slice of the matrix (``slice``) under
the setting and under the baseline (the run's own environment, observed in the test process
itself), each process setting in a fresh process (``python -m lossconform.settings
observe``), an execution mode in the test's own process (it sets nothing process-wide), and
compares them (``compare``):

* the share of outputs (forward values and gradients) that are not bitwise identical, and by
  how many ULP they move;
* accuracy: the check under the setting against the float64 reference, exactly as the matrix
  does it (tolerance, then the plug-in's divergence models);
* NaN/inf patterns, and exceptions that appear, vanish or change;
* probe observations that change.

Each call gives one record of kind ``setting`` (``setting`` names it, ``observed`` says what
changed in one line). A setting fails its test (``lossconform/suite/test_settings.py``) only
where it makes a check fail that the baseline passes, or changes a convention observation it
does not declare in ``Setting.expected_changes``. The report's settings view summarises the
records per framework and setting (``lossconform.reports.settings_view``).

No framework is named here: everything framework-specific comes from the plug-ins.
"""
from __future__ import annotations

from .compare import (CHANGED_STATES, PROBE_STATES, STATES, SettingResult, compare,
                      parse_observed, probe_state, summary_line)
from .observe import COMPACT_TOPICS, Observation, Outcome, observe
from .run import (SettingRunError, find_setting, observe_in_subprocess, observe_setting,
                  shared_baseline)
from .slice import ROWS, Item, Row, items

__all__ = ["CHANGED_STATES", "COMPACT_TOPICS", "Item", "Observation", "Outcome", "PROBE_STATES",
           "ROWS", "Row", "STATES", "SettingResult", "SettingRunError", "compare",
           "find_setting", "items", "observe", "observe_in_subprocess", "observe_setting",
           "parse_observed",
           "probe_state", "shared_baseline", "summary_line"]
