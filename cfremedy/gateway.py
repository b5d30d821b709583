"""The only module that talks to the Cloudflare API, through the official `cloudflare` SDK.

Why a gateway rather than SDK calls scattered around:
- the API budget (DESIGN §9) is enforced in one place: one call for the zone, one for all its
  settings, DNS records in 5,000-record pages, and a count of every HTTP request sent;
- pagination is ours: the SDK's auto-pagination stops only on an empty page, so a server that
  keeps returning the same full page would loop forever; we stop on `total_pages`,
  `total_count`, an empty page or a repeated page;
- retries are ours: the SDK caps `Retry-After` at 60 s and then falls back to its own backoff,
  which on Cloudflare's 5-minute lockout means burning the remaining attempts; we wait what the
  API says, up to `RetryPolicy.max_retry_after`;
- every failure becomes one clear `ApiError` naming what failed and what to do (a missing
  permission is named), and the token never appears in any of it;
- reads and writes are separated: a gateway opened for `audit`/`plan` refuses to send a write.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
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
    WriteOutcomeUnknown,
    ZoneNotFound,
)
from cfremedy.analytics import ERRORS_QUERY, ZONES_PER_QUERY, ErrorBucket, parse_response
from cfremedy.models import (
    DnsRecord,
    PagesProject,
    SslRule,
    Zone,
    ZoneSnapshot,
    frozen_mapping,
    iso_z,
    normalise_name,
)
from cfremedy.facts import IPNetwork
from cfremedy.ratelimit import Rate, RateLimiter

log = logging.getLogger("cfremedy.gateway")

ZONES_PER_PAGE = 50  # the API's maximum for GET /zones
GRAPHQL_RATE = Rate(250, 300.0)  # under GraphQL Analytics' 300 queries per 5 minutes
DNS_PER_PAGE = 5000  # a zone of up to 5,000 records costs one request
MAX_PAGES = 10_000  # a last-resort guard against a server that never stops paginating
PAGES_PER_PAGE = 10  # Pages projects per request (what wrangler asks for; no documented maximum)
CONFIG_RULES_PHASE = "http_config_settings"  # the phase Configuration Rules live in
# A 404 naming these is about the route or the zone id, not a missing entry point ruleset.
_NO_ROUTE_CODES = frozenset({7000, 7003})

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total attempts per request
    backoff: float = 0.5  # first pause after a 5xx or network error, doubled each time
    max_retry_after: float = 900.0  # honour a 429's Retry-After up to this many seconds


@dataclass(frozen=True)
class TokenStatus:
    id: str
    status: str
    expires_on: str | None = None


@dataclass(frozen=True)
class _Op:
    """What a request is for, so an error can say it in the user's terms."""

    what: str
    permission: str = ""
    write: bool = False


class WritesNotAllowed(RuntimeError):
    """A programming error: audit and plan must never reach a write."""


def _error_detail(exc: cloudflare.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    errors = body.get("errors") or []
    parts = [
        f"code {e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)
    ]
    return f"HTTP {exc.status_code}" + (f", {'; '.join(parts)}" if parts else "")


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
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _zone_from(data: dict[str, Any]) -> Zone:
    plan = data.get("plan") or {}
    account = data.get("account") or {}
    return Zone(
        id=str(data["id"]),
        name=str(data["name"]),
        plan=str(plan.get("legacy_id") or plan.get("name") or "unknown").lower(),
        account_id=str(account.get("id") or ""),
        status=str(data.get("status") or ""),
        permissions=tuple(data.get("permissions") or ()),
    )


def _error_codes(exc: cloudflare.APIStatusError) -> set[int]:
    body = exc.body if isinstance(exc.body, dict) else {}
    return {e.get("code") for e in body.get("errors") or [] if isinstance(e, dict)}


def _config_rules_from(ruleset: dict[str, Any]) -> tuple[SslRule, ...]:
    """The entry point's rules that set `ssl`; `position` is the rule's index in the ruleset,
    so later rules (which win) have higher positions."""
    rules = ruleset.get("rules") or []
    found = []
    for position, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict) or rule.get("action") != "set_config":
            continue
        parameters = rule.get("action_parameters")
        if not isinstance(parameters, dict) or parameters.get("ssl") is None:
            continue
        found.append(SslRule(
            source="config_rule",
            id=str(rule.get("id") or ""),
            mode=str(parameters["ssl"]),
            description=str(rule.get("description") or ""),
            expression=str(rule.get("expression") or ""),
            enabled=bool(rule.get("enabled", True)),
            position=position,
        ))
    return tuple(found)


