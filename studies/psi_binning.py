"""Why the monitor computes PSI itself: Evidently's PSI against PSI over the reference's deciles.

Two halves of the same random sample of January-September flights (the current feature service,
point in time at T = scheduled - 2 h) are compared, first as they are (no drift: both should be
near 0), then with one input of the second half shifted by an amount an operations team would
want flagged. PSI's bands (0.1 watch, 0.25 act) were set for decile bins; Evidently 0.7 bins a
numeric input with more than 20 values in equal-width Sturges bins over the pooled samples, so on
a heavy-tailed input (delays, backlogs) nearly all rows share a bin and the shift goes unseen.

Writes reports/bench/psi_binning.json. Run: ``.venv/bin/python -m studies.psi_binning``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.smoke import report_path, require
from pipelines.monitoring.drift import numeric_psi
from pipelines.monitoring.stats import sample_flights
from skyprophet.core.months import Window
from pipelines.features.retrieval import historical_features
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.store import open_store
from skyprophet.core.config import FEATURE_SERVICE, get_settings
from skyprophet.core.keys import entity_frame

SHIFTS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "none (same period)": ("origin_ops__wx_temp", lambda x: x),
    "previous leg's delay +10 min": ("plane_recent__prev_dep_delay", lambda x: x + 10),
    "origin's mean delay (2 h) +10 min": ("origin_ops__mean_delay_2h", lambda x: x + 10),
    "late backlog (3 h) +2 flights": ("origin_ops__late_backlog_3h", lambda x: x + 2),
    "wind speed +5 mph": ("origin_ops__wx_wind_speed", lambda x: x + 5),
}


def evidently_psi(reference: np.ndarray, window: np.ndarray) -> float:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    d = DataDefinition(numerical_columns=["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snap = Report([ValueDrift(column="x", method="psi")]).run(Dataset.from_pandas(pd.DataFrame({"x": window}), data_definition=d),
                                                                  Dataset.from_pandas(pd.DataFrame({"x": reference}), data_definition=d))
    return float(snap.dict()["metrics"][0]["value"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4,000 flights instead of 40,000 (make bench-smoke)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    store = open_store(settings, online="sqlite")
    n = 4_000 if args.smoke else 40_000
    flights = sample_flights(read_canonical(settings.canonical_path), Window("reference", "2013-01", "2013-09"), n, seed=7)
    rows = historical_features(store, entity_frame(flights, 120), FEATURE_SERVICE)
    half = len(rows) // 2
    ref, cur = rows.iloc[:half], rows.iloc[half:]
    out = []
    print(f"{'shift':36} {'input':32} {'Evidently':>10} {'deciles':>10}")  # noqa: T201 - the benchmark's output
    for label, (name, shift) in SHIFTS.items():
        a = ref[name].to_numpy(dtype=np.float64, na_value=np.nan)
        b = shift(cur[name].to_numpy(dtype=np.float64, na_value=np.nan))
        row = {"shift": label, "input": name, "evidently_psi": evidently_psi(a[~np.isnan(a)], b[~np.isnan(b)]),
               "decile_psi": numeric_psi(a, b)}
        out.append(row)
        print(f"{label:36} {name:32} {row['evidently_psi']:10.4f} {row['decile_psi']:10.4f}")  # noqa: T201 - the benchmark's output
    path = report_path("psi_binning", args.smoke)
    report = {"smoke": args.smoke, "rows_per_side": half, "lead_minutes": 120, "cases": out}
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")  # noqa: T201 - the benchmark's output
    require("psi_binning", report, [f"cases.{i}.{k}" for i in range(len(SHIFTS)) for k in ("evidently_psi", "decile_psi")])


if __name__ == "__main__":
    main()
