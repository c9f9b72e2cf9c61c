"""SkyProphet's prediction service (FastAPI): ``serving.main.create_app``."""

__version__ = "0.1.0"
