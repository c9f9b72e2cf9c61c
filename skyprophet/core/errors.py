"""The one family of errors a user can fix: bad input, missing data, an unreachable store, a refusal.

Everything the project raises for a reason outside the code derives from ``SkyProphetError``.
The CLI reports such an error as one line (``<command>: <kind>: <message>``) with a non-zero
exit, and lets anything else end in a traceback, which then means a bug. ``kind`` names the
family member in that line ("error" unless a subclass says otherwise).
"""

from __future__ import annotations


class SkyProphetError(Exception):
    """A problem with the input or the environment, reported in one line."""

    kind = "error"


class InvalidInput(SkyProphetError, ValueError):
    """An option, a parameter or a request value that cannot be used as given."""


class MissingData(SkyProphetError, FileNotFoundError):
    """An input file or table that is not there (run the stage that makes it first)."""


class SchemaError(SkyProphetError, ValueError):
    """A source table lacks a column or has one of the wrong type."""


class NoData(SkyProphetError, ValueError):
    """A selection holds nothing to work on (no flight before a cut-off, an empty window)."""


class TrainingSetError(SkyProphetError, ValueError):
    """A training set cannot be built as asked (bad window, unknown service, no rows)."""


class TrackingUnavailable(SkyProphetError, RuntimeError):
    """The MLflow tracking store cannot be reached or opened."""


class ModelNotFound(SkyProphetError, LookupError):
    """The registry has no version under the requested name or alias."""


class PromotionRefused(SkyProphetError, RuntimeError):
    """The candidate is worse than production on the gate's metrics."""

    kind = "refused"


def first_line(exc: BaseException, *, with_type: bool = False) -> str:
    """The first line of an exception's message (its type's name when it has none).

    ``with_type`` puts the type's name in front: ``ConnectionError: Error 111 ...``.
    """
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    return f"{type(exc).__name__}: {line}" if with_type else line
