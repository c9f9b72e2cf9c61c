"""Published feature services stay as published; the current one is the one training reads."""

from __future__ import annotations

from pathlib import Path

import yaml
from feast import FeatureService

from feature_repo.definitions import objects
from skyprophet.core.config import FEATURE_SERVICE, PARAMS_FILE
from skyprophet.core.features import model_feature_names

# The definitions need no data: sources only name their files.
_SERVICES = {o.name: o for o in objects(Path("/nonexistent/processed"), 15) if isinstance(o, FeatureService)}
flight_delay_v1, flight_delay_v1_online = _SERVICES["flight_delay_v1"], _SERVICES["flight_delay_v1_online"]
flight_delay_v2, flight_delay_v2_online = _SERVICES["flight_delay_v2"], _SERVICES["flight_delay_v2_online"]
flight_delay_v3, flight_delay_v3_online = _SERVICES["flight_delay_v3"], _SERVICES["flight_delay_v3_online"]
flight_delay_v4, flight_delay_v4_online = _SERVICES["flight_delay_v4"], _SERVICES["flight_delay_v4_online"]
flight_delay_v5, flight_delay_v5_online = _SERVICES["flight_delay_v5"], _SERVICES["flight_delay_v5_online"]

V2_ADDED = {
    "airline_stats__deps_3h", "airline_stats__delayed_share_3h", "airline_stats__mean_delay_3h",
    "carrier_origin_recent__deps_2h", "carrier_origin_recent__delayed_share_2h", "carrier_origin_recent__mean_delay_2h",
    "route_static__distance",
}


def test_params_name_the_current_service() -> None:
    assert yaml.safe_load(PARAMS_FILE.read_text())["feature_service"] == FEATURE_SERVICE == flight_delay_v3.name


def test_v1_keeps_its_43_inputs_and_v2_adds_seven() -> None:
    v1, v2 = model_feature_names(flight_delay_v1), model_feature_names(flight_delay_v2)
    assert len(v1) == len(set(v1)) == 43
    assert not any(n.endswith("_3h") and n.startswith("airline_stats") for n in v1)
    assert set(v2) - set(v1) == V2_ADDED and set(v1) < set(v2)
    assert [n for n in v2 if n in set(v1)] == v1  # v1's inputs keep their order in v2


def test_v3_is_v2_with_the_lead_and_the_same_request_features() -> None:
    v2, v3 = model_feature_names(flight_delay_v2), model_feature_names(flight_delay_v3)
    renamed = [n.replace("flight_calendar__", "flight_timing__") for n in v2]
    assert v3 == [*renamed, "flight_timing__lead_minutes"]


def test_v4_is_v3_with_the_plane_age_in_place_of_the_build_year() -> None:
    v3, v4 = model_feature_names(flight_delay_v3), model_feature_names(flight_delay_v4)
    expected = [n.replace("flight_timing__", "flight_context__") for n in v3 if n != "plane_static__year_built"]
    assert v4 == [*expected, "flight_context__plane_age_years"]
    # online, the on-demand view's inputs are read: the previous departure and the build year
    online = set(model_feature_names(flight_delay_v4_online))
    assert online - set(v4) == {"plane_recent__prev_dep_ts", "plane_static__year_built"}


def test_v5_is_v4_with_the_inbound_leg() -> None:
    v4, v5 = model_feature_names(flight_delay_v4), model_feature_names(flight_delay_v5)
    inbound = ["inbound_departed", "inbound_dep_delay", "inbound_arrived", "inbound_arr_delay", "inbound_sched_turn", "inbound_slack"]
    assert [n for n in v5 if not n.startswith("inbound_leg__")] == v4
    assert sorted(set(v5) - set(v4)) == sorted(f"inbound_leg__{c}" for c in inbound)


def test_the_repo_publishes_exactly_these_services() -> None:
    assert sorted(_SERVICES) == ["flight_delay_v1", "flight_delay_v1_online", "flight_delay_v2", "flight_delay_v2_online",
                                 "flight_delay_v3", "flight_delay_v3_online", "flight_delay_v4", "flight_delay_v4_online",
                                 "flight_delay_v5", "flight_delay_v5_online"]


def test_online_services_add_only_the_request_features_inputs() -> None:
    pairs = ((flight_delay_v1, flight_delay_v1_online), (flight_delay_v2, flight_delay_v2_online),
             (flight_delay_v3, flight_delay_v3_online), (flight_delay_v4, flight_delay_v4_online),
             (flight_delay_v5, flight_delay_v5_online))
    for service, online in pairs:
        request = ("flight_calendar__", "flight_timing__", "flight_context__")
        served = {n for n in model_feature_names(service) if not n.startswith(request)}
        inputs = {"plane_recent__prev_dep_ts"} | ({"plane_static__year_built"} if service in (flight_delay_v4, flight_delay_v5) else set())
        assert set(model_feature_names(online)) - served == inputs


def test_definitions_are_made_afresh_for_each_folder(tmp_path: Path) -> None:
    # Feast's on-demand decorator moves its function to __main__: a second repo in the same
    # process (tests, benchmarks, a second data folder) must still find the UDF's source.
    again = objects(tmp_path / "processed", 30)
    odfv = next(o for o in again if o.name == "flight_calendar")
    assert odfv.feature_transformation.udf_string.startswith("def flight_calendar(")
    timing = next(o for o in again if o.name == "flight_timing")
    assert timing.feature_transformation.udf_string.startswith("def flight_timing(")
    context = next(o for o in again if o.name == "flight_context")  # the same function, given the build year too
    assert context.feature_transformation.udf_string.startswith("def flight_timing(")
    views = {o.name: o for o in again if type(o).__name__ == "FeatureView"}
    assert views["airline_stats"].ttl.total_seconds() == 31 * 60  # this grid step, not the first one's
    assert views["airline_stats"].batch_source.path == str((tmp_path / "processed" / "airline_stats.parquet").resolve())


def test_each_published_service_logs_what_is_served_beside_the_data(tmp_path: Path) -> None:
    again = {o.name: o for o in objects(tmp_path / "processed", 15) if isinstance(o, FeatureService)}
    for name, service in again.items():
        if name.endswith("_online"):
            assert service.logging_config is None, name  # the reader's twin is not served
        else:
            assert service.logging_config is not None, name
            assert service.logging_config.destination.path == str((tmp_path / "prediction_log" / name).resolve())