def _page_rules_from(items: Any) -> tuple[SslRule, ...]:
    """Page Rules with an `ssl` action, `position` their place in the API's list (highest
    priority first: the first match wins). Disabled rules are kept, `enabled=False`."""
    found = []
    for position, rule in enumerate(items if isinstance(items, list) else []):
        if not isinstance(rule, dict):
            continue
        actions = [a for a in rule.get("actions") or [] if isinstance(a, dict)]
        ssl = next((a.get("value") for a in actions if a.get("id") == "ssl"), None)
        if ssl is None:
            continue
        targets = [t for t in rule.get("targets") or [] if isinstance(t, dict)]
        url = next(
            (str((t.get("constraint") or {}).get("value") or "") for t in targets
             if t.get("target") == "url"),
            "",
        )
        found.append(SslRule(
            source="page_rule",
            id=str(rule.get("id") or ""),
            mode=str(ssl),
            url_pattern=url,
            enabled=rule.get("status") == "active",
            position=position,
        ))
    return tuple(found)


def _project_from(data: dict[str, Any]) -> PagesProject:
    return PagesProject(
        name=str(data.get("name") or ""),
        subdomain=normalise_name(str(data.get("subdomain") or "")),
        domains=tuple(normalise_name(str(d)) for d in data.get("domains") or () if d),
    )


def _record_from(data: dict[str, Any]) -> DnsRecord:
    return DnsRecord(
        id=str(data["id"]),
        type=str(data.get("type") or ""),
        name=str(data.get("name") or "").lower(),
        content=str(data.get("content") or ""),
        proxied=bool(data.get("proxied")),
        ttl=int(data.get("ttl") or 1),
    )


