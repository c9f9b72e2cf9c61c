"""The documentation site as a reader gets it: built with `mkdocs build --strict`, served over HTTP,
opened in headless chromium (the home page and a generated reference page)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from skyprophet.core.config import PROJECT_ROOT
from tests.browser import chromium_or_skip, headless_page

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    build = subprocess.run([str(Path(sys.executable).with_name("mkdocs")), "build", "--strict", "-d", str(out)],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_the_home_page_and_a_reference_page_in_a_browser(site: str, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    shots = Path(os.environ.get("SKYPROPHET_DOCS_SCREENSHOTS", str(tmp_path)))
    with headless_page(chromium) as (page, errors):
        page.goto(f"{site}/")
        assert page.title().startswith("SkyProphet")
        nav = page.inner_text("nav.md-nav--primary")
        for section in ("Getting started", "Concepts", "Tutorials by role", "How-to guides", "Reference", "Project"):
            assert section in nav, section
        board = page.query_selector("article img[src$='board.png']")
        assert board is not None and page.evaluate("img => img.naturalWidth", board) > 100  # the picture loads
        page.screenshot(path=str(shots / "docs-home.png"))
        # a generated page, reached by its link in the navigation
        page.click("nav.md-nav--primary >> text=Command line")
        page.wait_for_url("**/reference/cli/")
        article = page.inner_text("article")
        assert "skyprophet model train" in article and "--feature-service <str>" in article
        assert "--log-level debug|info|warning|error" in article and "reports/monitor/<name>/report.html" in article
        assert "generated from the code" in page.content()
        page.screenshot(path=str(shots / "docs-cli.png"))
        # the search index answers
        page.click(".md-search__input")
        page.keyboard.type("materialize", delay=20)
        page.wait_for_selector(".md-search-result__item", timeout=10_000)
        assert "matching document" in page.inner_text(".md-search-result__meta")
    assert errors == []
