"""Finding the few header lines a quick path must act on, without a regex.

Why this exists: both quick paths (a bodiless request head, a response head framed by
Content-Length) relay the header block as received and only need the handful of lines
that are hop-by-hop, framing or routing. Splitting the block at LF once and looking
at a line only when its first letter and the position of its colon fit a wanted name
costs a fraction of a regex scan on the real hot path (the ``re`` engine showed up as
~2 us per exchange under load; see BENCHMARKS.md), and allocates nothing beyond the
split. (At LF rather than CRLF: a one-byte separator is found by a plain byte scan,
a two-byte one by a substring search per line, which cost ~0.4 us on a browser head.)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NameTable", "find_named_lines", "header_digits", "name_table", "without"]

#: for each byte value, the wanted names starting with that letter (either case), each
#: lower-case and in its usual spelling (``Content-Length``), which is tried first
NameTable = list[tuple[tuple[bytes, bytes], ...]]


def name_table(names: Iterable[bytes]) -> NameTable:
    """Index lower-case header names by their first byte, upper or lower case."""
    table: list[list[tuple[bytes, bytes]]] = [[] for _ in range(256)]
    for name in names:
        if not name or name != name.lower() or b":" in name:
            raise ValueError(f"header name must be lower-case and non-empty: {name!r}")
        usual = b"-".join(part.capitalize() for part in name.split(b"-"))
        first, upper = name[0], usual[0]
        table[first].append((name, usual))
        if upper != first:
            table[upper].append((name, usual))
    return [tuple(entries) for entries in table]


def find_named_lines(lines: list[bytes], table: NameTable,
                     found: list[tuple[bytes, int, int]]) -> int:  # fmt: skip
    """Walk ``lines`` (a head split at LF, start line first, each line still ending
    with its CR) up to the first empty line, appending to ``found`` each header line
    whose name is in ``table`` as ``(lower-case name, start, stop)``: ``head[start:stop]``
    is the line with its leading CRLF. Returns the offset where the walk stopped: the
    CRLF before the first empty line, or the length of the head minus its final CR
    when no line is empty; -1 when a line does not end with CRLF."""
    pos = len(lines[0]) - 1
    if pos < 0 or lines[0][pos] != 13:
        return -1
    for i in range(1, len(lines)):
        line = lines[i]
        size = len(line) - 1  # without its CR
        if size < 0 or line[size] != 13:
            return -1
        if size == 0:
            return pos
        stop = pos + 2 + size
        for name, usual in table[line[0]]:
            n = len(name)
            if size > n and line[n] == 58:  # a colon right after a name this long
                spelt = line[:n]
                if spelt == usual or spelt.lower() == name:
                    found.append((name, pos, stop))
                    break
        pos = stop
    return pos


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


def without(data: bytes, first: int, last: int, cuts: list[tuple[int, int]]) -> bytes:
    """``data[first:last]`` minus the ``(start, stop)`` spans in ``cuts`` (in order, and
    inside it): a head with its hop-by-hop lines taken out."""
    if not cuts:
        return data[first:last]
    parts = []
    for start, stop in cuts:
        parts.append(data[first:start])
        first = stop
    parts.append(data[first:last])
    return b"".join(parts)
