"""SkyProphet's prediction service (FastAPI): ``serving.main.create_app``."""

import skyprophet  # noqa: F401 - first: Feast loads without typeguard's run-time checks (skyprophet/core/imports.py)

__version__ = "0.1.0"
