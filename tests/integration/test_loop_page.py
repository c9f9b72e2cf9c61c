"""The unattended loop's page (``make bench-loop``) in a real browser, on a made-up run whose story
is known: a scheduled retraining staged and refused by the shadow, then one on a retraining alert
promoted; the timeline is drawn, every step but the waits is listed, each version's evidence is
said in numbers, and the counters are shown."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.loop_page import render
from tests.browser import chromium_or_skip, headless_page


def _evidence(difference: float, low: float, high: float, flights: int) -> str:
    return json.dumps({"metric": "log_loss", "flights": flights,
                       "comparison": {"log_loss": {"difference": difference, "low": low, "high": high}}})


def _report() -> dict[str, object]:
    def turn(at: str, step: str, version: str | None, outcome: str, reason: str | None = None) -> dict[str, object]:
        return {"at": f"2013-12-{at}:00+00:00", "step": step, "version": version, "outcome": outcome, "reason": reason}

    turns = [turn("01T06:45", "retrain", "2", "version 2", "scheduled"), turn("01T06:45", "stage", "2", "smoke test passed"),
             turn("01T06:45", "challenge", "2", "challenger"), turn("02T03:00", "wait", "2", "not better yet"),
             turn("06T12:00", "refuse", "2", "not better by the interval"), turn("08T00:00", "retrain", "3", "version 3", "drift"),
             turn("08T00:00", "stage", "3", "smoke test passed"), turn("08T00:00", "challenge", "3", "challenger"),
             turn("09T18:00", "promote", "3", "log_loss -0.0071 [-0.0102, -0.0040]")]
    versions = [{"version": "1", "aliases": [], "tags": {"retrain_reason": "manual", "retrained_as_of": "2013-10-01"}},
                {"version": "2", "aliases": [],
                 "tags": {"retrain_reason": "scheduled", "retrained_as_of": "2013-12-01", "staging_smoke": "{}",
                          "shadow_evidence": _evidence(0.0008, -0.0038, 0.0054, 1135)}},
                {"version": "3", "aliases": ["production", "staging"],
                 "tags": {"retrain_reason": "drift", "retrained_as_of": "2013-12-08", "staging_smoke": "{}",
                          "shadow_evidence": _evidence(-0.0071, -0.0102, -0.004, 2210), "promotion": "from the shadow"}}]
    return {"data": "made up for this test", "smoke": True, "replay": "2013-12-01..2013-12-22", "speed": 1200, "loop_every_s": 20,
            "monitor_every_s": 120, "shadow_min_flights": 500, "loop_shadow_days": 5, "production_at_start": "1",
            "production_at_end": "3", "frozen_as_of": "2013-10-01", "traffic": {"flights_asked": 9000, "flights_answered": 9000,
                                                                                "failed_requests": 0},
            "turns": turns, "versions": versions,
            "loop_metrics": {'skyprophet_loop_steps_total{step="promote"}': 1.0, 'skyprophet_loop_steps_total{step="retrain"}': 2.0},
            "service_metrics": {'skyprophet_model_version{alias="production",name="flight-delay"}': 3.0}}


def test_the_loop_page_tells_the_run(tmp_path: Path) -> None:
    page_file = tmp_path / "loop.html"
    page_file.write_text(render(_report()))
    with headless_page(chromium_or_skip()) as (page, errors):
        page.goto(page_file.as_uri())
        assert page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 300)") == [True]
        steps = page.inner_text("table >> nth=0")
        assert steps.count("\n") == 8  # the header and the eight steps that are not waits
        assert "2013-12-08T00:00\tretrain\t3\tdrift" in steps and "not better yet" not in steps
        versions = page.inner_text("table >> nth=1")
        said = "log_loss difference -0.0071 [-0.0102, -0.0040] over 2210 flights"
        assert f"3\tproduction, staging\tdrift\t2013-12-08\tyes\t{said}" in versions
        assert "+0.0008 [-0.0038, +0.0054] over 1135 flights" in versions
        assert 'skyprophet_loop_steps_total{step="promote"}\t1' in page.inner_text("table >> nth=2")
        assert "at the end: version 3" in page.inner_text("body")
        assert errors == []