class CloudflareGateway:
    """An async session with the API. Use as `async with CloudflareGateway(...) as gw:`."""

    def __init__(
        self,
        token: SecretStr,
        base_url: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        allow_writes: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: RateLimiter | None = None,
        graphql_limiter: RateLimiter | None = None,
    ) -> None:
        self._token = token
        self._base_url = base_url
        self._timeout = timeout
        self._retry = retry
        self._allow_writes = allow_writes
        self._sleep = sleep
        # Shared by every request of this gateway; it also carries a 429's pause to all tasks.
        self._limiter = limiter
        # GraphQL Analytics has its own budget (300 queries per 5 minutes), on top of the REST one.
        self._graphql_limiter = graphql_limiter or RateLimiter(GRAPHQL_RATE, sleep=sleep)
        self._client: cloudflare.AsyncCloudflare | None = None
        self.requests_sent = 0
        # Reads whose answer is the same for every zone of a run (`once`).
        self._shared: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    async def __aenter__(self) -> CloudflareGateway:
        http_client = cloudflare.DefaultAsyncHttpxClient(
            event_hooks={"request": [self._count_request]}
        )
        client = cloudflare.AsyncCloudflare(
            api_token=self._token.get_secret_value(),
            base_url=self._base_url,
            max_retries=0,  # retries are ours, see the module docstring
            timeout=self._timeout,
            http_client=http_client,
        )
        # The SDK also reads CLOUDFLARE_API_KEY/EMAIL from the environment and would prefer them
        # over the token; cfremedy authenticates with the token only.
        client.api_key = None
        client.api_email = None
        client.user_service_key = None
        self._client = client
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _count_request(self, request: httpx.Request) -> None:
        self.requests_sent += 1
        log.debug("API %s %s", request.method, request.url.path)

    @property
    def client(self) -> cloudflare.AsyncCloudflare:
        if self._client is None:
            raise RuntimeError("use CloudflareGateway as an async context manager")
        return self._client

    # -- the one place requests are sent, retried and turned into clear errors -----------------

    async def _call(self, op: _Op, send: Callable[[], Awaitable[T]]) -> T:
        if op.write and not self._allow_writes:
            raise WritesNotAllowed(f"refusing to {op.what}: this session is read-only")
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                await self._limiter.acquire()
            try:
                return await send()
            except cloudflare.APIError as exc:
                failure = exc
            finally:
                if self._limiter is not None:
                    self._limiter.release()  # before any wait below: that is not API traffic
            wait = self._retry_wait(op, failure, attempt)
            if isinstance(failure, cloudflare.RateLimitError) and self._limiter is not None:
                self._limiter.pause(wait)  # every task holds off, not only this one
            else:
                await self._sleep(wait)

    def _retry_wait(self, op: _Op, exc: cloudflare.APIError, attempt: int) -> float:
        """How long to wait before trying again, or the clear error that ends the call."""
        last = attempt >= self._retry.attempts
        if isinstance(exc, cloudflare.RateLimitError):
            wait = _retry_after(exc)
            if last or (wait is not None and wait > self._retry.max_retry_after):
                raise RateLimitExhausted(
                    f"Cloudflare API rate limit: {op.what} still refused after {attempt}"
                    f" attempts ({_error_detail(exc)})",
                    hint="the API allows 1,200 requests per 5 minutes per token;"
                    " wait and rerun, or lower --rate-limit",
                ) from None
            wait = self._backoff(attempt) if wait is None else wait
            log.warning("rate limited while trying to %s; waiting %.1f s", op.what, wait)
            return wait
        if isinstance(exc, cloudflare.AuthenticationError):
            raise AuthenticationFailed(
                f"the API token was rejected while trying to {op.what} ({_error_detail(exc)})",
                hint="check CLOUDFLARE_API_TOKEN: it may be mistyped, revoked or expired",
            ) from None
        if isinstance(exc, cloudflare.PermissionDeniedError):
            raise MissingPermission(
                f"the API token lacks the '{op.permission}' permission needed to {op.what}"
                f" ({_error_detail(exc)})",
                permission=op.permission,
                hint=f"add '{op.permission}' for this zone to the token"
                " (dashboard: My Profile > API Tokens), or run `cfremedy doctor`",
            ) from None
        if isinstance(exc, cloudflare.NotFoundError):
            raise NotFound(f"not found while trying to {op.what} ({_error_detail(exc)})") from None
        if isinstance(exc, (cloudflare.InternalServerError, cloudflare.APIConnectionError)):
            # Whether a failed write landed is unknown: retrying it is the caller's decision,
            # after re-reading the value. Reads are always safe to retry.
            if op.write:
                raise WriteOutcomeUnknown(
                    f"no answer to the request to {op.what} ({self._describe(exc)});"
                    " it may or may not have been applied"
                ) from None
            if last:
                raise self._failure(op, exc) from None
            wait = self._backoff(attempt)
            log.warning("transient failure while trying to %s (%s); retrying in %.1f s",
                        op.what, self._describe(exc), wait)
            return wait
        if isinstance(exc, cloudflare.APIStatusError):
            raise ApiError(f"Cloudflare API refused to {op.what} ({_error_detail(exc)})") from None
        raise ApiError(f"Cloudflare API failed to {op.what} ({self._describe(exc)})") from None

    def _backoff(self, attempt: int) -> float:
        return self._retry.backoff * (2 ** (attempt - 1))

    @staticmethod
    def _describe(exc: Exception) -> str:
        if isinstance(exc, cloudflare.APIStatusError):
            return _error_detail(exc)
        cause = exc.__cause__ or exc.__context__
        return f"{type(exc).__name__}: {cause or exc}"

    def _failure(self, op: _Op, exc: Exception) -> ApiError:
        if isinstance(exc, cloudflare.APIConnectionError):
            return ApiUnreachable(
                f"cannot reach the Cloudflare API at {self._base_url} to {op.what}"
                f" ({self._describe(exc)})",
                hint="check the network, a proxy, or CLOUDFLARE_BASE_URL",
            )
        return ApiError(f"Cloudflare API failed to {op.what} ({self._describe(exc)})")

    # -- reads ---------------------------------------------------------------------------------

    async def verify_token(self) -> TokenStatus:
        result = await self._call(
            _Op("verify the API token"), lambda: self.client.user.tokens.verify()
        )
        return TokenStatus(
            id=str(getattr(result, "id", "") or ""),
            status=str(getattr(result, "status", "") or ""),
            expires_on=str(result.expires_on) if getattr(result, "expires_on", None) else None,
        )

    async def zone_by_name(self, name: str) -> Zone:
        name = normalise_name(name)
        op = _Op(f"look up zone {name}", "Zone Read")
        page = await self._call(
            op, lambda: self.client.zones.list(name=name, per_page=ZONES_PER_PAGE)
        )
        for item in page.result:
            data = item.to_dict()
            if str(data.get("name", "")).lower() == name:
                return _zone_from(data)
        raise ZoneNotFound(
            f"zone {name} not found, or not visible to this API token",
            hint="check the spelling; the token needs 'Zone Read' on that zone"
            " (`cfremedy doctor` lists the zones it can see)",
        )

    async def zone_for_hostname(self, hostname: str) -> Zone:
        """The zone a hostname belongs to: its own name, then each parent, one request each."""
        labels = normalise_name(hostname).split(".")
        tried = []
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            tried.append(candidate)
            try:
                return await self.zone_by_name(candidate)
            except ZoneNotFound:
                continue
        raise ZoneNotFound(
            f"no zone visible to this token contains {hostname} (tried {', '.join(tried)})",
            hint="pass --zone NAME, or check the token has Zone Read on that zone",
        )

    async def list_zones(self, account_id: str | None = None, limit: int | None = None) -> list[Zone]:
        """Every zone the token can see, 50 per request, with the same stop rules as DNS."""
        zones: list[Zone] = []
        seen_pages: set[tuple[str, ...]] = set()
        for number in range(1, MAX_PAGES + 1):
            kwargs: dict[str, Any] = {"per_page": ZONES_PER_PAGE, "page": number}
            if account_id:
                kwargs["account"] = {"id": account_id}
            page = await self._call(
                _Op("list zones", "Zone Read"), lambda: self.client.zones.list(**kwargs)
            )
            items = [_zone_from(i.to_dict()) for i in page.result]
            if not self._new_page([z.id for z in items], seen_pages):
                break
            zones.extend(items)
            if limit is not None and len(zones) >= limit:
                return zones[:limit]
            if self._last_page(page, number, len(zones)):
                break
        return zones

    async def settings(self, zone: Zone) -> tuple[dict[str, Any], dict[str, bool]]:
        """All settings in one request (the SDK has no typed method for the bulk endpoint)."""
        body = await self._call(
            _Op(f"read the settings of {zone.name}", "Zone Settings Read"),
            lambda: self.client.get(f"/zones/{zone.id}/settings", cast_to=object),
        )
        items = body.get("result") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to reading the settings of {zone.name}: no result list")
        values = {str(i["id"]): i.get("value") for i in items if isinstance(i, dict) and "id" in i}
        editable = {
            str(i["id"]): bool(i.get("editable", True))
            for i in items
            if isinstance(i, dict) and "id" in i
        }
        return values, editable

    async def dns_records(self, zone: Zone) -> tuple[DnsRecord, ...]:
        records: list[DnsRecord] = []
        seen_pages: set[tuple[str, ...]] = set()
        op = _Op(f"list the DNS records of {zone.name}", "DNS Read")
        for number in range(1, MAX_PAGES + 1):
            page = await self._call(
                op,
                lambda n=number: self.client.dns.records.list(  # type: ignore[misc]
                    zone_id=zone.id, per_page=DNS_PER_PAGE, page=n
                ),
            )
            items = [_record_from(r.to_dict()) for r in page.result]
            if not self._new_page([r.id for r in items], seen_pages):
                if items:
                    log.warning("the API repeated page %d of the DNS records of %s; stopping",
                                number, zone.name)
                break
            records.extend(items)
            if self._last_page(page, number, len(records)):
                break
        return tuple(records)

    @staticmethod
    def _new_page(ids: list[str], seen: set[tuple[str, ...]]) -> bool:
        """False for an empty page or one we have already had (a server stuck on one page)."""
        key = tuple(ids)
        if not key or key in seen:
            return False
        seen.add(key)
        return True

    @staticmethod
    def _last_page(page: Any, number: int, collected: int) -> bool:
        info = page.result_info
        extra = (info.model_extra or {}) if info is not None else {}
        total_pages = extra.get("total_pages")
        total_count = extra.get("total_count")
        if isinstance(total_pages, int) and number >= total_pages:
            return True
        if isinstance(total_count, int) and collected >= total_count:
            return True
        per_page = getattr(info, "per_page", None) if info is not None else None
        # Without totals, a short page is the last one.
        return total_pages is None and isinstance(per_page, int) and len(page.result) < per_page

    async def ssl_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        """Configuration Rules, then Page Rules, that set the SSL/TLS mode: two concurrent
        requests. A zone without Configuration Rules has no entry point ruleset (404): that is
        "none", not an error. Rules that set something else are left out; disabled ones are
        kept with `enabled=False` (the playbooks decide)."""
        config, pages = await asyncio.gather(self._config_rules(zone), self._page_rules(zone))
        return config + pages

    async def _config_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        path = f"/zones/{zone.id}/rulesets/phases/{CONFIG_RULES_PHASE}/entrypoint"

        async def send() -> Any:
            try:
                return await self.client.get(path, cast_to=object)
            except cloudflare.NotFoundError as exc:
                if _error_codes(exc) & _NO_ROUTE_CODES:
                    raise
                return None  # 10003: no entry point ruleset, so no Configuration Rules

        body = await self._call(
            _Op(f"read the Configuration Rules of {zone.name}", "Config Rules Read"), send
        )
        if body is None:
            return ()
        return _config_rules_from(_result(body, f"the Configuration Rules of {zone.name}"))

    async def _page_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        # Asked for explicitly rather than relying on the default: the order is the meaning.
        params = {"order": "priority", "direction": "desc"}
        body = await self._call(
            _Op(f"read the Page Rules of {zone.name}", "Page Rules Read"),
            lambda: self.client.get(
                f"/zones/{zone.id}/pagerules", cast_to=object, options={"params": params}
            ),
        )
        items = body.get("result") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to reading the Page Rules of {zone.name}: no result list")
        return _page_rules_from(items)

    async def once(self, key: tuple[str, ...], read: Callable[[], Awaitable[T]]) -> T:
        """The answer of `read`, fetched at most once per gateway (that is, per run), however
        many zones ask for it concurrently: Cloudflare's IP ranges, an account's Pages projects.
        A failure is shared too: every zone asking gets the same error, for one request."""
        future = self._shared.get(key)
        if future is None:
            future = asyncio.ensure_future(read())
            self._shared[key] = future
        return await asyncio.shield(future)

    async def pages_projects(self, account_id: str) -> tuple[PagesProject, ...]:
        """Every Cloudflare Pages project of an account, with the same stop rules as DNS."""
        projects: list[PagesProject] = []
        seen_pages: set[tuple[str, ...]] = set()
        op = _Op(f"list the Cloudflare Pages projects of account {account_id}",
                 "Cloudflare Pages Read")
        for number in range(1, MAX_PAGES + 1):
            page = await self._call(
                op,
                lambda n=number: self.client.pages.projects.list(  # type: ignore[misc]
                    account_id=account_id, per_page=PAGES_PER_PAGE, page=n
                ),
            )
            items = [_project_from(p.to_dict()) for p in page.result]
            if not self._new_page([p.name for p in items], seen_pages):
                if items:
                    log.warning("the API repeated page %d of the Pages projects of account %s;"
                                " stopping", number, account_id)
                break
            projects.extend(items)
            if self._last_page(page, number, len(projects)):
                break
        return tuple(projects)

    async def zone_snapshot(self, name: str) -> ZoneSnapshot:
        """Zone, settings and DNS records: three requests for a zone of up to 5,000 records."""
        return await self.snapshot(await self.zone_by_name(name))

    async def snapshot(self, zone: Zone) -> ZoneSnapshot:
        """Settings and DNS records of a zone already read (e.g. from the zone list): two
        requests. `ssl_rules` stays None (not read): `audit.read_zone` adds them when a
        playbook needs them, and decides what a failure to read them means."""
        started = time.monotonic()
        (values, editable), records = await asyncio.gather(self.settings(zone), self.dns_records(zone))
        log.debug("read %s: %d settings, %d DNS records in %.2f s", zone.name, len(values),
                 len(records), time.monotonic() - started)
        return ZoneSnapshot(
            zone=zone,
            settings=frozen_mapping(values),
            editable=frozen_mapping(editable),
            records=records,
        )

    async def zone_by_id(self, zone_id: str) -> Zone:
        data = await self._call(
            _Op(f"read zone {zone_id}", "Zone Read"),
            lambda: self.client.get(f"/zones/{zone_id}", cast_to=object),
        )
        return _zone_from(_result(data, f"zone {zone_id}"))

    async def count_dns_records(self, zone: Zone) -> int:
        """How many records the zone has, from one 1-record page's `total_count`."""
        page = await self._call(
            _Op(f"count the DNS records of {zone.name}", "DNS Read"),
            lambda: self.client.dns.records.list(zone_id=zone.id, per_page=1),
        )
        extra = (page.result_info.model_extra or {}) if page.result_info is not None else {}
        total = extra.get("total_count")
        if not isinstance(total, int):
            raise ApiError(f"the API did not report how many DNS records {zone.name} has")
        return total

    async def error_counts(
        self, zones: Sequence[Zone], since: datetime, until: datetime
    ) -> tuple[dict[str, list[ErrorBucket]], list[str]]:
        """5xx counts for up to 10 zones in one GraphQL query; GraphQL's own errors come back
        as messages (a zone the token may not read), beside whatever data the API did return."""
        if len(zones) > ZONES_PER_QUERY:
            raise ValueError(f"at most {ZONES_PER_QUERY} zones per analytics query")
        names = ", ".join(z.name for z in zones)
        body = {"query": ERRORS_QUERY, "variables": {
            "zoneTags": [z.id for z in zones],
            "since": iso_z(since),
            "until": iso_z(until),
        }}
        await self._graphql_limiter.acquire()
        try:
            answer = await self._call(
                _Op(f"read the 5xx analytics of {names}", "Analytics Read"),
                lambda: self.client.post("/graphql", body=body, cast_to=object),
            )
        finally:
            self._graphql_limiter.release()
        if not isinstance(answer, dict):
            raise ApiError(f"unexpected answer to the analytics query for {names}")
        messages = [str(e.get("message", e)) for e in answer.get("errors") or [] if isinstance(e, dict)]
        if answer.get("data") is None:
            raise ApiError(f"the analytics query for {names} failed: {'; '.join(messages) or 'no data'}")
        return parse_response(answer["data"]), messages

    # -- single values, read back around writes ----------------------------------------------------

    async def get_setting(self, zone: Zone, setting_id: str) -> Any:
        data = await self._call(
            _Op(f"read setting {setting_id} of {zone.name}", "Zone Settings Read"),
            lambda: self.client.get(f"/zones/{zone.id}/settings/{setting_id}", cast_to=object),
        )
        return _result(data, f"setting {setting_id} of {zone.name}").get("value")

    async def get_record(self, zone: Zone, record_id: str) -> DnsRecord | None:
        """The record, or None when it no longer exists."""
        try:
            record = await self._call(
                _Op(f"read DNS record {record_id} of {zone.name}", "DNS Read"),
                lambda: self.client.dns.records.get(record_id, zone_id=zone.id),
            )
        except NotFound:
            return None
        return _record_from(record.to_dict()) if record is not None else None

    # -- writes, refused unless the gateway was opened for apply/rollback -------------------------

    async def edit_setting(self, zone: Zone, setting_id: str, value: Any) -> Any:
        data = await self._call(
            _Op(f"set {setting_id} of {zone.name} to {value!r}", "Zone Settings Write", write=True),
            lambda: self.client.patch(
                f"/zones/{zone.id}/settings/{setting_id}", body={"value": value}, cast_to=object
            ),
        )
        return _result(data, f"setting {setting_id} of {zone.name}").get("value")

    async def edit_record(self, zone: Zone, record_id: str, fields: dict[str, Any]) -> DnsRecord:
        # A plain PATCH through the SDK's client: its typed `records.edit` insists on `ttl`,
        # which a partial update has no reason to send (or to overwrite).
        data = await self._call(
            _Op(f"edit DNS record {record_id} of {zone.name}", "DNS Write", write=True),
            lambda: self.client.patch(
                f"/zones/{zone.id}/dns_records/{record_id}", body=fields, cast_to=object
            ),
        )
        return _record_from(_result(data, f"DNS record {record_id} of {zone.name}"))

    async def batch_edit_records(
        self, zone: Zone, patches: list[tuple[str, dict[str, Any]]]
    ) -> list[DnsRecord]:
        """Several record edits in one atomic request: all are applied or none is."""
        result = await self._call(
            _Op(f"edit {len(patches)} DNS records of {zone.name}", "DNS Write", write=True),
            lambda: self.client.dns.records.batch(
                zone_id=zone.id, patches=[{"id": rid, **fields} for rid, fields in patches]
            ),
        )
        return [_record_from(r.to_dict()) for r in (result.patches or []) if r is not None]

    # -- Cloudflare's own IP ranges: a public endpoint, no token needed --------------------------

    async def cloudflare_ips(self) -> tuple[IPNetwork, ...]:
        """Cloudflare's current IP ranges (`GET /ips`, one request), IPv4 then IPv6.

        The endpoint is public, so the request carries no Authorization header: a gateway
        opened without a token (`cfremedy ips`) works, and a token is never sent where it is
        not needed. An empty or malformed answer is an error, never an empty list: an
        allowlist generated from it would shut Cloudflare out.
        """
        import ipaddress

        body = await self._call(
            _Op("read Cloudflare's IP ranges"),
            lambda: self.client.get(
                "/ips", cast_to=object, options={"headers": {"Authorization": cloudflare.Omit()}}
            ),
        )
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise ApiError("unexpected answer to reading Cloudflare's IP ranges: no result")
        ranges: list[IPNetwork] = []
        for key in ("ipv4_cidrs", "ipv6_cidrs"):
            values = result.get(key)
            if not isinstance(values, list):
                raise ApiError(f"unexpected answer to reading Cloudflare's IP ranges: no {key}")
            for value in values:
                try:
                    ranges.append(ipaddress.ip_network(str(value), strict=False))
                except ValueError:
                    raise ApiError(
                        f"unexpected answer to reading Cloudflare's IP ranges: {value!r} in {key}"
                    ) from None
        if not ranges:
            raise ApiError("Cloudflare's API listed no IP ranges; refusing to use an empty list")
        return tuple(dict.fromkeys(ranges))


def _result(data: Any, what: str) -> dict[str, Any]:
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise ApiError(f"unexpected answer about {what}: no result")
    return result
