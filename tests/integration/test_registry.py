"""Promotion gate and alias loading against a real MLflow store (SQLite backend)."""

from __future__ import annotations

import pytest

from pipelines.model.evaluate import evaluate
from pipelines.model.promote import promote
from skyprophet.core.errors import PromotionRefused
from skyprophet.adapters.tracking import CANDIDATE, PRODUCTION, connect, load_by_alias

pytestmark = pytest.mark.integration


def test_gate_refuses_worse_moves_for_better_and_loader_follows(mlflow_settings, trained_model, shuffled_model) -> None:  # type: ignore[no-untyped-def]
    client = connect(mlflow_settings)
    name = mlflow_settings.model_name
    good, bad = trained_model.version, shuffled_model.version
    assert int(bad) > int(good)

    def alias(a: str) -> str:
        return str(client.get_model_version_by_alias(name, a).version)

    # No production yet: the requested version becomes production without a gate.
    first = promote(mlflow_settings, version=good, client=client)
    assert first.moved and alias(PRODUCTION) == good
    assert alias(CANDIDATE) == bad  # the newest version

    # The shuffled-label model is worse: refused, alias unchanged.
    with pytest.raises(PromotionRefused, match=f"version {bad} is worse"):
        promote(mlflow_settings, version=bad, client=client)
    assert alias(PRODUCTION) == good
    assert load_by_alias(client, name).version == good

    # Forced, it moves; the loader follows the alias.
    forced = promote(mlflow_settings, version=bad, force=True, client=client)
    assert forced.moved and alias(PRODUCTION) == bad
    loaded = load_by_alias(client, name)
    assert (loaded.version, loaded.run_id) == (bad, shuffled_model.run_id)

    # The real model is better than the forced one on the same test split: the gate passes.
    back = promote(mlflow_settings, version=good, client=client)
    assert back.moved and alias(PRODUCTION) == good
    assert back.candidate is not None and back.production is not None
    assert back.candidate["roc_auc"] > back.production["roc_auc"]
    assert back.candidate["roc_auc"] == pytest.approx(trained_model.metrics["test"]["roc_auc"], abs=1e-9)
    loaded = load_by_alias(client, name)
    assert (loaded.version, loaded.run_id, loaded.spec.threshold) == (good, trained_model.run_id, trained_model.spec.threshold)

    # Same version again: nothing to do.
    assert not promote(mlflow_settings, version=good, client=client).moved


def test_evaluate_writes_the_metrics_report(mlflow_settings, trained_model, shuffled_model) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(mlflow_settings, version=trained_model.version)
    report = result.report
    path = mlflow_settings.reports_dir / "model" / "metrics.json"
    assert path.exists()
    assert report["lead_minutes"] == 120
    assert set(report["test"]) == {"roc_auc", "pr_auc", "brier", "precision", "recall", "f1", "threshold"}
    assert report["test"]["roc_auc"] == pytest.approx(trained_model.metrics["test"]["roc_auc"], abs=1e-9)
    assert report["validation"]["f1"] == pytest.approx(trained_model.metrics["validation"]["f1"], abs=1e-9)
    assert report["baseline"]["test"]["roc_auc"] == pytest.approx(trained_model.metrics["baseline_test"]["roc_auc"], abs=1e-9)
    assert report["rows"] == trained_model.rows
    # one entry per lead (minutes), each as training logged it for that lead
    assert sorted(map(int, report["by_lead"]), reverse=True) == trained_model.spec.leads
    for lead, m in report["by_lead"].items():
        assert set(m) >= {"roc_auc", "pr_auc", "brier", "f1"}
        assert m["roc_auc"] == pytest.approx(trained_model.by_lead["test"][int(lead)]["roc_auc"], abs=1e-9)
        assert m["brier"] == pytest.approx(trained_model.by_lead["test"][int(lead)]["brier"], abs=1e-9)
    assert report["by_lead"]["120"]["roc_auc"] == pytest.approx(report["test"]["roc_auc"], abs=1e-12)
    assert (mlflow_settings.reports_dir / "model" / "plots" / "by_lead.png").exists()
    assert f"model v{trained_model.version}" in result.table
