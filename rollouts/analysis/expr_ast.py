"""The tree a condition parses into: a handful of frozen node types, nothing else.

Why this exists: the evaluator accepts only these nodes, so what a condition can do is
exactly what they can express (no attribute access on Python objects, no imports, no
calls beyond the builtin functions). Kept apart from the parser so both stay small.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Binary",
    "Call",
    "Closure",
    "Conditional",
    "Index",
    "ListLiteral",
    "Literal",
    "MapLiteral",
    "Member",
    "Name",
    "Node",
    "Pointer",
    "Slice",
    "Unary",
]


@dataclass(frozen=True, slots=True)
class Literal:
    value: object
    position: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Pointer:
    """``#``: the element a predicate is looking at (or ``.field`` of it)."""

    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True, slots=True)
class Conditional:
    test: Node
    then: Node
    otherwise: Node
    position: int


@dataclass(frozen=True, slots=True)
class Index:
    target: Node
    index: Node
    position: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Slice:
    target: Node
    start: Node | None
    stop: Node | None
    position: int


@dataclass(frozen=True, slots=True)
class Member:
    target: Node
    name: str
    position: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Closure:
    body: Node
    position: int


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True, slots=True)
class MapLiteral:
    items: tuple[tuple[Node, Node], ...]
    position: int


Node = (Literal | Name | Pointer | Unary | Binary | Conditional | Index | Slice | Member
        | Call | Closure | ListLiteral | MapLiteral)
