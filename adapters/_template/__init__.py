"""Template plug-in: copy this package to write the lossconform adapter of a framework.

This folder is a skeleton for a framework called ``mylib``. It is complete (every part of
``lossconform.contract.Adapter`` is present and commented) and it imports without any
framework installed, but it does not run anything: ``ADAPTER.available()`` answers
"template: copy adapters/_template to your own package first" for as long as it sits here.
Discovery (``lossconform.plugins``) skips it because its name starts with an underscore.

To start (the guide, adapters/WRITING_AN_ADAPTER.md, walks through every step):

1. copy the folder to your own package, e.g. ``mylib-lossconform/mylib_lossconform/``;
2. rename ``mylib`` everywhere and fill every ``TODO`` (entry points, the calls in
   ``adapter.py``, conventions, invalid-input outcomes, divergence entries);
3. register it in your pyproject.toml::

       [project.entry-points."lossconform.adapters"]
       mylib = "mylib_lossconform:ADAPTER"

4. run ``python -m lossconform contract --frameworks mylib`` until it is green, then
   ``python -m lossconform test --frameworks mylib``.

Files:
    adapter.py      the ``Adapter`` subclass: entry points, capabilities, evaluate, repro
    conventions.py  the framework's conventions as data, each with a source link
    divergences.py  known departures from the reference, each with an executable model
    invalid.py      what each entry point does with invalid input (first matching row wins)

The imports below are relative on purpose: the package keeps working under any name.
"""
from .adapter import ADAPTER

__all__ = ["ADAPTER"]
