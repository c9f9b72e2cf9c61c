"""The sources' manifest changes exactly when the named data does, and DVC and Make make it ingest's input."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from pipelines.sources import manifest as m
from pipelines.sources.spec import Sources
from skyprophet.core.config import PROJECT_ROOT
from skyprophet.core.errors import MissingData


@pytest.fixture
def spec(tmp_path: Path) -> Sources:
    (tmp_path / "bts").mkdir()
    (tmp_path / "bts" / "2019-01.csv").write_text("FL_DATE\n2019-01-01\n")
    (tmp_path / "airports.csv").write_text("faa\nATL\n")
    (tmp_path / "sources.yaml").write_text(
        "flights:\n  format: bts\n  paths: [bts/*.csv]\nweather:\n  format: none\nairports: airports.csv\n")
    return Sources.load(tmp_path / "sources.yaml")


def test_it_lists_each_named_file_with_its_hash(spec: Sources, tmp_path: Path) -> None:
    got = m.manifest(spec)
    files = {Path(f["path"]).name: f for f in got["files"]}
    assert sorted(files) == ["2019-01.csv", "airports.csv"]
    data = (tmp_path / "bts" / "2019-01.csv").read_bytes()
    assert files["2019-01.csv"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["2019-01.csv"]["bytes"] == len(data)
    assert got["sources"]["flights"] == {"format": "bts", "paths": ["bts/*.csv"]}


def test_it_is_rewritten_only_when_the_data_changes(spec: Sources, tmp_path: Path) -> None:
    out = tmp_path / "data" / "sources.manifest.json"
    assert m.write(spec, out) is True
    first = out.read_text()
    assert m.write(spec, out) is False and out.read_text() == first
    # same size, other content: a file replaced under its own name
    (tmp_path / "bts" / "2019-01.csv").write_text("FL_DATE\n2019-01-02\n")
    assert m.write(spec, out) is True
    # a new month matched by the same glob, sources.yaml untouched
    (tmp_path / "bts" / "2019-02.csv").write_text("FL_DATE\n2019-02-01\n")
    assert m.write(spec, out) is True
    assert [Path(f["path"]).name for f in json.loads(out.read_text())["files"]] == ["2019-01.csv", "2019-02.csv", "airports.csv"]


def test_the_default_lists_the_packages_five_tables() -> None:
    names = sorted(p.name for p in m.named_files(Sources()))
    assert names == ["airlines.csv", "airports.csv", "flights.csv.zip", "planes.csv", "weather.csv"]


def test_a_glob_that_matches_nothing_is_named(spec: Sources, tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text("flights:\n  format: bts\n  paths: [bts/*.zip, bts/*.csv, asos/*.csv]\n")
    with pytest.raises(MissingData, match=r"bts/\*\.zip, asos/\*\.csv"):
        m.named_files(Sources.load(tmp_path / "sources.yaml"))


def test_dvc_and_make_rerun_ingest_when_the_manifest_changes() -> None:
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    manifest = "data/sources.manifest.json"
    assert stages["sources"]["always_changed"] is True and "data manifest" in stages["sources"]["cmd"]
    assert [next(iter(o)) if isinstance(o, dict) else o for o in stages["sources"]["outs"]] == [manifest]
    assert manifest in stages["ingest"]["deps"]
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^MANIFEST := \$\(DATA\)/sources\.manifest\.json$", makefile, re.M)
    assert re.search(r"^\$\(MANIFEST\): FORCE.*\n\t\$\(CLI\) data manifest ", makefile, re.M)
    assert re.search(r"^\$\(RAW\):.*\$\(MANIFEST\)", makefile, re.M)
