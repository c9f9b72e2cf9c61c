"""The batch and live jobs, grouped by workflow; each stage is a function named by its verb.

- ``pipelines.features``: source tables in, feature tables and the feature store out (ingest,
  build, apply and materialize, training sets, point-in-time retrieval);
- ``pipelines.model``: train, evaluate, promote and score, with what they share (parameters,
  quality measures, re-scoring of registered versions);
- ``pipelines.monitoring``: the monitoring report and the drift measures behind it;
- ``pipelines.live``: the replay clock, the stream processor and the window state it keeps.

``monitoring`` and ``live`` may use ``model`` and ``features``; ``model`` may use ``features``;
``features`` uses neither (import-linter contracts in ``make lint``).
"""

import skyprophet  # noqa: F401 - first: Feast loads without typeguard's run-time checks (skyprophet/core/imports.py)
