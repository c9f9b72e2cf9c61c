"""Classification metrics, threshold choice and the plots logged with every model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS = ("roc_auc", "pr_auc", "brier", "precision", "recall", "f1", "threshold")


def f1_optimal_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold that maximises F1 on ``(y, p)`` (predict delayed when p >= t)."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0)
    return float(thresholds[int(np.argmax(f1))])


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, and precision / recall / F1 at ``threshold``."""
    y = np.asarray(y).astype(int)
    pred = np.asarray(p) >= threshold
    tp = int((pred & (y == 1)).sum())
    precision = tp / int(pred.sum()) if pred.any() else 0.0
    recall = tp / int((y == 1).sum()) if (y == 1).any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "threshold": float(threshold),
    }


def curve_tables(y: np.ndarray, p: np.ndarray, points: int = 200, bins: int = 15) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall and calibration curves as tables, each thinned to about ``points`` rows."""
    from sklearn.calibration import calibration_curve

    def thin(df: pd.DataFrame) -> pd.DataFrame:
        keep = np.unique(np.linspace(0, len(df) - 1, min(points, len(df))).round().astype(int))
        return df.iloc[keep].reset_index(drop=True)

    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    return {
        "roc": thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "pr": thin(pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})),
        "calibration": pd.DataFrame({"mean_predicted": predicted, "observed_share": observed}),
    }


def _figure() -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(5.5, 4.5), dpi=100)


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """ROC curves by name from ``{name: (y, p)}``."""
    fig = _figure()
    ax = fig.subplots()
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    return fig


def pr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Precision-recall curves by name."""
    fig = _figure()
    ax = fig.subplots()
    for name, (y, p) in curves.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, p):.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="upper right")
    return fig


def calibration_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], bins: int = 15) -> Figure:
    """Reliability diagram: mean predicted probability against observed frequency, by quantile bin."""
    from sklearn.calibration import calibration_curve

    fig = _figure()
    ax = fig.subplots()
    for name, (y, p) in curves.items():
        frac, mean = calibration_curve(y, p, n_bins=bins, strategy="quantile")
        ax.plot(mean, frac, "o-", ms=3, label=f"{name} (Brier {brier_score_loss(y, p):.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="mean predicted probability", ylabel="observed delayed share", title="Calibration")
    ax.legend(loc="upper left")
    return fig


def importance_figure(names: list[str], gains: np.ndarray, top: int = 25) -> Figure:
    """Horizontal bars of the ``top`` features by total gain."""
    order = np.argsort(gains)[::-1][:top][::-1]
    fig = _figure()
    fig.set_size_inches(7, 0.25 * len(order) + 1.2)
    ax = fig.subplots()
    total = float(np.sum(gains)) or 1.0
    ax.barh([names[i] for i in order], np.asarray(gains)[order] / total)
    ax.set(xlabel="share of total gain", title="Feature importance (gain)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


BY_LEAD_METRICS = ("roc_auc", "pr_auc", "brier", "f1")


def by_lead_figure(by_lead: dict[str, dict[int, dict[str, float]]]) -> Figure:
    """ROC AUC, PR AUC and Brier score against the lead, one line per split (``{split: {lead: metrics}}``)."""
    fig = _figure()
    fig.set_size_inches(10, 3.4)
    axes = fig.subplots(1, 3)
    for ax, metric, label in zip(axes, ("roc_auc", "pr_auc", "brier"), ("ROC AUC", "PR AUC", "Brier (lower is better)"), strict=True):
        for split, table in by_lead.items():
            leads = sorted(table)
            ax.plot([k / 60 for k in leads], [table[k][metric] for k in leads], "o-", ms=4, label=split)
        ax.set(xscale="log", xlabel="lead (hours before scheduled departure)", title=label)
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    return fig


def by_lead_table(by_lead: dict[int, dict[str, float]]) -> str:
    """A text table of metrics by lead (longest lead first)."""
    head = f"{'lead':>8}" + "".join(f"{m:>10}" for m in BY_LEAD_METRICS)
    lines = [head, "-" * len(head)]
    for lead in sorted(by_lead, reverse=True):
        m = by_lead[lead]
        label = f"{lead // 60} h" if lead % 60 == 0 else f"{lead} min"
        lines.append(f"{label:>8}" + "".join(f"{m[k]:>10.4f}" for k in BY_LEAD_METRICS))
    return "\n".join(lines)
