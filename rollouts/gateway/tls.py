"""TLS termination: certificates from Secrets, SNI among a port's listeners, rotation.

Why this exists: an HTTPS port can carry several listeners with different hostnames
and certificates. One server-side SSLContext per port is bound to the socket; its SNI
callback looks the requested name up (exact, then wildcard, then the listener without
hostname) in a map that ``update`` replaces on every config change, so a rotated
certificate serves new handshakes at once without reopening the socket.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile

from rollouts.gateway.attach import Resolution
from rollouts.gateway.hostnames import host_keys

__all__ = ["ALPN", "TLSStore"]

try:
    import h2  # noqa: F401  (only to know whether HTTP/2 can be offered)

    ALPN = ["h2", "http/1.1"]
except ImportError:  # pragma: no cover
    ALPN = ["http/1.1"]


def _context(crt: bytes, key: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(ALPN)
    fd, path = tempfile.mkstemp(prefix="rollouts-gw-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(crt.rstrip(b"\n") + b"\n" + key)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx


class TLSStore:
    def __init__(self) -> None:
        self._by_digest: dict[str, ssl.SSLContext] = {}
        # port -> {hostname key or "" for catch-all: context}
        self._maps: dict[int, dict[str, ssl.SSLContext]] = {}
        self._bound: dict[int, ssl.SSLContext] = {}

    def update(self, res: Resolution) -> None:
        maps: dict[int, dict[str, ssl.SSLContext]] = {}
        used: dict[str, ssl.SSLContext] = {}
        for gi in res.gateways.values():
            for li in gi.listeners:
                if li.cert is None or not li.valid:
                    continue
                digest = hashlib.sha256(li.cert[0] + b"\0" + li.cert[1]).hexdigest()
                ctx = used.get(digest) or self._by_digest.get(digest)
                if ctx is None:
                    try:
                        ctx = _context(*li.cert)
                    except (ssl.SSLError, ValueError):
                        continue
                used[digest] = ctx
                maps.setdefault(li.listener.port, {}).setdefault(li.listener.hostname or "", ctx)
        self._by_digest = used
        self._maps = maps

    def _select(self, port: int, server_name: str | None) -> ssl.SSLContext | None:
        m = self._maps.get(port, {})
        if server_name:
            for k in host_keys(server_name.lower()):
                if k in m:
                    return m[k]
        return m.get("") or next(iter(m.values()), None)

    def context_for(self, port: int) -> ssl.SSLContext | None:
        """The context to bind a port's socket with (None when no valid certificate)."""
        if port in self._bound:
            return self._bound[port]
        default = self._select(port, None)
        if default is None:
            return None
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        base.minimum_version = ssl.TLSVersion.TLSv1_2
        base.set_alpn_protocols(ALPN)

        def sni(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            ctx = self._select(port, name)
            if ctx is not None:
                sock.context = ctx
            return None

        # called for every handshake, with name None when the client sent no SNI
        base.sni_callback = sni
        self._bound[port] = base
        return base
