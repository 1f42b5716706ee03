"""lossconform: the executable truth about softmax, sigmoid and the cross-entropy family.

The package's parts, in the direction data flows:

* ``lossconform.dtypes``, ``lossconform.ops``: the one table of dtypes and of op families;
* ``lossconform.reference``: NumPy ground truth (float64, proven against mpmath);
* ``lossconform.cases``, ``lossconform.invalid``: framework-neutral cases and their inputs;
* ``lossconform.contract``: what a framework plug-in implements (``Adapter``);
* ``lossconform.adapters``: the built-in plug-ins, one sub-package per framework;
* ``lossconform.divergences``: known differences with executable models (entries come from
  the plug-ins);
* ``lossconform.harness``: tolerance policy, comparison, the check routine;
* ``lossconform.record``: the typed check record and the results schema;
* ``lossconform.pytest_plugin`` (the conformance run) and ``lossconform.reports`` (results
  file, HTML report).
"""
__version__ = "0.2.0"
