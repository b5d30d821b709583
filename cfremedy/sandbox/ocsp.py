"""The sandbox's OCSP responder: a real HTTP server on loopback that answers for the sandbox CA.

Leaves of the sandbox CA whose origin asks for it (`ocsp = "good"` or `"revoked"` in a scenario)
name this responder in their Authority Information Access extension; the probes then ask it,
as they would ask a public CA's responder, and get an answer signed by the sandbox CA. It
answers RFC 6960 POST requests and RFC 5019 GET requests (the request, base64, in the path);
a serial it does not know gets the "unauthorized" error a real responder sends for a
certificate that is not its CA's.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from cfremedy.sandbox.certs import Issuer, ocsp_response

MAX_REQUEST = 16 * 1024


class OcspResponder:
    """Answers for the leaves registered with `register`, signed by `issuer`."""

    def __init__(self, issuer: Issuer, host: str = "127.0.0.1") -> None:
        self.issuer = issuer
        self._leaves: dict[int, tuple[x509.Certificate, str]] = {}
        self._lock = threading.Lock()
        self.requests: list[int] = []  # the serials asked about, in order
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_REQUEST:
                    self.send_error(400)
                    return
                self._answer(self.rfile.read(length))

            def do_GET(self) -> None:
                try:
                    der = base64.b64decode(unquote(self.path.lstrip("/")), validate=False)
                except ValueError:
                    self.send_error(400)
                    return
                self._answer(der)

            def _answer(self, der: bytes) -> None:
                body = responder.answer(der)
                if body is None:
                    self.send_error(400)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: tests read `requests`

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def register(self, leaf: x509.Certificate, status: str) -> None:
        """Answer `status` (good or revoked) for this leaf from now on."""
        with self._lock:
            self._leaves[leaf.serial_number] = (leaf, status)

    def answer(self, der: bytes) -> bytes | None:
        """The DER response to one DER request; None when the request is not one."""
        try:
            request = ocsp.load_der_ocsp_request(der)
        except ValueError:
            return None
        with self._lock:
            self.requests.append(request.serial_number)
            known = self._leaves.get(request.serial_number)
        if known is None:
            unknown = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
            return unknown.public_bytes(serialization.Encoding.DER)
        leaf, status = known
        return ocsp_response(leaf, self.issuer, status).public_bytes(serialization.Encoding.DER)

    def start(self) -> OcspResponder:
        self._thread = threading.Thread(target=self._server.serve_forever, name="cfremedy-ocsp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OcspResponder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
