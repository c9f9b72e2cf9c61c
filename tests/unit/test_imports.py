"""Feast's modules get typeguard's decorator as a no-op; everyone else's still checks types
(``skyprophet/core/imports.py``). Here on stand-in packages named ``feast`` and ``other`` (the real
Feast takes seconds to import: ``tests/integration/test_feast_imports.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from skyprophet.core.config import PROJECT_ROOT

DECORATED = "from typeguard import typechecked\n\n@typechecked\ndef half(x: int) -> int:\n    return x // 2\n"
PROBE = (
    "import json, skyprophet, feast, other\n"
    "from typeguard import TypeCheckError\n"
    "def rejects(f):\n"
    "    try:\n        f('4')\n    except (TypeCheckError, TypeError) as e:\n        return type(e).__name__\n"
    "    return None\n"
    "print(json.dumps({'feast': rejects(feast.half), 'other': rejects(other.half)}))\n"
)


def _probe(tmp_path: Path, **env: str) -> dict[str, str | None]:
    (tmp_path / "feast").mkdir(exist_ok=True)
    (tmp_path / "feast" / "__init__.py").write_text(DECORATED)
    (tmp_path / "other.py").write_text(DECORATED)
    path = os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)])
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": path, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_feast_loads_unchecked_and_everyone_else_checked(tmp_path: Path) -> None:
    # feast.half('4') runs unchecked ('4' // 2 is then Python's own TypeError); other.half is refused by typeguard
    assert _probe(tmp_path) == {"feast": "TypeError", "other": "TypeCheckError"}


def test_the_checks_can_be_kept(tmp_path: Path) -> None:
    assert _probe(tmp_path, SKYPROPHET_FEAST_TYPECHECKS="1") == {"feast": "TypeCheckError", "other": "TypeCheckError"}
