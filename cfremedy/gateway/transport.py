"""Sending one request to the Cloudflare API: the budget, retries, deadlines and clear errors.

Why our own retry loop rather than the SDK's (`max_retries=0`): the SDK caps `Retry-After` at
60 s and then falls back to its own backoff, which on Cloudflare's 5-minute lockout means
burning the remaining attempts; we wait what the API says, up to
`RetryPolicy.max_retry_after`. Every failure becomes one `ApiError` naming what failed and
what to do (a missing permission is named), and the token never appears in any of it.

Time is bounded twice. Each attempt has a whole-request deadline (`timeout`, connection and
body together): httpx's own timeouts are per read, so a body trickled a few bytes at a time
never tripped them. And network failures (no connection, a deadline passed) are retried only
while the call is younger than `timeout`: a blackholed API gives up after about 30 s, not
after four full timeouts.

A write that fails on the network is not retried here (it may have landed: `WriteOutcomeUnknown`,
the caller reads the value back), except when no connection could be made at all: that request
never left, so it is retried like a read and ends as `WriteNotSent`, certainly not applied.

A transport opened without `allow_writes` refuses to send a write. That is the second guard:
the first is that write methods only exist on `WritableGateway`, which only apply and rollback
open.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import cloudflare
import httpx
from pydantic import SecretStr

from cfremedy.errors import (
    ApiError,
    ApiUnreachable,
    AuthenticationFailed,
    MissingPermission,
    NotFound,
    RateLimitExhausted,
    WriteNotSent,
    WriteOutcomeUnknown,
)
from cfremedy.ratelimit import Rate, RateLimiter

log = logging.getLogger("cfremedy.gateway")

T = TypeVar("T")

GRAPHQL_RATE = Rate(250, 300.0)  # under GraphQL Analytics' 300 queries per 5 minutes
DEFAULT_TIMEOUT = 30.0  # seconds: one attempt's deadline, and the retry budget for network failures
CONNECT_TIMEOUT = 6.0  # seconds to establish a connection: the API answers a handshake in well under one


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total attempts per request
    backoff: float = 0.5  # first pause after a 5xx or network error, doubled each time
    max_retry_after: float = 900.0  # honour a 429's Retry-After up to this many seconds


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Op:
    """What a request is for, so an error can say it in the user's terms."""

    what: str
    permission: str = ""
    write: bool = False


class WritesNotAllowed(RuntimeError):
    """A programming error: audit and plan must never reach a write."""


