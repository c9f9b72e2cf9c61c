"""Models: train on point-in-time training sets, evaluate, promote behind a gate, score in batch.

Stages: ``train.train``, ``evaluate.evaluate``, ``promote.promote``, ``score.score_day``. Shared:
``params`` (params.yaml), ``quality`` (metrics, threshold, plots), ``rescoring`` (registered
versions re-scored on the same flights).
"""
