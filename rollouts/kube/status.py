"""Status is computed whole by the core and written once, as the difference only.

``merge_patch`` gives the RFC 7386 JSON merge patch from the old status to the new:
changed keys, ``None`` for removed ones, lists replaced whole. A status that did not
change is not written at all.
"""

from __future__ import annotations

from typing import Any

__all__ = ["merge_patch"]


def merge_patch(old: Any, new: Any) -> Any:
    """The merge patch turning ``old`` into ``new`` (``{}`` when they are equal)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
