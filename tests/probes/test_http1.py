"""The HTTP/1.1 request probe: raw bytes judged (pure), and real origins on loopback."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from cfremedy.probes.http1 import parse_response, response_probe
from cfremedy.probes.results import Outcome


def _parse(raw: bytes, timed_out: bool = False):
    return parse_response(raw, scheme="https", port=443, timed_out=timed_out, capped=False, elapsed=1.0, timeout=2.0)


def _head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_correct_gzip_response() -> None:
    body = gzip.compress(b"hello " * 100)
    result = _parse(_head("HTTP/1.1 200 OK", "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body)
    assert result.outcome is Outcome.OK and result.status == 200
    assert result.body_complete and result.decode_error == "" and result.content_encoding == "gzip"


def test_gzip_with_the_uncompressed_length_is_short() -> None:
    body = gzip.compress(b"hello " * 100)
    result = _parse(_head("HTTP/1.1 200 OK", "Content-Encoding: gzip", "Content-Length: 600") + body)
    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert (result.content_length, result.body_bytes, result.body_complete) == (600, len(body), False)
    assert "declares Content-Length 600" in result.error


def test_a_broken_gzip_stream() -> None:
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate"
    result = _parse(_head("HTTP/1.1 200 OK", "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body)
    assert result.outcome is Outcome.OK and "not valid gzip" in result.decode_error


def test_a_truncated_gzip_stream() -> None:
    body = gzip.compress(b"x" * 5000)[:-12]
    result = _parse(_head("HTTP/1.1 200 OK", "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body)
    assert "truncated" in result.decode_error


def test_chunked_gzip_is_decoded_through_its_framing() -> None:
    body = gzip.compress(b"chunk " * 50)
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    result = _parse(_head("HTTP/1.1 200 OK", "Content-Encoding: gzip", "Transfer-Encoding: chunked") + chunked)
    assert result.chunked and result.body_complete and result.decode_error == ""


def test_empty_reply_and_missing_status_line() -> None:
    empty = _parse(b"")
    assert empty.empty and empty.outcome is Outcome.PROTOCOL_ERROR
    headless = _parse(_head("Content-Type: text/html", "Content-Length: 2") + b"hi")
    assert headless.status is None and headless.headers_complete
    assert headless.status_line == "Content-Type: text/html" and "not an HTTP/1.x response" in headless.error


def test_header_size_is_measured_past_16_kb() -> None:
    cookies = [f"Set-Cookie: c{i}={'v' * 1000}" for i in range(20)]
    raw = _head("HTTP/1.1 200 OK", *cookies, "Content-Length: 0")
    result = _parse(raw)
    assert result.status == 200 and result.header_bytes == len(raw) > 16384


def test_informational_responses_are_read_past() -> None:
    final = _head("HTTP/1.1 200 OK", "Content-Length: 5") + b"hello"
    result = _parse(_head("HTTP/1.1 100 Continue") + final)
    assert (result.outcome, result.status, result.header_bytes, result.informational) == (
        Outcome.OK,
        200,
        len(final) - 5,
        (100,),
    )
    # 101 Switching Protocols is a final answer (one a `GET /` never asked for), never skipped.
    assert _parse(_head("HTTP/1.1 101 Switching Protocols", "Upgrade: h2c")).informational == ()
    stalled = _parse(_head("HTTP/1.1 103 Early Hints"), timed_out=True)
    assert stalled.outcome is Outcome.TIMEOUT and "then stalled" in stalled.error


def test_a_stall_before_any_byte_is_a_timeout_not_an_empty_reply() -> None:
    result = _parse(b"", timed_out=True)
    assert result.outcome is Outcome.TIMEOUT and not result.empty


async def _serve(reply: bytes) -> tuple[asyncio.Server, int, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


@pytest.mark.parametrize(
    "reply, check",
    [
        (
            _head("HTTP/1.1 301 Moved Permanently", "Location: https://www.example.com/", "Content-Length: 0"),
            lambda r: r.redirect and r.location == "https://www.example.com/",
        ),
        (b"", lambda r: r.empty),
        # 100 Continue and 103 Early Hints come before the real answer, which is what counts.
        (
            _head("HTTP/1.1 100 Continue")
            + _head("HTTP/1.1 103 Early Hints", "Link: </style.css>; rel=preload; as=style")
            + _head("HTTP/1.1 502 Bad Gateway", "Content-Length: 2")
            + b"no",
            lambda r: (
                (r.outcome, r.status, r.informational, r.status_line, r.body_complete)
                == (Outcome.OK, 502, (100, 103), "HTTP/1.1 502 Bad Gateway", True)
            ),
        ),
        (
            _head("HTTP/1.1 103 Early Hints", "Link: </a.js>; rel=preload"),
            lambda r: r.outcome is Outcome.PROTOCOL_ERROR and not r.empty and "only informational" in r.error,
        ),
    ],
    ids=["redirect", "empty", "informational-then-final", "informational-only"],
)
def test_against_a_real_server_sends_host_and_accept_encoding(reply: bytes, check) -> None:
    async def go():
        server, port, seen = await _serve(reply)
        async with server:
            result = await response_probe(
                ("127.0.0.1", port), "www.example.com", scheme="http", context=None, timeout=2.0
            )
        return result, seen

    result, seen = asyncio.run(go())
    assert check(result), result
    request = seen[0].decode()
    assert request.startswith("GET / HTTP/1.1\r\n")
    assert "Host: www.example.com" in request and "Accept-Encoding: gzip" in request


def test_a_closed_port_is_refused() -> None:
    async def go():
        server, port, _ = await _serve(b"")
        server.close()
        await server.wait_closed()
        return await response_probe(("127.0.0.1", port), "x.example.com", scheme="http", context=None, timeout=2.0)

    assert asyncio.run(go()).outcome is Outcome.REFUSED
