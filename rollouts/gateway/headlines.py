"""Finding the few header lines a quick path must act on, without a regex.

Why this exists: both quick paths (a bodiless request head, a response head framed by
Content-Length) relay the header block as received and only need the handful of lines
that are hop-by-hop, framing or routing. Splitting the block at CRLF once and looking
at a line only when its first letter and the position of its colon fit a wanted name
costs a fraction of a regex scan on the real hot path (the ``re`` engine showed up as
~2 us per exchange under load; see BENCHMARKS.md), and allocates nothing beyond the
split.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NameTable", "find_named_lines", "header_digits", "name_table"]

#: for each byte value, the wanted lower-case names starting with that letter (either case)
NameTable = list[tuple[bytes, ...]]


def name_table(names: Iterable[bytes]) -> NameTable:
    """Index lower-case header names by their first byte, upper or lower case."""
    table: list[list[bytes]] = [[] for _ in range(256)]
    for name in names:
        if not name or name != name.lower() or b":" in name:
            raise ValueError(f"header name must be lower-case and non-empty: {name!r}")
        first, upper = name[0], name[:1].upper()[0]
        table[first].append(name)
        if upper != first:
            table[upper].append(name)
    return [tuple(names_) for names_ in table]


def find_named_lines(lines: list[bytes], table: NameTable) -> list[tuple[bytes, int, int]] | None:
    """The header lines among ``lines`` (a head split at CRLF, start line first, blank
    line excluded) whose names are in ``table``, as ``(lower-case name, start, stop)``
    offsets into the head: ``head[start:stop]`` is the line with its leading CRLF. None
    when a line is empty (the head ends earlier than the caller thought), so that the
    caller falls back to the full parser."""
    found: list[tuple[bytes, int, int]] = []
    pos = len(lines[0])
    for i in range(1, len(lines)):
        line = lines[i]
        stop = pos + 2 + len(line)
        if not line:
            return None  # an empty line inside the head
        for name in table[line[0]]:
            n = len(name)
            # a colon right after the name (58), then the name itself in any case
            if len(line) > n and line[n] == 58 and line[:n].lower() == name:
                found.append((name, pos, stop))
                break
        pos = stop
    return found


def header_digits(head: bytes, start: int, stop: int) -> int:
    """The non-negative decimal value of ``head[start:stop]`` around optional spaces and
    tabs (a Content-Length), or -1 when it is anything else; no allocation."""
    while start < stop and (head[start] == 32 or head[start] == 9):
        start += 1
    while stop > start and (head[stop - 1] == 32 or head[stop - 1] == 9):
        stop -= 1
    if start == stop or stop - start > 18:
        return -1  # empty, or too long to be a length we would take
    value = 0
    for i in range(start, stop):
        d = head[i] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value
