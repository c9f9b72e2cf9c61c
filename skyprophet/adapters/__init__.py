"""The adapters layer: the outside world behind small interfaces.

Feast store construction (``store``), the online reader in Feast's Redis layout (``online``),
the MLflow registry (``tracking``), parquet I/O (``parquet``) and console progress
(``progress``). Built on the core and the Feast definitions; used by pipelines and serving.
"""
