"""Feast's repo loader entry point: what the stock ``feast`` CLI reads (see ``.feastignore``).

Run from this folder (``feast apply``, ``feast ui``, ...). Like the project's own commands, it
takes the data folder and the grid step from the settings (``SKYPROPHET_DATA_DIR``,
``params.yaml``); being Feast's entry point, it reads them when Feast imports it, and publishes
each object as a module attribute, which is how Feast finds them.
"""

from __future__ import annotations

from feature_repo.definitions import objects
from skyprophet.core.config import get_settings

_settings = get_settings()
for _obj in objects(_settings.processed_dir, _settings.grid_minutes, _settings.offline_store):
    globals()[f"{type(_obj).__name__}_{_obj.name}"] = _obj
