"""The JSONPath subset the web provider needs: ``{$.data.ok}``, ``$.items[0].value``.

Why this exists: Argo Rollouts' web metric picks its value with a Kubernetes-style
JSONPath (``{$.data.ok}``); this supports that common subset (fields, ``['quoted']``
keys, indexes, negative indexes, ``[*]`` and ``.*``) without another dependency.
A wildcard returns a list; a plain path returns the single value.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["JSONPathError", "select"]

_STEP = re.compile(
    r"""\.\.?(?P<name>[A-Za-z_$][\w$-]*)|\.(?P<star>\*)|\[(?:(?P<index>-?\d+)|(?P<all>\*)|"""
    r"""'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]""")


class JSONPathError(ValueError):
    """A path that is malformed or does not exist in the document."""


def _parse(path: str) -> list[tuple[str, Any]]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or text.startswith("..", position):
            raise JSONPathError(f"invalid JSONPath {path!r} at {text[position:]!r}")
        position = match.end()
        if match.group("name") is not None:
            steps.append(("key", match.group("name")))
        elif match.group("sq") is not None or match.group("dq") is not None:
            steps.append(("key", match.group("sq") if match.group("sq") is not None
                          else match.group("dq")))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        else:
            steps.append(("all", None))
    return steps


def select(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; ``JSONPathError`` if there is none."""
    current: list[Any] = [document]
    many = False
    for kind, arg in _parse(path):
        following: list[Any] = []
        for item in current:
            if kind == "key":
                if isinstance(item, dict) and arg in item:
                    following.append(item[arg])
            elif kind == "index":
                if isinstance(item, list) and -len(item) <= arg < len(item):
                    following.append(item[arg])
            else:
                many = True
                if isinstance(item, list):
                    following.extend(item)
                elif isinstance(item, dict):
                    following.extend(item.values())
        current = following
        if not current and not many:
            raise JSONPathError(f"JSONPath {path!r} matched nothing")
    if many:
        return current
    return current[0]
