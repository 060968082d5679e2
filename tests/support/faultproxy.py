"""A loopback HTTPS proxy in front of the real API server that injects failures on schedule.

Controllers must retry 429, 5xx and conflicts with backoff; this proxy makes those answers happen
for real requests of a real process, while everything else reaches the real API server. It
speaks HTTP/1.1 (ALPN offers nothing else, so clients fall back from HTTP/2), streams watch
responses through, and counts what it injected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import h11
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tether.cluster.config import ClusterConfig


def serving_context(pki_dir: Path) -> ssl.SSLContext:
    """A TLS context for 127.0.0.1 whose certificate the instance's own CA signed."""
    ca = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fault-proxy")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    folder = Path(tempfile.mkdtemp(prefix="fault-proxy-"))
    (folder / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "tls.crt", folder / "tls.key")
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass
class FaultProxy:
    upstream: ClusterConfig
    every: dict[int, int]  # status -> inject on every n-th eligible request
    port: int = 0
    injected: Counter[int] = field(default_factory=Counter)
    forwarded: int = 0
    _eligible: int = 0
    _server: asyncio.base_events.Server | None = None
    _client: httpx.AsyncClient | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start_in_thread(self, context: ssl.SSLContext) -> None:
        """Serve from a thread of its own: the test's event loop may block (e.g. on a process)."""
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start(context))
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fault-proxy", daemon=True)
        self._thread.start()
        started.wait(10)

    def stop_thread(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    async def start(self, context: ssl.SSLContext) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.upstream.server,
            verify=self.upstream.ssl_context,
            timeout=httpx.Timeout(None, connect=5),
        )
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._client is not None:
            await self._client.aclose()

    def _fault(self, method: str, target: str) -> int | None:
        if "watch=1" in target or "watch=true" in target:
            return None
        if method == "POST" and "/events" in target:
            return None  # events are fire-and-forget; failing them proves nothing
        self._eligible += 1
        for status, n in sorted(self.every.items()):
            if status == 409 and method != "PATCH":
                continue
            if self._eligible % n == 0:
                return status
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await self._read_request(conn, reader)
                if request is None:
                    return
                await self._answer(conn, writer, request, body)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request, body = None, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and request is None:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> None:
        method, target = request.method.decode(), request.target.decode()
        fault = self._fault(method, target)
        if fault is not None:
            self.injected[fault] += 1
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": fault,
                "reason": {409: "Conflict", 429: "TooManyRequests"}.get(fault, "InternalError"),
                "message": f"injected by the fault proxy ({fault})",
            }
            payload = json.dumps(status).encode()
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Retry-After", "0"),
            ]
            writer.write(conn.send(h11.Response(status_code=fault, headers=headers)) or b"")
            writer.write(conn.send(h11.Data(data=payload)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            return
        self.forwarded += 1
        assert self._client is not None
        headers = [
            (k.decode(), v.decode())
            for k, v in request.headers
            if k.lower() not in (b"host", b"authorization", b"content-length", b"connection")
        ]
        upstream = self._client.build_request(method, target, headers=headers, content=body or None)
        response = await self._client.send(upstream, stream=True)
        try:
            out = [
                (k, v)
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            out.append(("Transfer-Encoding", "chunked"))
            writer.write(
                conn.send(h11.Response(status_code=response.status_code, headers=out)) or b""
            )
            async for chunk in response.aiter_raw():
                writer.write(conn.send(h11.Data(data=chunk)) or b"")
                await writer.drain()
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        finally:
            await response.aclose()