def error_detail(exc: cloudflare.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    errors = body.get("errors") or []
    parts = [f"code {e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
    return f"HTTP {exc.status_code}" + (f", {'; '.join(parts)}" if parts else "")


def error_codes(exc: cloudflare.APIStatusError) -> set[int]:
    body = exc.body if isinstance(exc.body, dict) else {}
    return {e["code"] for e in body.get("errors") or [] if isinstance(e, dict) and isinstance(e.get("code"), int)}


def _retry_after(exc: cloudflare.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, source unknown"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class DeadlinePassed(Exception):
    """An attempt had no complete answer within the whole-request deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")


class NotJson(Exception):
    """A 2xx whose body claimed to be JSON but did not parse (cut off by a proxy, empty): retried
    like a network failure, since the next answer may well be whole. Only a JSON syntax error
    or bytes ending inside a character: a whole answer of the wrong shape is no such thing."""

    def __init__(self, error: ValueError) -> None:
        super().__init__(f"the answer was not JSON ({error})")


def _cut_mid_character(exc: UnicodeDecodeError) -> bool:
    """The bytes end inside a multi-byte character: what an answer cut short looks like."""
    return exc.reason == "unexpected end of data"


def _describe(exc: Exception) -> str:
    """What went wrong, in words: httpx's timeouts carry no message of their own."""
    if isinstance(exc, cloudflare.APIStatusError):
        return error_detail(exc)
    if isinstance(exc, (DeadlinePassed, NotJson)):
        return str(exc)
    cause = exc.__cause__ or exc.__context__ or exc
    if isinstance(cause, httpx.ConnectTimeout):
        return "no connection could be established (connect timed out)"
    if isinstance(cause, httpx.TimeoutException):
        return f"the answer stopped coming ({type(cause).__name__})"
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _network(exc: Exception) -> bool:
    return isinstance(exc, (cloudflare.APIConnectionError, DeadlinePassed, NotJson))


def _not_sent(exc: Exception) -> bool:
    """The request certainly never left: no connection could be made. httpx raises these only
    while connecting (TCP connect, the TLS handshake, a proxy's tunnel), before a byte of the
    request is written; our own whole-request deadline (`DeadlinePassed`) does not say so."""
    return isinstance(exc, cloudflare.APIConnectionError) and isinstance(
        exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout)
    )


class Transport:
    """One SDK client and the protocol every request follows. Use as an async context manager."""

    def __init__(
        self,
        token: SecretStr | None,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        allow_writes: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: RateLimiter | None = None,
        graphql_limiter: RateLimiter | None = None,
    ) -> None:
        self._token = token
        self.base_url = base_url
        self._timeout = timeout
        self._retry = retry
        self.allow_writes = allow_writes
        self._sleep = sleep
        # Shared by every request of this transport; it also carries a 429's pause to all tasks.
        self._limiter = limiter
        # GraphQL Analytics has its own budget (300 queries per 5 minutes), on top of the REST one.
        self.graphql_limiter = graphql_limiter or RateLimiter(GRAPHQL_RATE, sleep=sleep)
        self._client: cloudflare.AsyncCloudflare | None = None
        self.requests_sent = 0

    async def open(self) -> None:
        http_client = cloudflare.DefaultAsyncHttpxClient(event_hooks={"request": [self._count_request]})
        try:
            client = cloudflare.AsyncCloudflare(
                # `cfremedy ips` runs without a token: its only request (`GET /ips`) drops the
                # Authorization header explicitly.
                api_token=self._token.get_secret_value() if self._token is not None else "",
                base_url=self.base_url,
                max_retries=0,  # retries are ours, see the module docstring
                # A quarter of the deadline at most: a blackholed API gets several tries within it.
                timeout=httpx.Timeout(self._timeout, connect=min(CONNECT_TIMEOUT, self._timeout / 4)),
                http_client=http_client,
            )
        except BaseException:  # a base URL httpx refuses, say: the HTTP client is ours to close
            await http_client.aclose()
            raise
        # The SDK also reads CLOUDFLARE_API_KEY/EMAIL from the environment and would prefer them
        # over the token; cfremedy authenticates with the token only.
        client.api_key = None
        client.api_email = None
        client.user_service_key = None
        self._client = client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _count_request(self, request: httpx.Request) -> None:
        self.requests_sent += 1
        log.debug("API %s %s", request.method, request.url.path)

    @property
    def client(self) -> cloudflare.AsyncCloudflare:
        if self._client is None:
            raise RuntimeError("open the gateway first: `async with CloudflareGateway(...) as gw`")
        return self._client

    # -- the one place requests are sent, retried and turned into clear errors -----------------

    async def call(self, op: Op, send: Callable[[], Awaitable[T]]) -> T:
        if op.write and not self.allow_writes:
            raise WritesNotAllowed(f"refusing to {op.what}: this session is read-only")
        loop = asyncio.get_running_loop()
        spent = 0.0  # on the wire and in our own backoff: queueing for the limiter is not counted
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                await self._limiter.acquire()
            failure: Exception
            sent_at = loop.time()
            try:
                async with asyncio.timeout(self._timeout):
                    return await send()
            except cloudflare.APIError as exc:
                failure = exc
            except TimeoutError:
                failure = DeadlinePassed(self._timeout)
            except json.JSONDecodeError as exc:  # the SDK's json.loads of a body that is not (whole) JSON
                failure = NotJson(exc)
            except UnicodeDecodeError as exc:  # json.loads decodes the bytes first
                # Cut off inside a character is cut short; any other bad byte is a bad answer,
                # not retried (to a write: one of unknown outcome, see `_retry_wait`). Other
                # ValueErrors (a pydantic ValidationError of a whole answer of the wrong shape)
                # are not ours: they keep their own handling.
                failure = NotJson(exc) if _cut_mid_character(exc) else exc
            finally:
                if self._limiter is not None:
                    self._limiter.release()  # before any wait below: that is not API traffic
            spent += loop.time() - sent_at
            wait = self._retry_wait(op, failure, attempt, spent)
            if isinstance(failure, cloudflare.RateLimitError) and self._limiter is not None:
                self._limiter.pause(wait)  # every task holds off, not only this one
            else:
                spent += wait
                await self._sleep(wait)

    async def get(
        self, op: Op, path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, Any] | None = None
    ) -> Any:
        """A GET whose JSON body comes back as plain data, without the SDK's typed models.

        Typed parsing costs 15-25 times more CPU than reading the JSON (a 100,000-record zone
        spent two thirds of its audit there), and plain data is what `parse` checks anyway.
        """
        options: cloudflare.RequestOptions = {}
        if params:
            options["params"] = dict(params)
        if headers:
            options["headers"] = dict(headers)
        return await self.call(op, lambda: self.client.get(path, cast_to=object, options=options))

    async def send(self, op: Op, method: str, path: str, body: Any) -> Any:
        """A write (PATCH/POST) with a JSON body; refused unless the transport allows writes."""
        request = getattr(self.client, method.lower())
        return await self.call(op, lambda: request(path, body=body, cast_to=object))

    def _retry_wait(self, op: Op, exc: Exception, attempt: int, elapsed: float) -> float:
        """How long to wait before trying again, or the clear error that ends the call."""
        last = attempt >= self._retry.attempts
        if _network(exc):
            # Whether a failed write landed is unknown: retrying it is the caller's decision,
            # after re-reading the value. Reads are always safe to retry, within the budget, and
            # so is a write that never left (no connection): every earlier attempt of this call
            # was one too, since any other failure of a write ends the call.
            if op.write and not _not_sent(exc):
                raise WriteOutcomeUnknown(
                    f"no answer to the request to {op.what} ({_describe(exc)}); it may or may not have been applied"
                ) from None
            pause = self._backoff(attempt)
            if last or elapsed + pause >= self._timeout:
                if op.write:
                    raise self._not_sent(op, exc, attempt, elapsed) from None
                raise self._unreachable(op, exc, attempt, elapsed) from None
            log.warning("transient failure while trying to %s (%s); retrying in %.1f s", op.what, _describe(exc), pause)
            return pause
        if isinstance(exc, cloudflare.RateLimitError):
            wait = _retry_after(exc)
            if last or (wait is not None and wait > self._retry.max_retry_after):
                raise RateLimitExhausted(
                    f"Cloudflare API rate limit: {op.what} still refused after {attempt}"
                    f" attempts ({error_detail(exc)})",
                    hint="the API allows 1,200 requests per 5 minutes per token; wait and rerun, or lower --rate-limit",
                ) from None
            wait = self._backoff(attempt) if wait is None else wait
            log.warning("rate limited while trying to %s; waiting %.1f s", op.what, wait)
            return wait
        if isinstance(exc, cloudflare.AuthenticationError):
            raise AuthenticationFailed(
                f"the API token was rejected while trying to {op.what} ({error_detail(exc)})",
                hint="check CLOUDFLARE_API_TOKEN: it may be mistyped, revoked or expired",
            ) from None
        if isinstance(exc, cloudflare.PermissionDeniedError):
            if not op.permission:  # a request no permission group covers (verifying the token)
                raise MissingPermission(
                    f"the API token is not allowed to {op.what} ({error_detail(exc)})",
                    permission="",
                    hint="check the token's permissions and the accounts and zones it covers"
                    " (dashboard: My Profile > API Tokens), or run `cfremedy doctor`",
                ) from None
            raise MissingPermission(
                f"the API token lacks the '{op.permission}' permission needed to {op.what} ({error_detail(exc)})",
                permission=op.permission,
                hint=f"add '{op.permission}' for this zone to the token"
                " (dashboard: My Profile > API Tokens), or run `cfremedy doctor`",
            ) from None
        if isinstance(exc, cloudflare.NotFoundError):
            raise NotFound(f"not found while trying to {op.what} ({error_detail(exc)})") from None
        if isinstance(exc, cloudflare.InternalServerError):
            if op.write:
                raise WriteOutcomeUnknown(
                    f"no answer to the request to {op.what} ({_describe(exc)}); it may or may not have been applied"
                ) from None
            if last:
                raise ApiError(f"Cloudflare API failed to {op.what} ({_describe(exc)})") from None
            wait = self._backoff(attempt)
            log.warning("transient failure while trying to %s (%s); retrying in %.1f s", op.what, _describe(exc), wait)
            return wait
        if isinstance(exc, cloudflare.APIStatusError):
            raise ApiError(f"Cloudflare API refused to {op.what} ({error_detail(exc)})") from None
        if op.write and isinstance(exc, ValueError):
            # A 2xx whose body cannot be read (a bad byte): the write may well have landed, so it
            # is no refusal; the caller's read-back decides.
            raise WriteOutcomeUnknown(
                f"an answer to the request to {op.what} that cannot be read ({_describe(exc)});"
                " it may or may not have been applied"
            ) from None
        raise ApiError(f"Cloudflare API failed to {op.what} ({_describe(exc)})") from None

    def _backoff(self, attempt: int) -> float:
        return float(self._retry.backoff * 2 ** (attempt - 1))

    def _not_sent(self, op: Op, exc: Exception, attempts: int, elapsed: float) -> WriteNotSent:
        return WriteNotSent(
            f"cannot reach the Cloudflare API at {self.base_url} to {op.what} ({_tried(attempts, elapsed)};"
            f" {_describe(exc)}): the request was never sent, so the change was not made",
            hint="check the network, a proxy, or CLOUDFLARE_BASE_URL, then apply the plan again",
        )

    def _unreachable(self, op: Op, exc: Exception, attempts: int, elapsed: float) -> ApiUnreachable:
        tried = _tried(attempts, elapsed)
        if isinstance(exc, NotJson):
            return ApiUnreachable(
                f"the Cloudflare API at {self.base_url} gave no usable answer to {op.what} ({tried}; {_describe(exc)})",
                hint="a proxy between this machine and the API may be cutting answers short",
            )
        if isinstance(exc, DeadlinePassed):
            return ApiUnreachable(
                f"the Cloudflare API at {self.base_url} did not answer in time to {op.what}"
                f" ({tried}; {_describe(exc)})",
                hint="a slow network or a proxy holding the answer; raise CFREMEDY_API_TIMEOUT if the API is just slow",
            )
        return ApiUnreachable(
            f"cannot reach the Cloudflare API at {self.base_url} to {op.what} ({tried}; {_describe(exc)})",
            hint="check the network, a proxy, or CLOUDFLARE_BASE_URL",
        )


def _tried(attempts: int, elapsed: float) -> str:
    return f"{attempts} attempt(s) in {elapsed:.0f} s" if attempts > 1 else "1 attempt"
