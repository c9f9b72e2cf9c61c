"""Feast without typeguard's run-time type checks, installed before Feast is first imported.

Feast wraps about forty of its classes and functions in typeguard's ``@typechecked``, which
recompiles each of their methods when Feast is imported (about 2.5 s of CPU in every process
here: each command, each server worker, each Spark worker) and checks the types of their
arguments on every call. Typeguard documents the decorator as a development aid that is a no-op
under ``python -O``; ``-O`` would also strip this project's own ``assert`` statements, so the
decorator is made a no-op for Feast's modules only, at the moment ``feast`` is first imported.
Feast's own checks (names, schemas, sources) are ordinary code and still run.

``SKYPROPHET_FEAST_TYPECHECKS=1`` keeps typeguard's checks (to debug a call into Feast).
"""

from __future__ import annotations

import functools
import importlib.abc
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

KEEP = "SKYPROPHET_FEAST_TYPECHECKS"


def _feast_module(name: str) -> bool:
    return name == "feast" or name.startswith("feast.")


def _skipping_feast(typechecked: Callable[..., Any]) -> Callable[..., Any]:
    """``typechecked`` that returns what Feast's modules decorate unchanged (anyone else's is instrumented)."""

    @functools.wraps(typechecked)
    def decorator(target: Any = None, **options: Any) -> Any:
        if _feast_module(sys._getframe(1).f_globals.get("__name__", "")):
            return target if target is not None else (lambda t: t)
        return typechecked(target, **options)

    decorator.skips_feast = True  # type: ignore[attr-defined]
    return decorator


class _BeforeFeast(importlib.abc.MetaPathFinder):
    """Finds nothing; on the first import of ``feast`` it swaps typeguard's decorator first."""

    done = False

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> None:
        if fullname == "feast" and not self.done:
            self.done = True  # stays in sys.meta_path: removing a finder while the import system iterates skips the next
            try:
                import typeguard
            except ImportError:
                return None
            if not getattr(typeguard.typechecked, "skips_feast", False):
                typeguard.typechecked = _skipping_feast(typeguard.typechecked)
        return None


def feast_without_type_checks() -> None:
    """Install the swap (idempotent); nothing when Feast is already imported or ``SKYPROPHET_FEAST_TYPECHECKS=1``."""
    if os.environ.get(KEEP) == "1" or "feast" in sys.modules:
        return
    if not any(isinstance(f, _BeforeFeast) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeFeast())
