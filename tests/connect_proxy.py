"""A tiny HTTP CONNECT proxy on loopback, for the tests of clients that must honour HTTPS_PROXY.

It resolves nothing: a CONNECT for a name in `routes` is tunnelled to the loopback address given
there, anything else is refused with 502, so a client that goes through it can never reach
beyond the machine. Every CONNECT line is recorded (`requests`), which is what the tests check:
that the request went through the proxy, and which requests did not.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping

from tests.loopback_server import LoopbackServer


class ConnectProxy(LoopbackServer):
    def __init__(self, routes: Mapping[str, tuple[str, int]]) -> None:
        super().__init__()
        self.routes = {k.lower(): v for k, v in routes.items()}
        self.requests: list[str] = []  # "host:port" of each CONNECT, in order
        self.url = f"http://127.0.0.1:{self.port}"

    def serve(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            with self._lock:
                self.requests.append(target if method == "CONNECT" else f"{method} {target}")
            host, _, port = target.rpartition(":")
            destination = self.routes.get(host.lower().strip("[]"))
            if method != "CONNECT" or destination is None or not port.isdigit():
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with contextlib.closing(socket.create_connection(destination, timeout=10)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._relay(client, upstream)

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        def pump(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while not self.stopping.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        other = threading.Thread(target=pump, args=(b, a), daemon=True)
        other.start()
        pump(a, b)
        other.join(timeout=10)
