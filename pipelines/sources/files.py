"""Finding and reading source files: globs, plain CSVs and zipped ones (every CSV inside a zip)."""

from __future__ import annotations

import glob
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from skyprophet.core.errors import MissingData


def expand(patterns: Sequence[str | Path], base: Path | None = None) -> list[Path]:
    """The files ``patterns`` (paths or globs, relative to ``base``) name, sorted, each once.

    Raises:
        MissingData: a pattern names no file (all such patterns at once).
    """
    found: list[Path] = []
    empty = []
    for pattern in patterns:
        p = Path(pattern)
        if base is not None and not p.is_absolute():
            p = base / p
        matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())
        if not matches:
            empty.append(str(pattern))
        found += [m for m in matches if m not in found]
    if empty:
        raise MissingData(f"no file matches {', '.join(empty)}")
    return found


def read_csv_files(path: Path, **kwargs: object) -> list[tuple[str, pd.DataFrame]]:
    """``(name, table)`` of every CSV in ``path``: the file itself, or each ``.csv`` in a zip
    (the BTS monthly zips hold a CSV and a readme). All values are read as text (``dtype=str``)
    unless ``kwargs`` say otherwise, so a rejected row is kept exactly as it was."""
    kwargs = {"dtype": str, "keep_default_na": False, **kwargs}
    if path.suffix.lower() != ".zip":
        return [(path.name, pd.read_csv(path, **kwargs))]  # type: ignore[call-overload]
    out = []
    with zipfile.ZipFile(path) as z:
        for member in sorted(z.namelist()):
            if member.lower().endswith(".csv"):
                with z.open(member) as f:
                    out.append((f"{path.name}:{member}", pd.read_csv(io.BytesIO(f.read()), **kwargs)))  # type: ignore[call-overload]
    if not out:
        raise MissingData(f"{path} holds no .csv file")
    return out
