"""Online feature reads with the same maximum-age rule as offline retrieval.

Feast ignores a view's ttl online, while its offline join keeps a value only when
``T - ttl <= event_ts <= T``. This module reads the feature service's views online, applies
exactly that rule for the prediction time T of each flight, and computes the request-time
features with the on-demand view's own function after the rule, so that a stale input is null
in both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyprophet.adapters.parquet import airport_countries
from skyprophet.adapters.redis.reader import RedisReader
from skyprophet.core.config import FEATURE_SERVICE
from skyprophet.core.features import ONLINE_SUFFIX, SEP, FlightFeatures, ViewRows, projection_names, model_feature_names
from skyprophet.core.keys import FlightKeys, as_of_day_of
from skyprophet.core.transforms import request_features

if TYPE_CHECKING:
    import redis
    from feast import FeatureStore


def _day_of(t_s: Sequence[int]) -> list[str]:
    """``as_of_day_of`` for each instant, computed once per distinct UTC day."""
    days: dict[int, str] = {}
    out = []
    for t in t_s:
        d = days.get(t // 86_400)
        if d is None:
            d = days[t // 86_400] = as_of_day_of(t)
        out.append(d)
    return out


def _input_index(names: list[str], feature: str) -> int:
    """Where ``feature`` (an input of the request features) sits among the read views' features."""
    found = next((i for i, n in enumerate(names) if n.endswith(f"{SEP}{feature}")), None)
    if found is None:
        raise ValueError(f"the request features need the views' {feature}")
    return found


