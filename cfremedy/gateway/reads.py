"""Everything cfremedy reads from the Cloudflare API, within the API budget (docs/architecture.md).

One request for the zone, one for all its settings, DNS records 5,000 per page, rules only
when a playbook needs them, account-level lists once per run (`once`). `CloudflareGateway`
has no method that writes: audit and plan are typed against it, so they cannot write by
construction (`WritableGateway`, in `writes.py`, is what apply and rollback open).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import cloudflare
from pydantic import SecretStr

from cfremedy.analytics import ERRORS_QUERY, ZONES_PER_QUERY, ErrorBucket, parse_response
from cfremedy.errors import ApiError, NotFound, UsageError, ZoneNotFound
from cfremedy.gateway import parse
from cfremedy.gateway.pages import envelope, paginate
from cfremedy.gateway.transport import DEFAULT_RETRY, Op, RetryPolicy, Transport, error_codes
from cfremedy.models import (
    AuditEntry,
    CacheRule,
    CertificatePack,
    CustomPage,
    DnsRecord,
    IngressRule,
    IPNetwork,
    LoadBalancer,
    OriginRule,
    PagesProject,
    Pool,
    SslRule,
    Tunnel,
    Zone,
    ZoneSnapshot,
    frozen_mapping,
    iso_z,
    normalise_name,
)
from cfremedy.ratelimit import RateLimiter
from cfremedy.tasks import together

log = logging.getLogger("cfremedy.gateway")

T = TypeVar("T")

_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def segment(value: str, what: str) -> str:
    """One path segment built from data (a zone, setting or record id), refused unless it is
    plainly an id: a value read from a plan or the journal can never become another API path.
    (`cfremedy.targets` refuses such plans first; this is the last line.)"""
    if not _SEGMENT.fullmatch(value):
        raise UsageError(f"refusing to build a request for {what} {value!r}: it is not an id")
    return value


ZONES_PER_PAGE = 50  # the API's maximum for GET /zones
DNS_PER_PAGE = 5000  # a zone of up to 5,000 records costs one request
DNS_PAGES_AT_ONCE = 4  # pages fetched concurrently once the first has told us how many there are
PAGES_PER_PAGE = 10  # Pages projects per request (what wrangler asks for; no documented maximum)
CONFIG_RULES_PHASE = "http_config_settings"  # the phase Configuration Rules live in
ORIGIN_RULES_PHASE = "http_request_origin"
CACHE_RULES_PHASE = "http_request_cache_settings"
# The entry points cfremedy reads: what each holds, and the permission group reading it takes.
RULE_PHASES = {
    CONFIG_RULES_PHASE: ("Configuration Rules", "Config Rules Read"),
    ORIGIN_RULES_PHASE: ("Origin Rules", "Origin Rules Read"),
    CACHE_RULES_PHASE: ("Cache Rules", "Cache Rules Read"),
}
TUNNELS_PER_PAGE = 100
AUDIT_LOG_PER_PAGE = 1000  # the API's maximum
PACKS_PER_PAGE = 50  # certificate packs per request (the sandbox's maximum; zones have a few)
# The 404's code for "no entry point ruleset in this phase"; any other 404 is a failure.
NO_ENTRYPOINT = 10003


@dataclass(frozen=True)
class TokenStatus:
    id: str
    status: str
    expires_on: str | None = None


class CloudflareGateway:
    """A read-only session with the API. Use as `async with CloudflareGateway(...) as gw:`."""

    _WRITES: ClassVar[bool] = False

    def __init__(
        self,
        token: SecretStr | None,
        base_url: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: RateLimiter | None = None,
        graphql_limiter: RateLimiter | None = None,
    ) -> None:
        self._transport = Transport(
            token,
            base_url,
            timeout=timeout,
            retry=retry,
            allow_writes=self._WRITES,
            sleep=sleep,
            limiter=limiter,
            graphql_limiter=graphql_limiter,
        )
        # Reads whose answer is the same for every zone of a run (`once`).
        self._shared: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    async def __aenter__(self) -> CloudflareGateway:
        await self._transport.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # A shared read nobody waits for any more (every zone that asked failed) ends here,
        # not after the client it uses is closed.
        pending = [f for f in self._shared.values() if not f.done()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._transport.close()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included: the API budget this session spent."""
        return self._transport.requests_sent

    async def once(self, key: tuple[str, ...], read: Callable[[], Awaitable[T]]) -> T:
        """The answer of `read`, fetched at most once per gateway (that is, per run), however
        many zones ask for it concurrently: Cloudflare's IP ranges, an account's Pages projects.
        A failure is shared too: every zone asking gets the same error, for one request."""
        future = self._shared.get(key)
        if future is None:
            future = asyncio.ensure_future(read())
            self._shared[key] = future
        return await asyncio.shield(future)

    # -- the token and zones -----------------------------------------------------------------------

    async def verify_token(self) -> TokenStatus:
        what = "verify the API token"
        body = await self._transport.get(Op(what), "/user/tokens/verify")
        result = envelope(body, what)
        if not isinstance(result, dict):
            raise ApiError(f"unexpected answer to {what}: no result")
        return TokenStatus(
            id=str(result.get("id") or ""),
            status=str(result.get("status") or ""),
            expires_on=str(result["expires_on"]) if result.get("expires_on") else None,
        )

    async def zone_by_name(self, name: str) -> Zone:
        name = normalise_name(name)
        what = f"look up zone {name}"
        body = await self._transport.get(Op(what, "Zone Read"), "/zones", {"name": name, "per_page": ZONES_PER_PAGE})
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: `result` is not a list")
        for item in items:
            zone = parse.convert(parse.zone, item, f"zone {name}")
            if zone.name == name:
                return zone
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

    async def zone_by_id(self, zone_id: str) -> Zone:
        what = f"read zone {zone_id}"
        body = await self._transport.get(Op(what, "Zone Read"), f"/zones/{segment(zone_id, 'zone id')}")
        return parse.convert(parse.zone, envelope(body, what), f"zone {zone_id}")

    async def list_zones(self, account_id: str | None = None, limit: int | None = None) -> list[Zone]:
        """Every zone the token can see, 50 per request."""
        op = Op("list zones", "Zone Read")
        params: dict[str, Any] = {"per_page": ZONES_PER_PAGE}
        if account_id:
            params["account.id"] = account_id
        items = await paginate(
            lambda n: self._transport.get(op, "/zones", {**params, "page": n}),
            what="the zone list",
            key=lambda z: str(z["id"]),
            per_page=ZONES_PER_PAGE,
            limit=limit,
        )
        zones = [parse.convert(parse.zone, item, "the zone list") for item in items]
        return zones[:limit] if limit is not None else zones

    # -- one zone ------------------------------------------------------------------------------

    async def settings(self, zone: Zone) -> tuple[dict[str, Any], dict[str, bool]]:
        """All settings in one request (the SDK has no typed method for the bulk endpoint)."""
        what = f"read the settings of {zone.name}"
        body = await self._transport.get(Op(what, "Zone Settings Read"), f"/zones/{zone.id}/settings")
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return parse.settings(items)

    async def dns_records(self, zone: Zone) -> tuple[DnsRecord, ...]:
        what = f"the DNS records of {zone.name}"
        op = Op(f"list {what}", "DNS Read")
        path = f"/zones/{zone.id}/dns_records"
        records = await paginate(
            lambda n: self._transport.get(op, path, {"per_page": DNS_PER_PAGE, "page": n}),
            what=what,
            key=lambda r: str(r["id"]),
            per_page=DNS_PER_PAGE,
            concurrency=DNS_PAGES_AT_ONCE,
            keep=lambda item: parse.convert(parse.record, item, what),
        )
        return tuple(records)

    async def snapshot(self, zone: Zone) -> ZoneSnapshot:
        """Settings and DNS records of a zone already read (e.g. from the zone list): two
        requests for up to 5,000 records. `ssl_rules` stays None (not read): the audit adds
        them when a playbook needs them, and decides what a failure to read them means."""
        started = time.monotonic()
        (values, editable), records = await together(self.settings(zone), self.dns_records(zone))
        log.debug(
            "read %s: %d settings, %d DNS records in %.2f s",
            zone.name,
            len(values),
            len(records),
            time.monotonic() - started,
        )
        return ZoneSnapshot(
            zone=zone, settings=frozen_mapping(values), editable=frozen_mapping(editable), records=records
        )

    async def zone_snapshot(self, name: str) -> ZoneSnapshot:
        """Zone, settings and DNS records: three requests for a zone of up to 5,000 records."""
        return await self.snapshot(await self.zone_by_name(name))

    async def ruleset_phases(self, zone: Zone) -> frozenset[str]:
        """The phases in which the zone has rules of its own: one request that spares one per
        phase (most zones have no Origin or Cache Rules; an entry point asked for anyway costs
        a 404)."""
        what = f"list the rulesets of {zone.name}"
        body = await self._transport.get(Op(what, "Zone Read"), f"/zones/{zone.id}/rulesets")
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return parse.ruleset_phases(items)

    async def entrypoint(self, zone: Zone, phase: str) -> dict[str, Any] | None:
        """A phase's entry point ruleset, or None when the zone has none (404, code 10003)."""
        what = f"read the {RULE_PHASES[phase][0]} of {zone.name}"
        path = f"/zones/{zone.id}/rulesets/phases/{phase}/entrypoint"
        client = self._transport.client

        async def send() -> Any:
            try:
                return await client.get(path, cast_to=object)
            except cloudflare.NotFoundError as exc:
                if NO_ENTRYPOINT not in error_codes(exc):
                    raise  # a wrong route, a proxy's 404 page: not the answer "no rules"
                return None  # 10003: no entry point ruleset in this phase

        body = await self._transport.call(Op(what, RULE_PHASES[phase][1]), send)
        if body is None:
            return None
        result = envelope(body, what)
        if not isinstance(result, dict):
            raise ApiError(f"unexpected answer to {what}: no ruleset")
        return result

    async def config_ssl_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        """The Configuration Rules that set the SSL/TLS mode (disabled ones kept, `enabled=False`)."""
        ruleset = await self.entrypoint(zone, CONFIG_RULES_PHASE)
        if ruleset is None:
            return ()
        return parse.convert(parse.config_ssl_rules, ruleset, f"the Configuration Rules of {zone.name}")

    async def origin_rules(self, zone: Zone) -> tuple[OriginRule, ...]:
        ruleset = await self.entrypoint(zone, ORIGIN_RULES_PHASE)
        if ruleset is None:
            return ()
        return parse.convert(parse.origin_rules, ruleset, f"the Origin Rules of {zone.name}")

    async def cache_rules(self, zone: Zone) -> tuple[CacheRule, ...]:
        ruleset = await self.entrypoint(zone, CACHE_RULES_PHASE)
        if ruleset is None:
            return ()
        return parse.convert(parse.cache_timeout_rules, ruleset, f"the Cache Rules of {zone.name}")

    async def page_ssl_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        """The Page Rules that set the SSL/TLS mode, highest priority first."""
        return await self._page_rules(zone)

    async def load_balancers(self, zone: Zone) -> tuple[LoadBalancer, ...]:
        """The zone's load balancers, one request (the API does not page this list)."""
        what = f"list the load balancers of {zone.name}"
        body = await self._transport.get(Op(what, "Load Balancers Read"), f"/zones/{zone.id}/load_balancers")
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return tuple(parse.convert(parse.load_balancer, item, f"a load balancer of {zone.name}") for item in items)

    async def pools(self, account_id: str) -> tuple[Pool, ...]:
        """The account's load-balancer pools and their origins, one request."""
        what = f"list the load-balancer pools of account {account_id}"
        body = await self._transport.get(
            Op(what, "Load Balancing: Monitors and Pools Read"), f"/accounts/{account_id}/load_balancers/pools"
        )
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return tuple(parse.convert(parse.pool, item, f"a pool of account {account_id}") for item in items)

    async def pool_health(self, account_id: str, pool_id: str) -> tuple[bool | None, dict[str, bool]]:
        """The pool's health, and each origin's by address, as Cloudflare's monitors last saw it."""
        what = f"read the health of pool {pool_id}"
        body = await self._transport.get(
            Op(what, "Load Balancing: Monitors and Pools Read"),
            f"/accounts/{account_id}/load_balancers/pools/{pool_id}/health",
        )
        return parse.convert(parse.pool_health, envelope(body, what), f"the health of pool {pool_id}")

    async def pool_referrers(self, account_id: str, pool_id: str) -> tuple[str, ...]:
        """The hostnames of the load balancers that use a pool (its references list): which
        zones have load balancers at all, for one request per pool instead of one per zone."""
        what = f"list what references pool {pool_id}"
        body = await self._transport.get(
            Op(what, "Load Balancing: Monitors and Pools Read"),
            f"/accounts/{account_id}/load_balancers/pools/{pool_id}/references",
        )
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return tuple(
            normalise_name(str(i.get("resource_name") or ""))
            for i in items
            if isinstance(i, dict) and i.get("resource_type") == "load_balancer" and i.get("resource_name")
        )

    async def tunnels(self, account_id: str) -> tuple[Tunnel, ...]:
        """Every Cloudflare Tunnel of the account, deleted ones included (a CNAME may still
        point at one)."""
        what = f"the Cloudflare Tunnels of account {account_id}"
        op = Op(f"list {what}", "Cloudflare Tunnel Read")
        path = f"/accounts/{account_id}/cfd_tunnel"
        items = await paginate(
            lambda n: self._transport.get(op, path, {"per_page": TUNNELS_PER_PAGE, "page": n}),
            what=what,
            key=lambda t: str(t["id"]),
            per_page=TUNNELS_PER_PAGE,
        )
        return tuple(parse.convert(parse.tunnel, item, what) for item in items)

    async def audit_log(self, account_id: str, since: datetime) -> tuple[AuditEntry, ...]:
        """Every entry of the account's audit log from `since` on, oldest first."""
        what = f"the audit log of account {account_id}"
        # The OpenAPI document names no permission for the audit log; this group reads account settings.
        op = Op(f"read {what}", "Account Settings Read")
        path = f"/accounts/{account_id}/audit_logs"
        params = {"since": iso_z(since), "direction": "asc", "per_page": AUDIT_LOG_PER_PAGE}
        items = await paginate(
            lambda n: self._transport.get(op, path, {**params, "page": n}),
            what=what,
            key=lambda e: str(e.get("id") or json.dumps(e, sort_keys=True)),
            per_page=AUDIT_LOG_PER_PAGE,
        )
        return tuple(parse.convert(parse.audit_entry, item, f"an entry of {what}") for item in items)

    async def audit_log_reaches(self, account_id: str, moment: datetime) -> bool:
        """Whether the account's audit log holds anything from before `moment`: if it does not,
        it may not reach back that far (it is kept for a limited time), and nothing can be
        concluded from its silence since."""
        what = f"read the audit log of account {account_id}"
        body = await self._transport.get(
            Op(what, "Account Settings Read"),
            f"/accounts/{account_id}/audit_logs",
            {"before": iso_z(moment), "direction": "desc", "per_page": 1},
        )
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return bool(items)

    async def tunnel_ingress(self, account_id: str, tunnel_id: str) -> tuple[IngressRule, ...] | None:
        """A remote-managed tunnel's ingress rules (None when the API holds no configuration)."""
        what = f"read the configuration of tunnel {tunnel_id}"
        body = await self._transport.get(
            Op(what, "Cloudflare Tunnel Read"), f"/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"
        )
        result = envelope(body, what)
        if result is None:
            return None
        return parse.convert(parse.ingress_rules, result, f"the configuration of tunnel {tunnel_id}")

    async def _page_rules(self, zone: Zone) -> tuple[SslRule, ...]:
        what = f"read the Page Rules of {zone.name}"
        # Asked for explicitly rather than relying on the default: the order is the meaning.
        body = await self._transport.get(
            Op(what, "Page Rules Read"), f"/zones/{zone.id}/pagerules", {"order": "priority", "direction": "desc"}
        )
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        try:
            return parse.page_ssl_rules(items)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ApiError(f"unexpected answer to {what}: {exc}") from None

    async def count_dns_records(self, zone: Zone) -> int:
        """How many records the zone has, from one 1-record page's `total_count`."""
        what = f"count the DNS records of {zone.name}"
        body = await self._transport.get(Op(what, "DNS Read"), f"/zones/{zone.id}/dns_records", {"per_page": 1})
        envelope(body, what)
        info = body.get("result_info") if isinstance(body.get("result_info"), dict) else {}
        total = info.get("total_count")
        if not isinstance(total, int) or isinstance(total, bool):
            raise ApiError(f"the API did not report how many DNS records {zone.name} has")
        return total

    # -- what the edge serves the zone's visitors with (diagnose) -------------------------------

    async def custom_pages(self, zone: Zone) -> tuple[CustomPage, ...]:
        """The zone's custom error pages, one request (the list is not paged): whether the 5xx
        and 1xxx pages a visitor gets are Cloudflare's default ones."""
        what = f"list the custom error pages of {zone.name}"
        body = await self._transport.get(Op(what, "Zone Settings Read"), f"/zones/{zone.id}/custom_pages")
        items = envelope(body, what)
        if not isinstance(items, list):
            raise ApiError(f"unexpected answer to {what}: no result list")
        return tuple(parse.convert(parse.custom_page, item, f"a custom page of {zone.name}") for item in items)

    async def certificate_packs(self, zone: Zone) -> tuple[CertificatePack, ...]:
        """Every certificate pack of the zone, whatever its status (`status=all`): which
        certificates Cloudflare's edge can present for the zone's hostnames."""
        what = f"the certificate packs of {zone.name}"
        op = Op(f"list {what}", "SSL and Certificates Read")
        path = f"/zones/{zone.id}/ssl/certificate_packs"
        items = await paginate(
            lambda n: self._transport.get(op, path, {"status": "all", "per_page": PACKS_PER_PAGE, "page": n}),
            what=what,
            key=lambda p: str(p["id"]),
            per_page=PACKS_PER_PAGE,
        )
        return tuple(parse.convert(parse.certificate_pack, item, what) for item in items)

    # -- single values, read back around writes ------------------------------------------------

    async def get_setting(self, zone: Zone, setting_id: str) -> Any:
        what = f"read setting {setting_id} of {zone.name}"
        path = f"/zones/{segment(zone.id, 'zone id')}/settings/{segment(setting_id, 'setting')}"
        body = await self._transport.get(Op(what, "Zone Settings Read"), path)
        result = envelope(body, what)
        if not isinstance(result, dict):
            raise ApiError(f"unexpected answer to {what}: no result")
        return result.get("value")

    async def get_record(self, zone: Zone, record_id: str) -> DnsRecord | None:
        """The record, or None when it no longer exists."""
        what = f"read DNS record {record_id} of {zone.name}"
        try:
            path = f"/zones/{segment(zone.id, 'zone id')}/dns_records/{segment(record_id, 'DNS record')}"
            body = await self._transport.get(Op(what, "DNS Read"), path)
        except NotFound:
            return None
        result = envelope(body, what)
        return parse.convert(parse.record, result, f"DNS record {record_id}") if result is not None else None

    # -- account-level lists -------------------------------------------------------------------

    async def pages_projects(self, account_id: str) -> tuple[PagesProject, ...]:
        """Every Cloudflare Pages project of an account."""
        what = f"the Cloudflare Pages projects of account {account_id}"
        op = Op(f"list {what}", "Cloudflare Pages Read")
        path = f"/accounts/{account_id}/pages/projects"
        items = await paginate(
            lambda n: self._transport.get(op, path, {"per_page": PAGES_PER_PAGE, "page": n}),
            what=what,
            key=lambda p: str(p["name"]),
            per_page=PAGES_PER_PAGE,
        )
        return tuple(parse.convert(parse.pages_project, item, what) for item in items)

    async def error_counts(
        self, zones: Sequence[Zone], since: datetime, until: datetime
    ) -> tuple[dict[str, list[ErrorBucket]], list[str]]:
        """5xx counts for up to 10 zones in one GraphQL query; GraphQL's own errors come back
        as messages (a zone the token may not read), beside whatever data the API did return."""
        if len(zones) > ZONES_PER_QUERY:
            raise ValueError(f"at most {ZONES_PER_QUERY} zones per analytics query")
        names = ", ".join(z.name for z in zones)
        body = {
            "query": ERRORS_QUERY,
            "variables": {
                "zoneTags": [z.id for z in zones],
                "since": iso_z(since),
                "until": iso_z(until),
            },
        }
        client = self._transport.client
        await self._transport.graphql_limiter.acquire()
        try:
            answer = await self._transport.call(
                Op(f"read the 5xx analytics of {names}", "Analytics Read"),
                lambda: client.post("/graphql", body=body, cast_to=object),
            )
        finally:
            self._transport.graphql_limiter.release()
        if not isinstance(answer, dict):
            raise ApiError(f"unexpected answer to the analytics query for {names}")
        messages = [str(e.get("message", e)) for e in answer.get("errors") or [] if isinstance(e, dict)]
        if answer.get("data") is None:
            raise ApiError(f"the analytics query for {names} failed: {'; '.join(messages) or 'no data'}")
        return parse_response(answer["data"]), messages

    # -- Cloudflare's own IP ranges: a public endpoint, no token needed --------------------------

    async def cloudflare_ips(self) -> tuple[IPNetwork, ...]:
        """Cloudflare's current IP ranges (`GET /ips`, one request), IPv4 then IPv6.

        The endpoint is public, so the request carries no Authorization header: a gateway
        opened without a token (`cfremedy ips`) works, and a token is never sent where it is
        not needed.
        """
        what = "read Cloudflare's IP ranges"
        body = await self._transport.get(Op(what), "/ips", headers={"Authorization": cloudflare.Omit()})
        return parse.convert(parse.ip_ranges, envelope(body, what), "Cloudflare's IP ranges")
