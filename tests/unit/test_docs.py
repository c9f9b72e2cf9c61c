"""The documentation's own rules: a short README, a meaning for every setting, references generated."""

from __future__ import annotations

import re
import runpy

from skyprophet.core.config import PROJECT_ROOT

MAX_README_LINES = 150


def test_the_readme_is_short_and_undated() -> None:
    text = (PROJECT_ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert not re.search(r"\b20(1[4-9]|[2-9]\d)-\d\d-\d\d\b", text)  # no dated runs (the data's 2013 dates are examples)
    assert "benchmark" not in text.lower()


def test_every_setting_says_what_it_means() -> None:
    from serving.config import ServingSettings

    bare = [name for name, f in ServingSettings.model_fields.items() if not (f.description or "").strip()]
    assert bare == []


def test_the_generated_references_cover_every_command_and_setting() -> None:
    from serving.config import ServingSettings

    gen = runpy.run_path(str(PROJECT_ROOT / "docs" / "gen_reference.py"), run_name="docs_reference")
    cli = gen["cli_page"]()
    for path, _cmd, _ctx in gen["commands"]():
        assert f"`{' '.join(path)}`" in cli
    assert "`skyprophet model train`" in cli and "<code>--feature-service &lt;str&gt;</code>" in cli
    settings = gen["settings_page"]()
    for name in ServingSettings.model_fields:
        assert f"`SKYPROPHET_{name.upper()}`" in settings or name == "redis_url" or name == "mlflow_tracking_uri"
    assert "`REDIS_URL`" in settings
    for page in gen["PAGES"]:
        assert (PROJECT_ROOT / "docs" / page).exists() is False  # generated on each build, never kept
