import skyprophet  # noqa: F401 - first: Feast loads without typeguard's run-time checks (skyprophet/core/imports.py)
