"""An HTTP/1.1 server on loopback that never finishes its answer, for the tests of deadlines.

`trickle`: the status line and headers at once, then the body one byte every `interval` seconds
(a read timeout never trips: each read gets a byte). `endless`: a chunked body that never ends,
as fast as the client reads. `slow_head`: the status line itself one byte at a time. Each
connection is served by a thread that stops when the client goes away or the server stops.
"""

from __future__ import annotations

import contextlib
import socket

from tests.loopback_server import LoopbackServer

HEAD = (
    b"HTTP/1.1 502 Bad Gateway\r\nServer: cloudflare\r\nCF-RAY: 0123456789abcdef-SJC\r\n"
    b"Content-Type: text/html; charset=UTF-8\r\n"
)


class SlowServer(LoopbackServer):
    def __init__(self, mode: str, interval: float = 0.05, prefix: bytes = b"") -> None:
        self.mode = mode
        self.interval = interval
        self.prefix = prefix  # body bytes sent at once, before the trickle
        self.requests: list[bytes] = []  # each request's head, as received
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        with contextlib.closing(client), contextlib.suppress(OSError):
            client.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            self.requests.append(head)
            if self.mode == "slow_head":
                for byte in HEAD:
                    if self.stopping.wait(self.interval):
                        return
                    client.sendall(bytes([byte]))
                return
            if self.mode == "trickle":
                client.sendall(HEAD + b"Content-Length: 10000000\r\n\r\n" + self.prefix)
                while not self.stopping.wait(self.interval):
                    client.sendall(b" ")
                return
            client.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            while not self.stopping.is_set():
                client.sendall(framed)
