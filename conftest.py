"""The repository's pytest composition root: the conformance glue and the results file.

Everything lives in the package (``lossconform.pytest_plugin``: options, matrix parameters,
the ``framework`` marker, metadata; ``lossconform.reports.pytest_plugin``: the results JSON),
so the installed package runs the same suite (``python -m lossconform``).
"""
pytest_plugins = ["lossconform.pytest_plugin", "lossconform.reports.pytest_plugin"]
