"""Turning the exceptions of sockets, ssl and httpx into `Outcome`s.

The mapping is where the 5xx article meets the socket API: a refused connect is a 521, a
timed-out one a 522, an address the network says it cannot route to a 523 (one this machine
has no route to is our side's failure: `tcp.connect`), an alert during the handshake a 525. Keeping
it in one place means TCP, TLS and HTTP/2 steps agree on what each failure means.
"""

from __future__ import annotations

import errno
import ssl

import h2.exceptions
import httpx

from cfremedy.probes.results import Outcome

# Unreachable: 523 evidence only when the network said so (a router's ICMP); `tcp.connect` turns
# the ones this machine raises itself (no route of its own) into our side's failure.
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN}
# Always this machine's own failure (no local address to send from, an interface down, no
# ephemeral port left): never evidence about the origin.
_LOCAL = {errno.EADDRNOTAVAIL, errno.ENETDOWN}
# OpenSSL's reasons for "the peer's bytes are not a TLS record" (they vary across versions).
_NOT_TLS_REASONS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNKNOWN_PROTOCOL",
    "RECORD_LENGTH_MISMATCH",
}


# OpenSSL's reasons for alerts the peer sent that do not say "ALERT" in their name.
_ALERT_REASONS = {
    "TLSV1_UNRECOGNIZED_NAME",
    "TLSV1_UNSUPPORTED_EXTENSION",
    "TLSV1_CERTIFICATE_UNOBTAINABLE",
    "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",
    "TLSV1_BAD_CERTIFICATE_HASH_VALUE",
}


def is_alert(exc: BaseException) -> bool:
    """Whether an SSL error is the peer's alert (it refused the handshake or ended the session)."""
    if not isinstance(exc, ssl.SSLError):
        return False
    reason = exc.reason or ""
    return "ALERT" in reason or reason in _ALERT_REASONS


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def classify(exc: BaseException, timeout: float | None = None) -> tuple[Outcome, str]:
    """The outcome and a human-readable reason for a failed connect or TLS handshake."""
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT, f"no answer within {timeout:g} s" if timeout else describe(exc)
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return Outcome.RESET, f"connection closed during the TLS handshake ({describe(exc)})"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if is_alert(exc):
            return Outcome.TLS_ALERT, describe(exc)
        if reason in _NOT_TLS_REASONS:
            return Outcome.NOT_TLS, f"the origin did not answer with TLS ({describe(exc)})"
        return Outcome.ERROR, describe(exc)
    if isinstance(exc, ConnectionRefusedError):
        return Outcome.REFUSED, "connection refused"
    if isinstance(exc, ConnectionResetError):
        return Outcome.RESET, "connection reset by the origin"
    if isinstance(exc, (ConnectionAbortedError, BrokenPipeError, EOFError)):
        return Outcome.RESET, f"connection closed by the origin ({describe(exc)})"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return Outcome.UNREACHABLE, describe(exc)
    if isinstance(exc, OSError) and exc.errno in _LOCAL:
        return Outcome.ERROR, f"this machine cannot connect ({describe(exc)}): a failure on our side"
    return Outcome.ERROR, describe(exc)


def classify_http(exc: BaseException, timeout: float | None = None) -> tuple[Outcome, str]:
    """Like `classify`, for the HTTP/2 request: protocol breakage is the 520 we look for."""
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.TIMEOUT, f"no answer within {timeout:g} s" if timeout else describe(exc)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, h2.exceptions.ProtocolError)):
        return Outcome.PROTOCOL_ERROR, describe(exc)
    if isinstance(exc, httpx.TransportError):
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, OSError) and (cause.__cause__ or cause.__context__):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, OSError):
            outcome, _ = classify(cause, timeout)
            if outcome is not Outcome.ERROR:
                return outcome, describe(exc) if str(exc) else describe(cause)
        return Outcome.ERROR, describe(exc)
    return classify(exc, timeout)
