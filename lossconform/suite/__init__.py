"""The conformance suite that runs on every adapter, built-in or plug-in.

* ``test_contract``: the adapter keeps its contract (entry points exist and are called,
  shapes and dtypes as declared, gradients of the input's shape, repro snippets execute and
  reproduce the values, capabilities and conventions well formed);
* ``test_matrix``: every case x entry point x dtype against the reference, forward and gradient;
* ``test_divergences``: each divergence entry still diverges and matches its model;
* ``test_invalid_inputs``: each (entry point, invalid case) cell has its expected outcome.

Run it on one framework with ``python -m lossconform test --frameworks NAME`` (or, in a
checkout, ``pytest lossconform/suite --lc-frameworks NAME``).
"""
