"""Bounded memo tables of the readers (serialized keys, decoded values, slots)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CACHE_ENTRIES = 200_000  # per reader, for serialized entity keys and for decoded values


def memo(cache: dict[Any, Any], key: Any, make: Callable[[Any], Any], keep: Callable[[Any], bool] | None = None) -> Any:
    """``cache[key]``, computed by ``make(key)`` on a miss and kept unless ``keep`` says no;
    the cache is emptied when full."""
    found = cache.get(key)
    if found is None:
        found = make(key)
        if keep is None or keep(found):
            if len(cache) >= CACHE_ENTRIES:
                cache.clear()
            cache[key] = found
    return found
