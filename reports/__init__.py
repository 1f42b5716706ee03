"""Results collection (pytest plugin), results loading and the self-contained HTML report.

``python -m lossconform.reports build RESULTS.json [MORE.json ...] -o OUT.html`` builds the report;
``reports.pytest_plugin`` writes the results file a run produces.
"""
