"""headlines: the header lines the quick paths act on, found without a regex."""

from __future__ import annotations

import pytest

from rollouts.gateway.headlines import find_named_lines, header_digits, name_table, without

TABLE = name_table((b"connection", b"content-length", b"host", b"keep-alive", b"te"))
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n"
        b"Date: x\r\nCONNECTION: keep-alive\r\nTE: trailers\r\n\r\nhello")  # fmt: skip


def walk(head: bytes) -> tuple[int, list[tuple[bytes, int, int]]]:
    found: list[tuple[bytes, int, int]] = []
    return find_named_lines(head.split(b"\n"), TABLE, found), found


def test_finds_wanted_lines_in_any_case_with_their_offsets() -> None:
    end, found = walk(HEAD)
    assert [name for name, _, _ in found] == [b"content-length", b"connection", b"te"]
    assert [HEAD[start:stop] for _, start, stop in found] == [
        b"\r\ncontent-length: 5", b"\r\nCONNECTION: keep-alive", b"\r\nTE: trailers"]
    assert end == HEAD.index(b"\r\n\r\n")


def test_a_name_must_be_followed_by_its_colon() -> None:
    # Content-Type starts like content-length, Connections is longer than connection,
    # "Host :" has a space before the colon (invalid, left to the full parser)
    _, found = walk(b"GET / HTTP/1.1\r\nContent-Type: a\r\nConnections: b\r\nHost : c\r\n\r\n")
    assert found == []


def test_without_a_blank_line_the_walk_covers_the_whole_head() -> None:
    head = b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r"  # a request head cut before its last LF
    end, found = walk(head)
    assert end == len(head) - 1 and found == [(b"host", 14, 23)]


def test_an_early_blank_line_stops_the_walk_there() -> None:
    end, found = walk(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nTE: x\r\n\r\n")
    assert end == 23 and found == [(b"host", 14, 23)]


@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",  # bare LF after the start line
    b"GET / HTTP/1.1\r\nHost: a\nTE: x\r\n\r\n",  # bare LF after a header line
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",  # no blank line: ends with a bare LF
])  # fmt: skip
def test_a_line_without_crlf_is_refused(head: bytes) -> None:
    assert walk(head)[0] == -1


def test_name_table_rejects_names_it_could_never_match() -> None:
    for bad in (b"", b"Host", b"a:b"):
        with pytest.raises(ValueError, match="lower-case and non-empty"):
            name_table([bad])


@pytest.mark.parametrize(("text", "value"), [
    (b"Content-Length: 23", 23), (b"Content-Length:0", 0), (b"Content-Length: \t 7 \t", 7),
    (b"Content-Length: ", -1), (b"Content-Length: 1x", -1), (b"Content-Length: -1", -1),
    (b"Content-Length: 1 2", -1), (b"Content-Length: " + b"9" * 19, -1),
])  # fmt: skip
def test_header_digits(text: bytes, value: int) -> None:
    assert header_digits(text, len(b"Content-Length:"), len(text)) == value


def test_without_takes_the_cut_spans_out_of_the_slice() -> None:
    head = b"GET / HTTP/1.1\r\nKeep-Alive: 5\r\nHost: a\r\nTE: x\r\n\r\n"
    end = head.index(b"\r\n\r\n")
    _, found = walk(head)
    cuts = [(start, stop) for name, start, stop in found if name != b"host"]
    assert without(head, 14, end, cuts) == b"\r\nHost: a"
    assert without(head, 14, end, []) == head[14:end]