def _floats(values: list[Any]) -> np.ndarray:
    """Stored values as floats, NaN where unknown."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


class OnlineFeatures:
    """Reads a feature service online as of each flight's prediction time.

    Reads go through Feast's ``get_online_features`` unless a Redis client is given, in which
    case a ``RedisReader`` reads the same keys in one round trip.
    """

    def __init__(
        self,
        store: FeatureStore,
        service_name: str = FEATURE_SERVICE,
        lead_minutes: int = 120,
        redis_client: redis.Redis | None = None,
        countries: Mapping[str, str] | None = None,
    ):
        self.store = store
        # the origin's country, whose holidays count: from the airports ingest wrote beside the registry
        self.countries = countries if countries is not None else airport_countries(Path(store.config.registry.path).parent / "raw")
        self.service = store.get_feature_service(service_name)
        self.lead_s = lead_minutes * 60
        self.feature_names = model_feature_names(self.service)
        odfv_names = {o.name for o in store.list_on_demand_feature_views()}
        odfv = [p for p in self.service.feature_view_projections if p.name in odfv_names]
        if len(odfv) > 1:
            raise ValueError("one on-demand view (request features) is supported")
        # Registered by feature_repo, derived from the service: its views + on-demand inputs.
        self._inputs = store.get_feature_service(f"{service_name}{ONLINE_SUFFIX}")
        # per input view, in the service's order: its features' full names and its maximum age
        # in seconds (None: no limit)
        self._view_names = [projection_names(p) for p in self._inputs.feature_view_projections]
        self.views = [p.name_to_use() for p in self._inputs.feature_view_projections]
        self._ttl_s: list[float | None] = []
        for p in self._inputs.feature_view_projections:
            ttl = store.get_feature_view(p.name).ttl
            self._ttl_s.append(ttl.total_seconds() if ttl else None)
        names = [n for view in self._view_names for n in view]
        # A flight's values are assembled as one list: the input views' features in order, then
        # the request features; ``_pick`` takes the model's inputs from it, in their order.
        self._request: list[tuple[str, str]] = []  # (full name, key of request_features' output)
        self._prev_dep: int | None = None  # the plane view's prev_dep_ts, the request features' input
        self._year_built: int | None = None  # plane_static's year_built, where the request features need it
        if odfv:
            self._request = [(n, n.split(SEP, 1)[1]) for n in projection_names(odfv[0])]
            self._prev_dep = _input_index(names, "prev_dep_ts")
            if any(key == "plane_age_years" for _, key in self._request):
                self._year_built = _input_index(names, "year_built")
        position = {n: i for i, n in enumerate(names + [n for n, _ in self._request])}
        self._pick = [position[n] for n in self.feature_names]
        self._model_names = set(self.feature_names)
        self._nones = [[None] * len(v) for v in self._view_names]
        self._redis = RedisReader(store, self._inputs, redis_client) if redis_client else None

    def _feast_fetch(self, rows: list[dict[str, Any]]) -> list[ViewRows]:
        resp = self.store.get_online_features(
            features=self._inputs, entity_rows=rows, full_feature_names=True
        ).to_dict(include_event_timestamps=True)
        out = []
        for names in self._view_names:
            # A view's features are written together, so they share one event timestamp.
            out.append(ViewRows(names, [list(v) for v in zip(*(resp[n] for n in names), strict=True)],
                                [int(s) for s in resp[names[0] + "__ts"]]))
        return out

    def _views_at(self, flights: Sequence[FlightKeys], t_s: list[int]) -> list[ViewRows]:
        days = _day_of(t_s)
        if self._redis is not None:
            return self._redis.fetch_flights(flights, days)[1]
        return self._feast_fetch([f.entity_row_of_day(d) for f, d in zip(flights, days, strict=True)])

    def read(self, flights: Sequence[FlightKeys], as_of: Sequence[datetime] | None = None) -> list[FlightFeatures]:
        """Online values for ``flights`` as of ``as_of`` (default: scheduled departure - lead)."""
        if as_of is None:
            t_s = [f.sched_dep_epoch_s - self.lead_s for f in flights]
        else:
            t_s = [int(t.timestamp()) for t in as_of]
        return self.assemble(flights, t_s, self._views_at(flights, t_s))

    def read_now(
        self, flights: Sequence[FlightKeys], guess_s: int, prelude: Sequence[bytes], now_of: Callable[[list[Any]], int | None]
    ) -> tuple[list[Any], int | None, list[FlightFeatures]]:
        """Every flight as of an instant that a read itself reveals (a live clock), in one round
        trip: the ``prelude`` commands and the views at ``guess_s``'s day go together, and
        ``now_of`` takes the instant from the prelude's replies. The stored rows do not depend on
        the instant, only their key's day does: when the instant falls on another day than the
        guess, the views are read again at its day. Returns the prelude's replies, the instant
        (None: no features read) and the features as of it.
        """
        if self._redis is None:
            raise ValueError("reading as of a live instant needs the direct Redis reader")
        replies, views = self._redis.fetch_flights(flights, [as_of_day_of(guess_s)] * len(flights), prelude)
        now_s = now_of(replies)
        if now_s is None:
            return replies, None, []
        t_s = [now_s] * len(flights)
        if now_s // 86_400 != guess_s // 86_400:  # another UTC day: other keys
            views = self._views_at(flights, t_s)
        return replies, now_s, self.assemble(flights, t_s, views)

    def assemble(self, flights: Sequence[FlightKeys], t_s: Sequence[int], views: list[ViewRows]) -> list[FlightFeatures]:
        """Each flight's values as of its instant: the maximum-age rule on the stored rows, then the
        request features, in the model's order."""
        out = []
        flat: list[list[Any]] = []
        meta = list(zip(self.views, views, self._ttl_s, self._nones, strict=True))
        model_names = self._model_names
        for i, t in enumerate(t_s):
            chunks = []
            stale: list[str] = []
            ages: dict[str, int | None] = {}
            stamps: dict[str, int] = {}
            for label, view, ttl_s, nones in meta:
                vals, ts = view.values[i], view.stamps[i]
                stamps[label] = ts
                if ttl_s is not None:  # reference data (no ttl) has no age that matters
                    ages[label] = t - ts if ts else None
                if ts <= t and (ttl_s is None or ts >= t - ttl_s):
                    chunks.append(vals)
                else:  # older than the maximum age (or later than T): null, and stale where a value was
                    chunks.append(nones)
                    stale.extend(n for n, v in zip(view.names, vals, strict=True) if v is not None and n in model_names)
            flat.append(list(chain.from_iterable(chunks)))
            out.append(FlightFeatures(values={}, stale=stale, ages=ages, stamps=stamps))
        if self._request:
            self._request_features(flights, t_s, flat)
        names, pick = self.feature_names, itemgetter(*self._pick)
        for ff, row in zip(out, flat, strict=True):
            values = pick(row) if len(names) > 1 else [row[self._pick[0]]]
            ff.values = dict(zip(names, values, strict=True))
            ff.missing = [n for n, v in zip(names, values, strict=True) if v is None]
        return out

    def _request_features(self, flights: Sequence[FlightKeys], t_s: Sequence[int], flat: list[list[Any]]) -> None:
        assert self._prev_dep is not None
        prev = [row[self._prev_dep] for row in flat]
        feats = request_features(
            np.array([f.sched_dep_epoch_s for f in flights], dtype=np.int64),
            np.array([f.utc_offset_min for f in flights], dtype=np.int64),
            _floats(prev),
            np.array(t_s, dtype=np.int64),  # the lead, for services whose on-demand view has it
            country=np.array([f.country or self.countries.get(f.origin, "") for f in flights], dtype=object),
            year_built=None if self._year_built is None else _floats([row[self._year_built] for row in flat]),
        )
        columns = [[None if v != v else v for v in feats[key].tolist()] for _, key in self._request]  # NaN: unknown
        for i, row in enumerate(flat):
            row.extend(col[i] for col in columns)
