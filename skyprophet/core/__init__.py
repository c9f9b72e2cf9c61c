"""The core layer: settings, keys and domain types, request-time transforms, the model spec, errors.

It imports no other project package and no heavy library (Feast, MLflow, Redis, LightGBM): every
other layer builds on it (import-linter holds this; see ``pyproject.toml``).
"""
