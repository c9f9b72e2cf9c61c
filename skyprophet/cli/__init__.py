"""The ``skyprophet`` command, grouped by noun as Feast's and MLflow's are: ``data``, ``features``,
``model``, ``monitor``, ``serve``, ``live``, ``bench``; one module per group, all registered in
``skyprophet.cli.app``.

The top layer: a command parses its options, reads the settings, calls one function of
``pipelines`` (or the server's factory) and prints; nothing imports it (``python -m skyprophet``
runs the same command). Heavy imports (Feast, MLflow, LightGBM) happen inside the functions it
calls, so ``skyprophet --help`` answers at once. A user error (any ``SkyProphetError``: bad option,
unknown feature service, unreachable tracking store, refused promotion, ...) prints one line and
exits non-zero; a traceback means a bug.
"""

from skyprophet.cli.app import app, main

__all__ = ["app", "main"]
