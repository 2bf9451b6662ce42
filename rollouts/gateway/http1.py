"""HTTP/1.1 request-side vocabulary shared by the proxy modules.

Why this exists: the limits, the per-request record, the upstream request head (filters,
rewrites, X-Forwarded-*) and the small pure helpers are used by both halves of a client
connection (``proxy`` parses and forwards, ``relay`` answers), and keeping them here
keeps each of those modules readable and the head building testable on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Final

import httptools

from rollouts.gateway.headlines import find_named_lines, name_table, without
from rollouts.gateway.table import Action, BackendTarget, Match

__all__ = [
    "HOP",
    "IDEMPOTENT",
    "REASONS",
    "STATUS_LINES",
    "BadRequest",
    "Limits",
    "RawHeaders",
    "Request",
    "absolute_target",
    "quick_request",
    "simple_response",
    "split_header_line",
    "upstream_head",
]

#: request headers never forwarded (hop-by-hop, or set by the gateway itself)
HOP: Final = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade", b"x-forwarded-for",
                        b"x-forwarded-proto", b"http2-settings"))  # fmt: skip
IDEMPOTENT: Final = frozenset((b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"))
REASONS: Final = {400: b"Bad Request", 404: b"Not Found", 408: b"Request Timeout",
           413: b"Payload Too Large", 414: b"URI Too Long",
           431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
           502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout",
           301: b"Moved Permanently", 302: b"Found", 303: b"See Other",
           307: b"Temporary Redirect", 308: b"Permanent Redirect"}  # fmt: skip


#: ready-made status lines for every registered status code
STATUS_LINES: Final = {
    s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus
}


class Limits:
    """Guards against bad or slow clients."""

    def __init__(self, max_header_bytes: int = 65536, max_headers: int = 100,
                 max_url: int = 8192, max_body: int | None = None,
                 header_timeout: float = 30.0, idle_timeout: float = 60.0,
                 buffer_limit: int = 262144, response_timeout: float = 60.0,
                 ) -> None:  # fmt: skip
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_url = max_url
        self.max_body = max_body
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.buffer_limit = buffer_limit
        #: request received -> first response byte, unless the route sets timeouts
        self.response_timeout = response_timeout


class BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


#: the lines and body of a quick-path request: there are none, and nothing may add any
#: (only requests from the callback parser, made with ``raw=None``, collect them)
_NOTHING: Final[list[bytes]] = []


class Request:
    """One request as the proxy sees it. ``quick_request`` passes ``raw`` (the forwarded
    header block as received, each line preceded by CRLF) and gets a lazy ``hdict``;
    the callback parser passes nothing and fills ``hdict``, ``lines`` and ``body``."""

    __slots__ = ("body", "chunked", "complete", "has_body", "hdict", "host", "http10",
                 "keep_alive", "lines", "method", "mirror", "nbytes", "raw", "upgrade",
                 "url", "xff")  # fmt: skip

    def __init__(self, raw: bytes | None = None) -> None:
        self.url = b""
        self.raw = raw
        self.hdict: Mapping[bytes, bytes]
        if raw is None:
            self.hdict = {}
            self.lines: list[bytes] = []  # forwarded header lines, formatted
            self.body: list[bytes] = []
        else:
            self.hdict = RawHeaders(raw)
            self.lines = self.body = _NOTHING
        self.host = b""
        self.xff: bytes | None = None  # the client's X-Forwarded-For, if any
        self.method = b""
        self.keep_alive = True
        self.http10 = False
        self.complete = False
        self.chunked = False
        self.upgrade = False
        self.nbytes = 0  # body bytes received
        self.has_body = False
        self.mirror: tuple[list[BackendTarget], bytes] | None = None


def split_header_line(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line[:-2].partition(b": ")
    return name, value


def absolute_target(raw: bytes, query: bytes, r: Request) -> tuple[bytes, bytes]:
    """absolute-form request target: take host from it, path after it."""
    if raw == b"*":
        return b"*", query
    try:
        u = httptools.parse_url(raw + (b"?" + query if query else b""))
    except httptools.HttpParserInvalidURLError as exc:
        raise BadRequest(400) from exc
    if u.host:
        r.host = u.host + (b":%d" % u.port if u.port else b"")
    return (u.path or b"/"), (u.query or b"")


def simple_response(status: int, body: bytes, close: bool,
                    extra: list[tuple[bytes, bytes]] | None = None) -> bytes:  # fmt: skip
    """A complete response the gateway makes itself (404, 500, 503, redirects...)."""
    head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"")),
            b"content-length: %d\r\n" % len(body)]  # fmt: skip
    for n, v in extra or ():
        head.append(n + b": " + v + b"\r\n")
    if close:
        head.append(b"connection: close\r\n")
    return b"".join(head) + b"\r\n" + body


#: Connection header values that name no other header
_PLAIN_CONNECTION: Final = frozenset((b"keep-alive", b"close", b"upgrade"))


def _drop_listed(r: Request, connection: bytes) -> None:
    names = {t.strip().lower() for t in connection.split(b",")}
    names -= {b"close", b"keep-alive", b"upgrade", b""}
    if names:
        r.lines = [ln for ln in r.lines if split_header_line(ln)[0].lower() not in names]


class RawHeaders(Mapping[bytes, bytes]):
    """Lower-cased header lookup over a raw header block, split only when first asked
    (most requests are routed on host and path alone and never need it)."""

    __slots__ = ("block", "parsed")

    def __init__(self, block: bytes) -> None:
        self.block = block
        self.parsed: dict[bytes, bytes] | None = None

    def _dict(self) -> dict[bytes, bytes]:
        d = self.parsed
        if d is None:
            d = self.parsed = {}
            for name, value in raw_pairs(self.block):
                d.setdefault(name.lower(), value)
        return d

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return self._dict().get(key, default)

    def __getitem__(self, key: bytes) -> bytes:
        return self._dict()[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())


def raw_pairs(block: bytes) -> list[tuple[bytes, bytes]]:
    """``(name, value)`` of each line of a CRLF-preceded raw header block."""
    out = []
    for line in block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        out.append((name, value.strip(b" \t")))
    return out


#: request header lines the quick path must look at: Host, hop-by-hop, framing,
#: X-Forwarded-*
_QUICK_NAMES: Final = name_table((
    b"host", b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"x-forwarded-for", b"x-forwarded-proto",
    b"content-length", b"expect", b"http2-settings",
))  # fmt: skip
#: headers the quick path drops without looking at their value
_QUICK_DROP: Final = frozenset((b"keep-alive", b"proxy-connection", b"te", b"trailer",
                                b"x-forwarded-proto"))  # fmt: skip


def quick_request(data: bytes, limits: Limits) -> Request | None:
    """The common case without per-header Python work: ``data`` is exactly one whole
    request head with no body (the caller checked that it ends with a blank line; an
    earlier blank line returns None), in origin form, with no framing, upgrade or
    ``Connection``-listed headers. Anything else returns None and goes through the
    callback parser, which then answers errors and limits exactly as before. The
    caller still has httptools validate ``data`` before trusting the result."""
    n = len(data)
    if n > limits.max_header_bytes:
        return None
    head = data.split(b"\n")  # each line keeps its CR; the head ends with [b"\r", b""]
    if len(head) - 3 > limits.max_headers:
        return None
    parts = head[0].split(b" ")
    if len(parts) != 3:
        return None
    method, url, version = parts
    if not url or url[0] != 47 or len(url) > limits.max_url:  # 47: "/"
        return None  # not origin form, or too long for the quick path
    if version == b"HTTP/1.1\r":
        http10 = False
    elif version == b"HTTP/1.0\r":
        http10 = True
    else:
        return None
    lines: list[tuple[bytes, int, int]] = []
    if find_named_lines(head, _QUICK_NAMES, lines) != n - 4:
        return None  # an empty line before the end, or a bare LF: not the usual head
    eol = len(head[0]) - 1
    keep_alive = not http10
    xff: bytes | None = None
    host: bytes | None = None
    cuts: list[tuple[int, int]] = []  # hop-by-hop lines, with their leading CRLF
    for name, start, stop in lines:
        value = data[start + 3 + len(name) : stop].strip(b" \t")
        if name == b"host":
            if host is not None:
                return None  # two Host headers: let the full parser decide
            host = value
            continue
        if name == b"connection":
            for token in value.lower().split(b","):
                token = token.strip(b" \t")
                if token == b"close":
                    keep_alive = False
                elif token == b"keep-alive":
                    keep_alive = True
                elif token:
                    return None  # upgrade, or names other hop-by-hop headers
        elif name == b"x-forwarded-for":
            if xff is not None:
                return None
            xff = value
        elif name not in _QUICK_DROP:
            return None
        cuts.append((start, stop))
    r = Request(without(data, eol, n - 4, cuts))
    r.http10 = http10
    r.keep_alive = keep_alive
    r.xff = xff
    r.host = host or b""
    r.method = method
    r.url = url
    r.complete = True
    return r


def upstream_head(
    r: Request, a: Action, t: BackendTarget, m: Match, raw_path: bytes, query: bytes,
    path: str, peer: bytes, scheme: bytes,
) -> bytes:  # fmt: skip
    """The HTTP/1.1 request head sent upstream: hop-by-hop headers dropped, filters
    applied (rule, then backend), path and host rewritten, X-Forwarded-* added."""
    if a.rewrite_path is not None:
        raw_path = a.rewrite_path.apply(path, m.prefix).encode("latin-1")
    target = raw_path + b"?" + query if query else raw_path
    xff = r.xff
    if r.raw is not None:
        if a.req_mods is None and t.req_mods is None and a.rewrite_host is None:
            # the quick path: the client's header block goes on as received
            return b"".join((r.method, b" ", target, b" HTTP/1.1", r.raw,
                             b"\r\nX-Forwarded-For: ", xff + b", " + peer if xff else peer,
                             b"\r\nX-Forwarded-Proto: ", scheme, b"\r\n\r\n"))  # fmt: skip
        r.lines = [n + b": " + v + b"\r\n" for n, v in raw_pairs(r.raw)]
    conn_hdr = r.hdict.get(b"connection")
    if conn_hdr is not None and conn_hdr.lower() not in _PLAIN_CONNECTION:
        _drop_listed(r, conn_hdr)  # headers named in Connection are hop-by-hop too
    if a.req_mods is None and t.req_mods is None and a.rewrite_host is None:
        lines = r.lines  # header lines were formatted while parsing
    else:
        headers = [split_header_line(line) for line in r.lines]
        if a.req_mods is not None:
            headers = a.req_mods.apply(headers)
        if t.req_mods is not None:
            headers = t.req_mods.apply(headers)
        if a.rewrite_host is not None:
            headers = [h for h in headers if h[0].lower() != b"host"]
            headers.append((b"Host", a.rewrite_host))
        lines = [n + b": " + v + b"\r\n" for n, v in headers]
    lines.append(b"X-Forwarded-For: " + (xff + b", " + peer if xff else peer)
                 + b"\r\nX-Forwarded-Proto: " + scheme + b"\r\n")  # fmt: skip
    if r.chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    if r.upgrade:
        lines.append(b"Connection: Upgrade\r\nUpgrade: " + r.hdict.get(b"upgrade", b"")
                     + b"\r\n")  # fmt: skip
    lines.append(b"\r\n")
    return r.method + b" " + target + b" HTTP/1.1\r\n" + b"".join(lines)
