"""What every sandbox HTTP server shares: loopback only, a background thread, a clean stop.

The fake API and the fake edge are both stdlib `ThreadingHTTPServer`s that tests start and stop
hundreds of times: they must bind nowhere but loopback, answer in one TCP segment (a split
write meets the client's delayed ACK and costs ~40 ms a request), stay silent (headers, cookies
and tokens among them, must never reach a terminal), treat a vanishing client as routine, and
on stop leave no keep-alive connection behind to outlive the test.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address("127.0.0.1" if host == "localhost" else host).is_loopback
    except ValueError:
        return False


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[TrackedHandler], owner: LoopbackServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client vanishing mid-request (killed, timed out) is routine here, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class TrackedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    server_version = "cloudflare"
    sys_version = ""
    server: QuietServer
    timeout = 120  # an idle keep-alive connection is dropped after this
    wbufsize = 64 * 1024  # buffered, and no Nagle below: headers and body in one segment

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silent: headers must never reach a terminal or a log file."""

    def version_string(self) -> str:
        return self.server_version  # "server: cloudflare", without a Python version


class LoopbackServer:
    """Start/stop/context-manager plumbing; subclasses name their handler and thread."""

    handler_class: type[TrackedHandler]
    server_class: type[QuietServer] = QuietServer
    kind = "sandbox server"

    def __init__(self, host: str, port: int) -> None:
        if not is_loopback(host):
            raise ValueError(f"the {self.kind} binds to loopback only, not {host!r}")
        self._host = host
        self._port = port
        self._server: QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = self.server_class((self._host, self._port), self.handler_class, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() returns within ~10 ms
            name=f"{self.kind}:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # wake handler threads parked on keep-alive reads
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError(f"the {self.kind} is not running; call start() first")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
