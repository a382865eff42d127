"""Upcasters: turn the stored JSON of an older event version into the current one.

Events in the log are never rewritten. When an event type's schema changes, its
class gets a higher ``VERSION`` and an upcaster from the previous version is
registered here; every read path decodes through ``upcast`` so old events fold
exactly like new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.errors import UnsupportedVersion

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event type, from version) -> function producing version + 1."""


def register(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the upcaster of ``event_type`` from ``from_version``."""

    def decorator(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorator


def upcast(event_type: str, version: int, current: int, data: dict[str, Any]) -> dict[str, Any]:
    """Apply upcasters one version at a time until ``data`` is at ``current``."""
    if version > current:
        raise UnsupportedVersion(
            f"{event_type} version {version} is newer than this code knows ({current})"
        )
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise UnsupportedVersion(f"no upcaster for {event_type} from version {version}")
        data = step(data)
        version += 1
    return data


@register("media-analysis.analysis.deleted", 1)
def _deleted_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 ``reason`` -> v2 ``note``; every v1 deletion came from the client."""
    upgraded = {k: v for k, v in data.items() if k != "reason"}
    upgraded["note"] = data.get("reason")
    upgraded["initiator"] = "client"
    return upgraded
