"""One HTTP/1.1 request to an origin, sent as Cloudflare sends it, read as raw bytes.

The 520 and 502 causes in the article are responses an HTTP client library refuses to hand
over: an empty reply, no status line, a header block past 16 KB, a gzip body whose
Content-Length was not updated. So the bytes are read until the origin closes (we ask for
`Connection: close`) or a cap, and only then framed by `h11` (the HTTP/1.1 state machine httpx
itself builds on); sizes and lengths are measured on the raw bytes, not inferred from errors.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import zlib
from typing import Any

import h11

from cfremedy.probes.classify import classify, describe, is_alert
from cfremedy.probes.results import HttpResponseResult, KeepAliveResult, Outcome

# Read at most this much: enough to measure a header block well past Cloudflare's 16 KB limit
# and to decode a typical front page, small enough that a hostile origin cannot hurt us.
MAX_HEAD = 64 * 1024
MAX_BODY = 2 * 1024 * 1024
_USER_AGENT = "cfremedy-probe"


def _headers(hostname: str, *, close: bool) -> list[tuple[str, str]]:
    headers = [("Host", hostname), ("User-Agent", _USER_AGENT), ("Accept", "*/*"), ("Accept-Encoding", "gzip")]
    return [*headers, ("Connection", "close")] if close else headers


def _request(hostname: str) -> bytes:
    client = h11.Connection(h11.CLIENT)
    head = client.send(h11.Request(method="GET", target="/", headers=_headers(hostname, close=True)))
    return (head or b"") + (client.send(h11.EndOfMessage()) or b"")


def _tls_alert(exc: BaseException) -> str:
    """OpenSSL's text for an alert the origin sent mid-session ("" for any other failure)."""
    return describe(exc) if is_alert(exc) else ""


async def _read_all(reader: asyncio.StreamReader, deadline: float) -> tuple[bytes, bool, bool, str]:
    """Everything the origin sends until it closes; (data, timed out, capped, TLS alert)."""
    data = bytearray()
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return bytes(data), True, False, ""
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            return bytes(data), True, False, ""
        except (ConnectionError, ssl.SSLError) as exc:
            # A reset after the data is still the data; an alert before any (TLS 1.3 origins
            # that demand a client certificate send it once the client has finished its
            # handshake) is a failed TLS session, not an empty HTTP answer.
            return bytes(data), False, False, _tls_alert(exc)
        if not chunk:
            return bytes(data), False, False, ""
        data += chunk
        if len(data) >= MAX_HEAD + MAX_BODY:
            return bytes(data), False, True, ""


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


_INFORMATIONAL = re.compile(rb"HTTP/1\.[01] (1[0-9][0-9])(?:[ \r])")


def _skip_informational(raw: bytes) -> tuple[bytes, tuple[int, ...]]:
    """The bytes from the final response on, and the 1xx statuses before it (100 Continue,
    103 Early Hints): a client reads past those, as Cloudflare does. 101 is final here: it
    switches protocols, which a `GET /` never asked for."""
    codes: list[int] = []
    while True:
        match = _INFORMATIONAL.match(raw)
        end = raw.find(b"\r\n\r\n")
        if match is None or end < 0 or match.group(1) == b"101":
            return raw, tuple(codes)
        codes.append(int(match.group(1)))
        raw = raw[end + 4 :]


def parse_response(
    raw: bytes,
    *,
    scheme: str,
    port: int,
    timed_out: bool,
    capped: bool,
    elapsed: float,
    timeout: float,
    tls_alert: str = "",
) -> HttpResponseResult:
    """Judge the bytes of one response to `GET /` (pure: unit-tested without sockets)."""
    base: dict[str, Any] = {"scheme": scheme, "port": port, "elapsed_ms": elapsed, "capped": capped}
    raw, informational = _skip_informational(raw)
    if informational:
        base["informational"] = informational
        if not raw:
            sent = ", ".join(str(code) for code in informational)
            why = "then stalled" if timed_out else "then closed the connection"
            return HttpResponseResult(
                Outcome.TIMEOUT if timed_out else Outcome.PROTOCOL_ERROR,
                f"the origin sent only informational responses ({sent}), {why} before its final response",
                **base,
            )
    if not raw and tls_alert:
        return HttpResponseResult(
            Outcome.TLS_ALERT, f"the origin ended the TLS session with an alert before answering ({tls_alert})", **base
        )
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


