"""The backtest's month table, verdicts and page on made-up scores whose answer is known: a regime
that sees the label is better than one that does not in every month it scores, and the page shows
it in a real browser (plots drawn, verdicts in words)."""

from __future__ import annotations

from datetime import date

import numpy as np

from benchmarks.backtest_page import render
from benchmarks.bench_backtest import Year, month_table, verdicts
from tests.browser import chromium_or_skip, headless_page


def _year(flights_a_day: int = 40) -> Year:
    days = np.arange(np.datetime64("2013-09-01"), np.datetime64("2014-01-01"))
    day = np.repeat(days, flights_a_day * 2)  # two leads a flight
    n = len(day)
    rng = np.random.default_rng(0)
    y = np.repeat(rng.random(n // 2) < 0.2, 2).astype(int)
    return Year(None, day, day.astype("datetime64[s]"), np.ones(n, bool), y, np.repeat(np.arange(n // 2), 2),
                np.tile([120, 30], n // 2), date(2013, 9, 1))


def test_a_regime_that_sees_more_is_better_in_every_month_and_the_page_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    year = _year()
    rng = np.random.default_rng(1)
    n = len(year.y)
    noise = rng.random(n)
    later = np.flatnonzero(year.day >= np.datetime64("2013-10-01"))
    sharp = np.clip(0.6 * year.y + 0.4 * noise, 0.01, 0.99)  # sees the label
    blunt = np.clip(0.2 + 0.05 * noise, 0.01, 0.99)  # does not
    regimes = {"monthly": (later, blunt[later]), "weekly": (np.arange(n), sharp), "frozen": (later, blunt[later])}
    months = month_table(year, regimes, 120, smoke=True)

    assert list(months) == ["2013-09", "2013-10", "2013-11", "2013-12"]
    assert "monthly" not in months["2013-09"] and months["2013-09"]["compared"] == {}  # weekly alone scored September
    assert set(months["2013-11"]["compared"]) == {"monthly - frozen", "weekly - frozen", "weekly - monthly"}
    told = verdicts(months)
    for metric in ("roc_auc", "brier", "log_loss"):
        assert told["weekly - frozen"]["lead_120"][metric]["better"] == ["2013-10", "2013-11", "2013-12"]
        assert told["monthly - frozen"]["all_leads"][metric]["no_difference"] == ["2013-10", "2013-11", "2013-12"]  # the same scores
    assert months["2013-12"]["flights"] == 31 * 40

    report = {"data": "made up for this test", "smoke": True, "frozen_as_of": "2013-10-01", "months": months, "verdicts": told,
              "year_rows": n, "year_retrieval_seconds": 1.0,
              "cost": {"weekly": {"retrainings": 17, "fit_seconds_median": 1.0, "fit_seconds_total": 17.0, "train_rows_median": 10}},
              "alerts": _alerts()}
    page_file = tmp_path / "backtest.html"
    page_file.write_text(render(report))
    with headless_page(chromium_or_skip()) as (page, errors):
        page.goto(page_file.as_uri())
        drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 300)")
        assert drawn == [True] * 5, drawn
        text = page.inner_text("body")
        assert "weekly beside frozen, 2 h before departure, ROC AUC: better in 3 (2013-10, 2013-11, 2013-12) month(s)" in text
        assert "17" in page.inner_text("table >> nth=1")
        # the alerts: a log-loss rise above 0.05 told every paid week in calibration and stayed quiet otherwise
        alerts = page.inner_text("table >> nth=2")
        rise = "log loss rise on the last week against the four before"
        assert f"calibration (6 decisions, 3 paid)\trecent\t{rise}\t0.05\t3\t3\t0\t0" in alerts
        assert "test (2 decisions, 1 paid)\tstanding\tany of them\t—\t2\t1\t1\t0" in alerts
        assert errors == []


def _alerts() -> dict[str, object]:
    """Made-up weekly decisions: the log loss rose by 0.08 in the weeks retraining paid, by 0.02 in
    the others; the standing checks fired every week (as the adversarial validator does)."""
    from benchmarks.backtest_alerts import CALIBRATE_BEFORE
    from pipelines.monitoring.alerts import RECENT_CHECKS, calibrate, tally

    days = ["2013-09-06", "2013-09-13", "2013-09-20", "2013-09-27", "2013-10-04", "2013-10-11", "2013-11-01", "2013-11-08"]
    paid = [True, False, True, False, True, False, True, False]
    decisions = [{"day": d, "paid": p, "recent": {"log_loss_rise": 0.08 if p else 0.02, "calibration_gap": 0.01, "prediction_psi": 0.05},
                  "standing": {"input_psi": 3.0, "adversarial_auc": 0.99, "prediction_psi": 0.3, "brier": 0.14}}
                 for d, p in zip(days, paid, strict=True)]
    parts = {"calibration": decisions[:6], "test": decisions[6:]}
    recent = calibrate([d["recent"] for d in parts["calibration"]], paid[:6], RECENT_CHECKS)  # type: ignore[misc]
    standing = {"input_psi": 0.25, "adversarial_auc": 0.6, "prediction_psi": 0.25, "brier": 0.16}
    assert recent == {"log_loss_rise": 0.05, "calibration_gap": None, "prediction_psi": None}
    counts = {k: {"decisions": len(ds), "paid": sum(d["paid"] for d in ds),  # type: ignore[misc]
                  "recent": tally([d["recent"] for d in ds], [d["paid"] for d in ds], recent),  # type: ignore[misc]
                  "standing": tally([d["standing"] for d in ds], [d["paid"] for d in ds], standing)}  # type: ignore[misc]
              for k, ds in parts.items()}
    return {"production_age_days": 28, "window_days": 7, "recent_weeks": 4, "calibrated_before": CALIBRATE_BEFORE.isoformat(),
            "thresholds": {"recent": recent, "standing": standing}, "counts": counts, "decisions": decisions}
