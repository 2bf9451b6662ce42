"""HTTPS listeners: termination, SNI among listeners' certificates, rotation."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import Harness, backend, gateway, gateway_class, listener, route


def cert(cn: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - dt.timedelta(days=1))
           .not_valid_after(now + dt.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
           .sign(key, hashes.SHA256()))  # fmt: skip
    return (crt.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))  # fmt: skip


def secret(name: str, pair: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name},
            "data": {"tls.crt": base64.b64encode(pair[0]).decode(),
                     "tls.key": base64.b64encode(pair[1]).decode()}}  # fmt: skip


async def fetch(port: int, sni: str) -> tuple[str, bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname=sni)  # fmt: skip
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    cn = (
        x509.load_der_x509_certificate(der)
        .subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
        .value
    )
    writer.write(f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
    body = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    return str(cn), body


async def test_https_sni_and_rotation(h: Harness) -> None:
    await h.echo("a", "b")
    tls = {"mode": "Terminate"}

    def objs(a_cert: tuple[bytes, bytes]) -> list[dict[str, Any]]:
        o = [gateway_class(), gateway("gw", [
            listener("a", h.port, "a.example.com", "HTTPS",
                     tls={**tls, "certificateRefs": [{"name": "cert-a"}]}),
            listener("b", h.port, "b.example.com", "HTTPS",
                     tls={**tls, "certificateRefs": [{"name": "cert-b"}]}),
        ]), secret("cert-a", a_cert), secret("cert-b", cert("b.example.com"))]  # fmt: skip
        o += h.svc("a") + h.svc("b")
        o += [route("ra", [{"backendRefs": [backend("a")]}],
                    parents=[{"name": "gw", "sectionName": "a"}]),
              route("rb", [{"backendRefs": [backend("b")]}],
                    parents=[{"name": "gw", "sectionName": "b"}])]  # fmt: skip
        return o

    await h.start(objs(cert("a.example.com")))
    cn, body = await fetch(h.port, "a.example.com")
    assert cn == "a.example.com"
    assert b"x-backend: a" in body and b'"x-forwarded-proto": "https"' in body
    cn, body = await fetch(h.port, "b.example.com")
    assert cn == "b.example.com" and b"x-backend: b" in body
    # rotate a's certificate: new handshakes get it, the socket stays open
    await h.apply(objs(cert("a.example.com-rotated")))
    cn, body = await fetch(h.port, "a.example.com")
    assert cn == "a.example.com-rotated" and b"x-backend: a" in body