async def _open(
    connect: tuple[str, int], hostname: str, scheme: str, context: ssl.SSLContext | None, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection as Cloudflare opens one to the origin: TLS with SNI = hostname when `scheme`
    is https, plain otherwise; within `timeout`."""
    tls = scheme == "https"
    async with asyncio.timeout(timeout):
        return await asyncio.open_connection(
            connect[0], connect[1], ssl=context if tls else None, server_hostname=hostname if tls else None
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
        reader, writer = await _open(connect, hostname, scheme, context, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return HttpResponseResult(outcome, error, scheme=scheme, port=port, elapsed_ms=elapsed())
    try:
        writer.write(_request(host or hostname))
        await writer.drain()
        raw, timed_out, capped, alert = await _read_all(reader, deadline)
    except Exception as exc:  # noqa: BLE001
        outcome, error = classify(exc, timeout)
        return HttpResponseResult(outcome, error, scheme=scheme, port=port, elapsed_ms=elapsed())
    finally:
        writer.transport.abort()  # we have what we came for; no close_notify dance
    return parse_response(
        raw,
        scheme=scheme,
        port=port,
        timed_out=timed_out,
        capped=capped,
        elapsed=elapsed(),
        timeout=timeout,
        tls_alert=alert,
    )


class _Closed(Exception):
    """The origin closed the connection (or reset it) while a response was awaited."""


async def _next_response(
    client: h11.Connection, reader: asyncio.StreamReader, deadline: float
) -> tuple[h11.Response, int]:
    """Read one whole response (head and body) on a kept connection: its head and body size.

    Raises `_Closed` when the origin hangs up first, TimeoutError past the deadline, and
    h11's RemoteProtocolError on bytes that are not HTTP/1.1.
    """
    loop = asyncio.get_running_loop()
    head: h11.Response | None = None
    size = 0
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                chunk = await asyncio.wait_for(reader.read(65536), remaining)
            except (ConnectionError, ssl.SSLError) as exc:
                raise _Closed(describe(exc)) from exc
            client.receive_data(chunk)
            if not chunk and head is None:
                raise _Closed("end of stream")
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise ValueError("the response is over 2 MiB")
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, size
        elif isinstance(event, h11.ConnectionClosed):
            raise _Closed("end of stream")


def _close_reason(head: h11.Response) -> str:
    """Why the origin's answer ends the connection, or ""."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in head.headers}
    if "close" in headers.get("connection", "").lower():
        return "it answered the first request with Connection: close"
    if head.http_version == b"1.0" and "keep-alive" not in headers.get("connection", "").lower():
        return "it answered over HTTP/1.0 without keep-alive"
    return ""


async def keepalive_probe(
    connect: tuple[str, int],
    hostname: str,
    *,
    scheme: str,
    context: ssl.SSLContext | None,
    timeout: float,
    port: int | None = None,
    host: str = "",
) -> KeepAliveResult:
    """Two `GET /` on one connection, as Cloudflare reuses its connections to an origin: does
    the origin keep the connection open after the first response?"""
    port = port or connect[1]
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    deadline = loop.time() + 2 * timeout
    base: dict[str, Any] = {"scheme": scheme, "port": port}

    def elapsed() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        reader, writer = await _open(connect, hostname, scheme, context, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        outcome, error = classify(exc, timeout)
        return KeepAliveResult(outcome, error, elapsed_ms=elapsed(), **base)
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
    request = h11.Request(method="GET", target="/", headers=_headers(host or hostname, close=False))
    first: h11.Response | None = None
    try:
        writer.write((client.send(request) or b"") + (client.send(h11.EndOfMessage()) or b""))
        await writer.drain()
        first, _ = await _next_response(client, reader, deadline)
        reason = _close_reason(first)
        if not reason and client.their_state is not h11.DONE:
            reason = "its first response has no length (neither Content-Length nor chunked): it ends by closing"
        if reason:
            return KeepAliveResult(
                Outcome.OK, first_status=first.status_code, closed_after_first=reason, elapsed_ms=elapsed(), **base
            )
        client.start_next_cycle()
        writer.write((client.send(request) or b"") + (client.send(h11.EndOfMessage()) or b""))
        await writer.drain()
        second, _ = await _next_response(client, reader, deadline)
    except _Closed as exc:
        if first is None:
            return KeepAliveResult(Outcome.RESET, f"no first response: {exc}", elapsed_ms=elapsed(), **base)
        return KeepAliveResult(
            Outcome.OK,
            first_status=first.status_code,
            closed_after_first="it closed the connection instead of answering a second request on it",
            elapsed_ms=elapsed(),
            **base,
        )
    except TimeoutError:
        which = "first" if first is None else "second"
        return KeepAliveResult(
            Outcome.TIMEOUT,
            f"no complete answer to the {which} request within {timeout:g} s",
            first_status=first.status_code if first else None,
            elapsed_ms=elapsed(),
            **base,
        )
    except (h11.RemoteProtocolError, h11.LocalProtocolError, ValueError, OSError) as exc:
        outcome = Outcome.PROTOCOL_ERROR if isinstance(exc, h11.ProtocolError) else Outcome.ERROR
        return KeepAliveResult(outcome, describe(exc), elapsed_ms=elapsed(), **base)
    finally:
        writer.transport.abort()
    return KeepAliveResult(
        Outcome.OK,
        first_status=first.status_code,
        second_status=second.status_code,
        reused=True,
        elapsed_ms=elapsed(),
        **base,
    )
