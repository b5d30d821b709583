"""One HTTP/1.1 request to an origin, sent as Cloudflare sends it, read as raw bytes.

The 520 and 502 causes in the article are responses an HTTP client library refuses to hand
over: an empty reply, no status line, a header block past 16 KB, a gzip body whose
Content-Length was not updated. So the bytes are read until the origin closes (we ask for
`Connection: close`) or a cap, and only then framed by `h11` (the HTTP/1.1 state machine httpx
itself builds on); sizes and lengths are measured on the raw bytes, not inferred from errors.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from typing import Any

import h11

from cfremedy.probes.classify import classify, describe
from cfremedy.probes.results import HttpResponseResult, Outcome

# Read at most this much: enough to measure a header block well past Cloudflare's 16 KB limit
# and to decode a typical front page, small enough that a hostile origin cannot hurt us.
MAX_HEAD = 64 * 1024
MAX_BODY = 2 * 1024 * 1024
_USER_AGENT = "cfremedy-probe"


def _request(hostname: str) -> bytes:
    client = h11.Connection(h11.CLIENT)
    head = client.send(
        h11.Request(
            method="GET",
            target="/",
            headers=[
                ("Host", hostname),
                ("User-Agent", _USER_AGENT),
                ("Accept", "*/*"),
                ("Accept-Encoding", "gzip"),
                ("Connection", "close"),
            ],
        )
    )
    return (head or b"") + (client.send(h11.EndOfMessage()) or b"")


async def _read_all(reader: asyncio.StreamReader, deadline: float) -> tuple[bytes, bool, bool]:
    """Everything the origin sends until it closes; (data, timed out, capped)."""
    data = bytearray()
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return bytes(data), True, False
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            return bytes(data), True, False
        except (ConnectionError, ssl.SSLError):
            return bytes(data), False, False  # a reset after the data is still the data
        if not chunk:
            return bytes(data), False, False
        data += chunk
        if len(data) >= MAX_HEAD + MAX_BODY:
            return bytes(data), False, True


def _gunzip(body: bytes) -> str:
    """ "" when `body` is one complete gzip stream, else why not."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        decoder.decompress(body)
        decoder.flush()
    except zlib.error as exc:
        return f"not valid gzip ({describe(exc)})"
    if not decoder.eof:
        return "the gzip stream ends before its end marker (truncated)"
    return ""


def parse_response(
    raw: bytes, *, scheme: str, port: int, timed_out: bool, capped: bool, elapsed: float, timeout: float
) -> HttpResponseResult:
    """Judge the bytes of one response to `GET /` (pure: unit-tested without sockets)."""
    base: dict[str, Any] = {"scheme": scheme, "port": port, "elapsed_ms": elapsed, "capped": capped}
    if not raw:
        if timed_out:
            return HttpResponseResult(Outcome.TIMEOUT, f"no response within {timeout:g} s", **base)
        return HttpResponseResult(
            Outcome.PROTOCOL_ERROR, "the origin closed the connection without sending a byte", empty=True, **base
        )
    end = raw.find(b"\r\n\r\n")
    complete = end >= 0
    header_bytes = end + 4 if complete else len(raw[:MAX_HEAD])
    first_line = raw.split(b"\r\n", 1)[0][:200].decode("latin-1", "replace")
    base.update(header_bytes=header_bytes, headers_complete=complete, status_line=first_line)
    if not complete:
        outcome = Outcome.TIMEOUT if timed_out else Outcome.PROTOCOL_ERROR
        why = "stalled" if timed_out else "closed the connection"
        return HttpResponseResult(
            outcome, f"the origin {why} before the end of its header block ({header_bytes} bytes received)", **base
        )

    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "probe")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw[:header_bytes])
    try:
        event = client.next_event()
    except h11.RemoteProtocolError as exc:
        return HttpResponseResult(Outcome.PROTOCOL_ERROR, f"not an HTTP/1.x response: {describe(exc)}", **base)
    if not isinstance(event, h11.Response):
        return HttpResponseResult(Outcome.PROTOCOL_ERROR, "no HTTP response head in what the origin sent", **base)

    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in event.headers}
    declared = headers.get("content-length")
    length = int(declared) if declared and declared.isdigit() else None
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    body = raw[header_bytes:]
    encoding = headers.get("content-encoding", "").strip().lower()
    fields: dict[str, Any] = dict(
        status=event.status_code,
        location=headers.get("location", ""),
        content_encoding=encoding,
        content_length=length,
        chunked=chunked,
        body_bytes=len(body),
    )

    payload, problem = body, ""
    if chunked:
        client.receive_data(body)
        if not timed_out and not capped:
            client.receive_data(b"")
        pieces: list[bytes] = []
        try:
            while True:
                nxt = client.next_event()
                if isinstance(nxt, h11.Data):
                    pieces.append(bytes(nxt.data))
                elif nxt in (h11.NEED_DATA, h11.PAUSED) or isinstance(nxt, (h11.EndOfMessage, h11.ConnectionClosed)):
                    complete_body = isinstance(nxt, h11.EndOfMessage)
                    break
        except h11.RemoteProtocolError as exc:
            complete_body, problem = False, f"broken chunked body: {describe(exc)}"
        payload = b"".join(pieces)
    elif length is not None:
        complete_body = len(body) == length
        if len(body) < length and not capped:
            problem = f"declares Content-Length {length} but sent {len(body)} bytes" + (
                " and then stalled" if timed_out else " and closed the connection"
            )
        elif len(body) > length:
            problem = f"declares Content-Length {length} but sent {len(body)} bytes"
        payload = body[:length]
    else:
        complete_body = not timed_out and not capped  # delimited by the close we asked for

    decode_error = ""
    if encoding == "gzip" and complete_body and event.status_code not in (204, 304):
        decode_error = _gunzip(payload)
    outcome = Outcome.OK
    if problem:
        outcome = Outcome.PROTOCOL_ERROR
    elif timed_out and not complete_body:
        outcome, problem = Outcome.TIMEOUT, f"the body did not finish within {timeout:g} s"
    return HttpResponseResult(
        outcome, problem, body_complete=complete_body, decode_error=decode_error, **fields, **base
    )


async def response_probe(
    connect: tuple[str, int],
    hostname: str,
    *,
    scheme: str,
    context: ssl.SSLContext | None,
    timeout: float,
    port: int | None = None,
    host: str = "",
) -> HttpResponseResult:
    """`GET /` with SNI = hostname and Host = `host` (default the hostname), over TLS when
    `scheme` is https.

    `port` is the port Cloudflare would use (443 or 80), reported in the result; `connect` is
    where the bytes really go (it differs under `--connect-to`).
    """
    port = port or connect[1]
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    deadline = loop.time() + timeout

    def elapsed() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                connect[0],
                connect[1],
                ssl=context if scheme == "https" else None,
                server_hostname=hostname if scheme == "https" else None,
            )
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return HttpResponseResult(outcome, error, scheme=scheme, port=port, elapsed_ms=elapsed())
    try:
        writer.write(_request(host or hostname))
        await writer.drain()
        raw, timed_out, capped = await _read_all(reader, deadline)
    except Exception as exc:  # noqa: BLE001
        outcome, error = classify(exc, timeout)
        return HttpResponseResult(outcome, error, scheme=scheme, port=port, elapsed_ms=elapsed())
    finally:
        writer.transport.abort()  # we have what we came for; no close_notify dance
    return parse_response(
        raw, scheme=scheme, port=port, timed_out=timed_out, capped=capped, elapsed=elapsed(), timeout=timeout
    )
