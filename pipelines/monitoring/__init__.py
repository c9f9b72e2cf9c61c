"""Monitoring: the report of a scored window against the training months (``report.monitor``)
and the drift measures it uses (``drift``: PSI, the adversarial validator, Evidently's tests)."""
