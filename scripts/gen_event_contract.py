"""Write the event contract's reference from the code: the field tables between the markers of
``docs/event-contract.md`` and every payload's JSON Schema in ``docs/event-contract.schema.json``.

    python scripts/gen_event_contract.py           # rewrite both
    python scripts/gen_event_contract.py --check   # exit 1 when either differs from the code
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from skyprophet.core import events

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "event-contract.md"
SCHEMA = ROOT / "docs" / "event-contract.schema.json"
BEGIN, END = "<!-- generated: event contract -->", "<!-- end generated -->"


def _type(spec: dict[str, Any]) -> tuple[str, bool, str]:
    """(JSON type, nullable, constraints) of one property."""
    options = spec.get("anyOf", [spec])
    nullable = any(o.get("type") == "null" for o in options)
    kinds = [o for o in options if o.get("type") != "null"] or [{}]
    return " or ".join(o.get("type", "any") for o in kinds), nullable, "; ".join(filter(None, map(_limits, kinds)))


def _limits(option: dict[str, Any]) -> str:
    limits = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in option:
            limits.append(f"{sign} {option[key]:g}" if isinstance(option[key], float) else f"{sign} {option[key]}")
    if "pattern" in option:
        limits.append(f"`{option['pattern']}`")
    return ", ".join(limits)


def tables() -> str:
    out = [f"Contract version {events.CONTRACT_VERSION}. An entry is at most {events.MAX_ENTRY_BYTES:,} bytes; "
           f"the processor takes events from {events.LATE_LIMIT_S // 86_400} days before its clock to "
           f"{events.AHEAD_LIMIT_S // 86_400} days after it.", ""]
    for kind, schema in events.schemas().items():
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out += [f"### `{kind}`", ""]
        if not props:
            out += ["No payload: `data` is `{}` or absent.", ""]
            continue
        out += ["| field | type | required | null allowed | constraints |", "|---|---|---|---|---|"]
        for name, spec in props.items():
            t, nullable, limits = _type(spec)
            out.append(f"| `{name}` | {t} | {'yes' if name in required else 'no'} | {'yes' if nullable else 'no'} | {limits} |")
        out.append("")
    return "\n".join(out)


def render(page: str) -> str:
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{tables()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    page = PAGE.read_text()
    want_page = render(page)
    want_schema = json.dumps({"version": events.CONTRACT_VERSION, "payloads": events.schemas()}, indent=2) + "\n"
    if "--check" in argv:
        stale = [p.name for p, want in ((PAGE, want_page), (SCHEMA, want_schema)) if not p.exists() or p.read_text() != want]
        if stale:
            print(f"out of date with skyprophet/core/events.py: {', '.join(stale)} (run python scripts/gen_event_contract.py)")
            return 1
        return 0
    PAGE.write_text(want_page)
    SCHEMA.write_text(want_schema)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
