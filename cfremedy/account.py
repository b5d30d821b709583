"""Auditing every zone a token can see: the nightly CI job.

The zone list already carries each zone's plan and permissions, so after it (one request per
50 zones) a zone costs two requests: its settings and its DNS records. Zones are audited a few
at a time under the gateway's rate limiter; a zone that fails is reported with its error and
the others carry on. `Shard` splits the zones between CI jobs by a hash of the zone id, so the
split stays stable when zones are added or the list comes back in another order.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cfremedy.analytics import ObservedErrors
from cfremedy.audit import AuditOptions, gather_observed, judge, read_zone
from cfremedy.errors import ApiError, AuthenticationFailed, UsageError, ZoneNotFound
from cfremedy.gateway import CloudflareGateway
from cfremedy.models import Report, StageError, Zone, ZoneReport

log = logging.getLogger("cfremedy.account")

DEFAULT_PARALLEL = 8  # zones in flight at once; the rate limiter, not this, bounds the API load


class NoZones(UsageError):
    """Nothing to audit: a success that audits nothing would keep a CI build green forever."""

    def __init__(self, visible: int, scope: AccountScope) -> None:
        if visible == 0:
            super().__init__("the token can see no zone", hint="it needs Zone Read on the zones to audit")
            self.exit_code = ZoneNotFound.exit_code
        else:
            super().__init__(f"none of the {visible} zone(s) the token can see is selected ({scope.label})",
                             hint="check --zone globs, --account-id and --shard")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written on the command line
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N`, e.g. `2/4`."""
        try:
            index, _, count = text.partition("/")
            shard = cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"{text!r} is not I/N (e.g. 1/4)") from None
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"{text!r}: I must be between 1 and N")
        return shard

    def owns(self, zone: Zone) -> bool:
        bucket = int(hashlib.sha256(zone.id.encode()).hexdigest()[:12], 16) % self.count
        return bucket == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class AccountScope:
    account_id: str | None = None
    zone_globs: tuple[str, ...] = ()
    shard: Shard | None = None

    def selects(self, zone: Zone) -> bool:
        if self.zone_globs and not any(fnmatch.fnmatchcase(zone.name, g.lower()) for g in self.zone_globs):
            return False
        return self.shard is None or self.shard.owns(zone)

    @property
    def label(self) -> str:
        """Names the scope in history, so `--baseline last` compares like with like."""
        parts = [f"account {self.account_id}" if self.account_id else "all zones"]
        if self.zone_globs:
            parts.append("zones " + ",".join(self.zone_globs))
        if self.shard:
            parts.append(f"shard {self.shard}")
        return "; ".join(parts)


async def audit_one(gateway: CloudflareGateway, zone: Zone, options: AuditOptions,
                    observed: ObservedErrors | None = None,
                    errors: tuple[StageError, ...] = ()) -> ZoneReport:
    """A zone already read from the list: its failures become its report's errors."""
    try:
        snapshot, read_errors = await read_zone(gateway, zone, options)
    except AuthenticationFailed:
        raise  # the token itself is refused: every other zone would fail the same way
    except ApiError as exc:
        return ZoneReport(name=zone.name, id=zone.id, plan=zone.plan,
                          errors=(StageError("api", zone.name, exc.message), *errors))
    report = await judge(gateway, snapshot, options, observed)
    return replace(report, errors=report.errors + tuple(read_errors) + errors)


async def audit_account(
    gateway: CloudflareGateway,
    scope: AccountScope,
    options: AuditOptions,
    *,
    parallel: int = DEFAULT_PARALLEL,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    visible = await gateway.list_zones(scope.account_id)
    zones = sorted((z for z in visible if scope.selects(z)), key=lambda z: z.name)
    if not zones:
        raise NoZones(len(visible), scope)
    log.info("auditing %d zone(s) (%s)", len(zones), scope.label)
    if options.probe is not None and parallel > 1:
        # One budget of connections for the whole run, not one per zone in flight: 8 zones x
        # 100 probes x 2 ports would exceed a default limit of 1,024 open files.
        per_zone = max(1, options.probe.concurrency // parallel)
        options = replace(options, probe=replace(options.probe, concurrency=per_zone))
    observed: dict[str, ObservedErrors] = {}
    analytics_errors: dict[str, list[StageError]] = {}
    if options.errors_since:
        observed, failures = await gather_observed(gateway, zones, options.errors_since)
        for error in failures:
            analytics_errors.setdefault(error.resource, []).append(error)
    slots = asyncio.Semaphore(parallel)
    done = 0

    async def one(zone: Zone) -> ZoneReport:
        nonlocal done
        async with slots:
            report = await audit_one(gateway, zone, options, observed.get(zone.id),
                                     tuple(analytics_errors.get(zone.name, ())))
        done += 1
        if progress is not None:
            progress(done, len(zones))
        return report

    reports: Sequence[ZoneReport] = await asyncio.gather(*(one(z) for z in zones))
    return Report(zones=tuple(sorted(reports, key=lambda r: r.name)))
