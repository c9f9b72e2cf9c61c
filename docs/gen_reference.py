"""The documentation's reference pages, generated from the code on every ``mkdocs build``.

Run by the ``gen-files`` plugin (``mkdocs.yml``); the pages never exist in the repository, so they
cannot be edited by hand or go stale: the CLI from the typer app, the settings from the settings
classes, the HTTP API from the OpenAPI document of a production server, the feature catalogue
from the Feast definitions, the Prometheus metrics from the service's registry, the monitoring
report from its typed contract and ``params.yaml`` as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATED = "<!-- generated from the code by docs/gen_reference.py on every build: do not edit -->\n\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")


def _prose(text: str) -> str:
    """``text`` with ``<`` and ``>`` outside code spans escaped (help texts say ``<name>``)."""
    parts = text.split("`")
    return "`".join(p.replace("<", "&lt;").replace(">", "&gt;") if i % 2 == 0 else p for i, p in enumerate(parts))


def _cell(text: Any) -> str:
    flat = " ".join(str(text).split())
    return flat if flat.startswith("<code>") else _prose(flat.replace("|", "\\|"))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# ---- the command line -------------------------------------------------------------------------

def commands() -> Iterator[tuple[list[str], Any, Any]]:
    """Every command of ``skyprophet`` (groups included) as (path, click command, context)."""
    from typer.main import get_command

    from skyprophet.cli.app import app

    root = get_command(app)
    ctx_type = type(root.make_context("skyprophet", ["--help"], resilient_parsing=True))

    def walk(cmd: Any, path: list[str], parent: Any) -> Iterator[tuple[list[str], Any, Any]]:
        ctx = ctx_type(cmd, info_name=path[-1], parent=parent)
        yield path, cmd, ctx
        for name in getattr(cmd, "list_commands", lambda _c: [])(ctx):
            yield from walk(cmd.get_command(ctx, name), [*path, name], ctx)

    yield from walk(root, ["skyprophet"], None)


def cli_page() -> str:
    out = ["# Command line\n\n", GENERATED,
           "Every command of `skyprophet`, with the options its `--help` shows. Options of the root "
           "(`--log-level`, `-v`, `-q`) go before the command: `skyprophet -q features build`.\n\n"]
    for path, cmd, ctx in commands():
        level = "#" * min(len(path) + 1, 4)
        out.append(f"{level} `{' '.join(path)}`\n\n")
        if cmd.help:
            out.append(_prose(cmd.help.strip()) + "\n\n")
        out.append(f"```\n{cmd.get_usage(ctx)}\n```\n\n")
        rows = [list(r) for p in cmd.get_params(ctx) if (r := p.get_help_record(ctx))]
        if rows:  # an option's synopsis in a code span: a | in it stays as it is, in a table cell of its own
            out.append(_table(["option", "meaning"], [[f"<code>{_html(a)}</code>", b] for a, b in rows]) + "\n")
    return "".join(out)


# ---- settings ----------------------------------------------------------------------------------

def _env_name(name: str, field: Any) -> str:
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if alias is not None and getattr(alias, "choices", None):
        return " or ".join(str(c) for c in alias.choices)
    return "SKYPROPHET_" + name.upper()


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        return "from `params.yaml`" if field.default is PydanticUndefined else "(computed)"
    value = field.default
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    text = str(value).replace(str(ROOT), "<checkout>")
    return f"`{text}`"


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
    text = text or str(annotation)
    return re.sub(r"typing\.|pathlib\.|pydantic\.types\.", "", text).replace("PosixPath", "Path")


def settings_page() -> str:
    from serving.config import ServingSettings
    from skyprophet.core.config import Settings

    out = ["# Settings\n\n", GENERATED,
           "Every setting is an environment variable (or a line of `.env`); the pipelines read the first "
           "table, the service both.\n\n"]
    for title, cls, skip in (("Pipelines and service", Settings, set()),
                             ("Service only", ServingSettings, set(Settings.model_fields))):
        rows = [[f"`{_env_name(n, f)}`", f"`{_type(f.annotation)}`", _default(f), f.description or ""]
                for n, f in cls.model_fields.items() if n not in skip]
        out += [f"## {title}\n\n", _table(["variable", "type", "default", "meaning"], rows), "\n"]
    return "".join(out)


# ---- the HTTP API ------------------------------------------------------------------------------

def _schema_type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_schema_type(s, components) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_schema_type(schema.get('items', {}), components)}"
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def http_page() -> str:
    from serving.config import ServingSettings
    from serving.main import create_app

    doc = create_app(ServingSettings(allow_debug=False)).openapi()
    components = doc.get("components", {}).get("schemas", {})
    out = ["# HTTP API\n\n", GENERATED,
           f"{doc['info'].get('summary', '')} Version {doc['info']['version']}. Generated from the OpenAPI document "
           "of a server with production settings (`make serve`); a server with `SKYPROPHET_ALLOW_DEBUG=true` "
           "also takes `debug` and `as_of` in `/predict`'s body. A running server serves the same document at "
           "`/openapi.json` and its pages at `/docs`.\n\n"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            out.append(f"## `{method.upper()} {path}`\n\n")
            text = op.get("description") or op.get("summary") or ""
            if text:
                out.append(text.strip() + "\n\n")
            params = op.get("parameters", [])
            if params:
                out.append(_table(["parameter", "in", "type", "meaning"],
                                  [[f"`{p['name']}`", p["in"], _schema_type(p.get("schema", {}), components),
                                    p.get("description", "")] for p in params]) + "\n")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                name = _schema_type(body, components)
                out.append(f"Body: `{name}`\n\n")
                out.append(_fields(components.get(name, {}), components) + "\n")
            out.append(_table(["status", "meaning"], [[f"`{code}`", r.get("description", "")]
                                                      for code, r in op.get("responses", {}).items()]) + "\n")
    out.append("## Schemas\n\n")
    for name, schema in components.items():
        if schema.get("properties"):
            out += [f"### `{name}`\n\n", _fields(schema, components), "\n"]
    return "".join(out)


def _fields(schema: dict[str, Any], components: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    return _table(["field", "type", "required", "meaning"],
                  [[f"`{n}`", _schema_type(s, components), "yes" if n in required else "", s.get("description", "")]
                   for n, s in schema.get("properties", {}).items()])


# ---- features ----------------------------------------------------------------------------------

def features_page() -> str:
    from feast import FeatureService, FeatureView, OnDemandFeatureView

    from feature_repo.definitions import objects

    objs = objects(Path("/nonexistent/processed"), 15)
    out = ["# Feature catalogue\n\n", GENERATED,
           "Every feature view of `feature_repo/`, each feature with its as-of rule (when its value becomes "
           "known relative to the prediction time T), the on-demand views computed per request, and the "
           "published feature services. A view's maximum age (ttl) is for a 15-minute grid.\n\n"]
    for v in (o for o in objs if isinstance(o, FeatureView)):
        keys = ", ".join(f"`{e}`" for e in v.entities if e != "__dummy") or "none"
        ttl = "none (reference data)" if not v.ttl else str(v.ttl)
        out += [f"## `{v.name}`\n\n", f"{v.description} Keys: {keys}. Maximum age: {ttl}.\n\n",
                _table(["feature", "type", "as of T"], [[f"`{f.name}`", str(f.dtype), f.description] for f in v.schema]), "\n"]
    for o in (o for o in objs if isinstance(o, OnDemandFeatureView)):
        rules = o.description.removeprefix("Request-time features. ").split("; ")
        out += [f"## `{o.name}` (on demand)\n\n", "Computed per request by one function for training and serving.\n\n",
                _table(["feature", "as of T"], [[f"`{r.split(': ', 1)[0]}`", r.split(": ", 1)[-1]] for r in rules]), "\n"]
    out.append("## Feature services\n\n")
    services = [o for o in objs if isinstance(o, FeatureService) and not o.name.endswith("_online")]
    out.append(_table(["service", "views", "what"], [
        [f"`{s.name}`", ", ".join(f"`{p.name_to_use()}`" for p in s.feature_view_projections), s.description]
        for s in services]))
    return "".join(out)


# ---- metrics, the monitoring report, params.yaml -----------------------------------------------

def metrics_page() -> str:
    from prometheus_client.metrics import MetricWrapperBase

    from serving.metrics import Metrics

    m = Metrics()
    rows = []
    for metric in vars(m).values():
        if isinstance(metric, MetricWrapperBase):
            suffix = "_total" if metric._type == "counter" else ""
            labels = ", ".join(f"`{x}`" for x in metric._labelnames) or ""
            rows.append([f"`{metric._name}{suffix}`", metric._type, labels, metric._documentation])
    return ("# Prometheus metrics\n\n" + GENERATED + "What `GET /metrics` exposes (the service's own registry; with "
            "several workers, aggregated across them).\n\n" + _table(["metric", "type", "labels", "meaning"], rows))


def monitoring_page() -> str:
    from pydantic import BaseModel

    from skyprophet.core.monitoring import MonitorReport

    out = ["# The monitoring report\n\n", GENERATED,
           "`skyprophet monitor` writes `reports/monitor/<name>/report.json` (and `report.html`); the service "
           "reads the newest into its gauges and `/monitor`. Its fields, from the typed contract:\n\n"]
    seen: set[type] = set()
    todo: list[type[BaseModel]] = [MonitorReport]
    while todo:
        cls = todo.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        rows = []
        for name, f in cls.model_fields.items():
            rows.append([f"`{name}`", f"`{_type(f.annotation)}`", f.description or ""])
            todo += [t for t in _models(f.annotation) if t not in seen]
        out += [f"## `{cls.__name__}`\n\n", (cls.__doc__ or "").strip() + "\n\n", _table(["field", "type", "meaning"], rows), "\n"]
    return "".join(out)


def _models(annotation: Any) -> list[type]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def params_page() -> str:
    text = (ROOT / "params.yaml").read_text()
    return ("# `params.yaml`\n\n" + GENERATED + "The pipeline's parameters as they stand (DVC tracks them; "
            "`skyprophet model train` reads them). Each is explained in the file itself.\n\n```yaml\n" + text + "```\n")


def formats_page() -> str:
    from pipelines.sources import bts, iem_asos, scl

    out = ["# Source formats\n\n", GENERATED,
           "How each adapter's columns map onto the [data contract](../data-contract.md), from the adapters' own "
           "tables. Required columns must be present (a file without them is refused, every missing one named); "
           "the others are read where present.\n\n## `bts`: US DOT on-time files\n\n"]
    rows = [[f"`{k}`", f"`{bts.STYLES['transtats'][k]}`", f"`{bts.STYLES['monthly'][k]}`", "yes" if k in bts.REQUIRED else ""]
            for k in bts.STYLES["transtats"]]
    out.append(_table(["meaning", "TranStats download", "monthly zip files", "required"], rows))
    out.append("\nTimes are local `hhmm` at each airport (`2400` is the next midnight); the actual departure is the "
               "scheduled one plus the departure delay, never the clock time alone.\n\n## `iem-asos`: weather\n\n")
    rows = [[f"`{c}`", f"`{col}`", "knots to mph" if factor != 1.0 else ""] for c, (col, factor) in iem_asos.VALUES.items()]
    out.append(_table(["contract column", "IEM column", "conversion"], rows))
    out.append("\n`station` and `valid` (UTC) are required too; `M` or a blank is missing, `T` a trace of "
               "precipitation. The observation labelled hour H is the first report in [H, H + 1 h) and is used "
               "from H + 1 h.\n\n## `scl`: the original SkyProphet format\n\n")
    out.append(_table(["column", "required"], [[f"`{c}`", "yes" if c in scl.REQUIRED else ""] for c in scl.COLUMNS]))
    out.append("\nICAO airport and airline codes are mapped to IATA; times are local at the origin; the distance is "
               "computed from the airports' coordinates; the format has no tail numbers and no cancellations.\n")
    return "".join(out)


PAGES = {
    "reference/cli.md": cli_page, "reference/settings.md": settings_page, "reference/http-api.md": http_page,
    "reference/features.md": features_page, "reference/metrics.md": metrics_page,
    "reference/monitoring-report.md": monitoring_page, "reference/params.md": params_page,
    "reference/source-formats.md": formats_page,
}


def main() -> None:
    import mkdocs_gen_files

    for path, make in PAGES.items():
        with mkdocs_gen_files.open(path, "w") as fh:
            fh.write(make())


if __name__ in ("__main__", "<run_path>"):  # mkdocs-gen-files runs the script by path
    main()
