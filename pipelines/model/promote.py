"""Move the ``production`` alias to a registered version, behind a quality gate.

The candidate (default: the newest version) replaces production only if its test ROC AUC and
PR AUC are at least production's, both models scored from their registered artifacts on the
same test window (the candidate's). ``--force`` overrides a refusal. The ``candidate`` alias is
kept on the newest version. With no production model yet, the candidate is promoted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.model.params import load_params
from pipelines.model.rescoring import Scorer, resolve_version, run_windows
from skyprophet.adapters.tracking import CANDIDATE, CHALLENGER, PRODUCTION, alias_version, connect, latest_version
from skyprophet.core.config import Settings
from skyprophet.core.errors import ModelNotFound, PromotionRefused

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
GATED = ("roc_auc", "pr_auc")


@dataclass
class Promotion:
    version: str
    previous: str | None
    moved: bool
    message: str
    candidate: dict[str, float] | None = None
    production: dict[str, float] | None = None


def promote(
    settings: Settings,
    version: str | None = None,
    force: bool = False,
    client: MlflowClient | None = None,
) -> Promotion:
    """Gate ``version`` (default: newest) against production and move the alias if it passes.

    Args:
        settings: tracking URI and model name.
        version: the version to promote.
        force: move the alias even when the gate refuses.
        client: an MLflow client (default: connected from settings).

    Returns:
        What was decided, with both models' test metrics when they were compared.

    Raises:
        PromotionRefused: the candidate is worse and ``force`` is off (the alias is unchanged).
        ModelNotFound: nothing is registered, or ``version`` does not exist.
    """
    client = client or connect(settings)
    name = settings.model_name
    newest = latest_version(client, name)
    if newest is None:
        raise ModelNotFound(f"no version of {name} is registered: run `make train` first")
    client.set_registered_model_alias(name, CANDIDATE, newest)
    version = resolve_version(client, name, version or newest)
    current = alias_version(client, name, PRODUCTION)
    if current == version:
        return Promotion(version, current, False, f"{name} version {version} is already {PRODUCTION}")
    if current is None:
        _move(client, name, version, "first production model")
        return Promotion(version, None, True, f"{name}@{PRODUCTION} -> version {version} (no production model before)")

    scorer = Scorer(settings, client)
    cand_model = scorer.load(version)
    default = load_params(settings).windows_named("test")
    test = [w for w in run_windows(client, cand_model.run_id, default) if w.name == "test"]
    cand = scorer.score(cand_model, test)["test"]
    prod = scorer.score(scorer.load(current), test)["test"]
    worse = [m for m in GATED if cand[m] < prod[m]]
    summary = ", ".join(f"{m} {cand[m]:.4f} vs {prod[m]:.4f}" for m in GATED)
    if worse and not force:
        raise PromotionRefused(
            f"version {version} is worse than {PRODUCTION} version {current} on test {test[0]} "
            f"({summary}); {PRODUCTION} is unchanged (use --force to promote anyway)"
        )
    reason = f"forced over the gate ({summary})" if worse else f"passed the gate ({summary})"
    _move(client, name, version, reason)
    return Promotion(version, current, True, f"{name}@{PRODUCTION}: version {current} -> {version}, {reason}", cand, prod)


def _move(client: MlflowClient, name: str, version: str, reason: str) -> None:
    client.set_registered_model_alias(name, PRODUCTION, version)
    client.set_model_version_tag(name, version, "promotion", reason)



def challenge(settings: Settings, version: str | None = None, client: MlflowClient | None = None) -> str:
    """Point the ``challenger`` alias at ``version`` (default: the candidate): every service scores
    it in the shadow from its next alias check. Returns the version.

    Raises:
        ModelNotFound: no such version, or no candidate.
    """
    client = client or connect(settings)
    name = settings.model_name
    chosen = version or alias_version(client, name, CANDIDATE)
    if chosen is None:
        raise ModelNotFound(f"no version of {name} is the {CANDIDATE}: train one, or name it with --version")
    chosen = resolve_version(client, name, chosen)
    client.set_registered_model_alias(name, CHALLENGER, chosen)
    return chosen


def production_version(settings: Settings, client: MlflowClient | None = None) -> str | None:
    """The version the production alias names, None when there is none."""
    return alias_version(client or connect(settings), settings.model_name, PRODUCTION)
