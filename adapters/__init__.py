"""The built-in framework plug-ins (installed as ``lossconform.adapters``).

Each sub-package is one framework and brings everything about it: ``ADAPTER`` (a
``lossconform.contract.Adapter``) with its entry points and capabilities, conventions,
divergence entries with their models, and expected invalid-input outcomes. They are found by
``lossconform.plugins.load_adapters`` exactly like a third-party plug-in's entry point, and a
sub-package whose name starts with ``_`` (the template) is not loaded.
"""
