"""The event contract's reference pages are generated from the code and kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_event_contract_reference_matches_the_code() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_event_contract.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "event-contract.md").read_text()
    stale = page.replace("| `flight_number` | integer or string |", "| `flight_number` | integer |", 1)
    assert stale != page
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_event_contract as gen
    finally:
        sys.path.pop(0)
    assert gen.render(stale) == page  # the generated block is rebuilt whatever it held
