"""Source tables -> validated raw data -> feature tables -> the feature store, and the
point-in-time training sets read from it.

Stages: ``ingest.ingest`` (source tables -> ``data/raw``, rejects kept), ``build.build``
(``data/raw`` + the live log -> ``data/processed``), ``store.apply`` / ``store.materialize`` /
``store.demo``. Shared: ``training_set`` (labelled flights -> entity rows at T -> the feature
service), ``retrieval`` (chunked historical retrieval, one row per entity row).
"""
