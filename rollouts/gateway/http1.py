"""HTTP/1.1 request-side vocabulary shared by the proxy modules.

Why this exists: the limits, the per-request record, the upstream request head (filters,
rewrites, X-Forwarded-*) and the small pure helpers are used by both halves of a client
connection (``proxy`` parses and forwards, ``relay`` answers), and keeping them here
keeps each of those modules readable and the head building testable on its own.
"""

from __future__ import annotations

from http import HTTPStatus

import httptools

from rollouts.gateway.table import Action, BackendTarget, Match

__all__ = [
    "HOP",
    "IDEMPOTENT",
    "REASONS",
    "STATUS_LINES",
    "BadRequest",
    "Limits",
    "Request",
    "absolute_target",
    "simple_response",
    "split_header_line",
    "upstream_head",
]

#: request headers never forwarded (hop-by-hop, or set by the gateway itself)
HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                 b"transfer-encoding", b"upgrade", b"x-forwarded-for",
                 b"x-forwarded-proto"))  # fmt: skip
IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"))
REASONS = {400: b"Bad Request", 404: b"Not Found", 408: b"Request Timeout",
           413: b"Payload Too Large", 414: b"URI Too Long",
           431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
           502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout",
           301: b"Moved Permanently", 302: b"Found", 303: b"See Other",
           307: b"Temporary Redirect", 308: b"Permanent Redirect"}  # fmt: skip


#: ready-made status lines for every registered status code
STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


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


class Request:
    __slots__ = ("body", "chunked", "complete", "has_body", "hdict", "http10",
                 "keep_alive",
                 "lines", "method", "mirror", "nbytes", "upgrade", "url")  # fmt: skip

    def __init__(self) -> None:
        self.url = b""
        self.hdict: dict[bytes, bytes] = {}
        self.lines: list[bytes] = []  # forwarded header lines, formatted
        self.method = b""
        self.keep_alive = True
        self.http10 = False
        self.complete = False
        self.chunked = False
        self.upgrade = False
        self.body: list[bytes] = []
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
        r.hdict[b"host"] = u.host + (b":%d" % u.port if u.port else b"")
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
_PLAIN_CONNECTION = frozenset((b"keep-alive", b"close", b"upgrade"))


def _drop_listed(r: Request, connection: bytes) -> None:
    names = {t.strip().lower() for t in connection.split(b",")}
    names -= {b"close", b"keep-alive", b"upgrade", b""}
    if names:
        r.lines = [ln for ln in r.lines if split_header_line(ln)[0].lower() not in names]


def upstream_head(
    r: Request, a: Action, t: BackendTarget, m: Match, raw_path: bytes, query: bytes,
    path: str, peer: bytes, scheme: bytes,
) -> bytes:  # fmt: skip
    """The HTTP/1.1 request head sent upstream: hop-by-hop headers dropped, filters
    applied (rule, then backend), path and host rewritten, X-Forwarded-* added."""
    conn_hdr = r.hdict.get(b"connection")
    if conn_hdr is not None and conn_hdr.lower() not in _PLAIN_CONNECTION:
        _drop_listed(r, conn_hdr)  # headers named in Connection are hop-by-hop too
    if a.req_mods is None and t.req_mods is None and a.rewrite_host is None:
        lines = r.lines  # fast path: header lines were formatted while parsing
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
    if a.rewrite_path is not None:
        raw_path = a.rewrite_path.apply(path, m.prefix).encode("latin-1")
    xff = r.hdict.get(b"x-forwarded-for")
    lines.append(b"X-Forwarded-For: " + (xff + b", " + peer if xff else peer)
                 + b"\r\nX-Forwarded-Proto: " + scheme + b"\r\n")  # fmt: skip
    if r.chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    if r.upgrade:
        lines.append(b"Connection: Upgrade\r\nUpgrade: " + r.hdict.get(b"upgrade", b"")
                     + b"\r\n")  # fmt: skip
    target = raw_path + b"?" + query if query else raw_path
    lines.append(b"\r\n")
    return r.method + b" " + target + b" HTTP/1.1\r\n" + b"".join(lines)
