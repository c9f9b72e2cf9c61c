"""Model-selection studies: the evidence behind ``params.yaml`` and the monitor's choices, each
scored on the validation months only (never on the test months). Apart from ``benchmarks/``,
which measures speed and memory beside the peer to beat."""

import skyprophet  # noqa: F401 - first: Feast loads without typeguard's run-time checks (skyprophet/core/imports.py)
