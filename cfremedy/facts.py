"""Everything a playbook may know about one zone, gathered before any playbook runs.

Playbooks are pure functions of this value: no clock, no network, no files. What they would be
tempted to look up themselves (the time, Cloudflare's IP ranges) is put here by the caller.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from cfremedy.analytics import ObservedErrors
from cfremedy.inventory import ZoneInventory
from cfremedy.models import AllowlistFile, IPNetwork, PagesProject, ZoneSnapshot, frozen_mapping
from cfremedy.probes.results import ProbeResults
from cfremedy.routes import Routes, build_routes


@lru_cache(maxsize=1)
def packaged_cloudflare_ranges() -> tuple[IPNetwork, ...]:
    """Cloudflare's published ranges as shipped with this release.

    Audits use this copy rather than `GET /ips`, which costs a request, unless an allowlist check
    needs the current list.
    """
    data = json.loads((resources.files("cfremedy") / "data" / "cloudflare-ips.json").read_text())
    return tuple(ipaddress.ip_network(c) for c in [*data["ipv4_cidrs"], *data["ipv6_cidrs"]])


@dataclass(frozen=True)
class ZoneFacts:
    snapshot: ZoneSnapshot
    # Every hostname's route (`cfremedy.routes.build_routes(snapshot)`, computed when not given).
    routes: Routes = field(default_factory=Routes)
    probes: ProbeResults = field(default_factory=ProbeResults)
    inventory: ZoneInventory = field(default_factory=ZoneInventory)
    cloudflare_ranges: tuple[IPNetwork, ...] = field(default_factory=packaged_cloudflare_ranges)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # 5xx responses Cloudflare counted for the zone (`--errors-since`); None when not asked.
    observed: ObservedErrors | None = None
    # The inventory's `allowlist_files`, read; `cloudflare_ranges` then come from `GET /ips`.
    allowlists: tuple[AllowlistFile, ...] = ()
    # The account's Pages projects; None when not read (no proxied CNAME to *.pages.dev).
    pages_projects: tuple[PagesProject, ...] | None = None
    # Per-playbook settings from cfremedy.toml (`[playbooks.<id>]`), e.g. the expiry horizon.
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=frozen_mapping)

    def __post_init__(self) -> None:
        if not self.routes.by_hostname:  # not given (tests, playbook cases): built from the snapshot
            object.__setattr__(self, "routes", build_routes(self.snapshot))

    def option(self, playbook: str, name: str, default: Any) -> Any:
        return self.options.get(playbook, {}).get(name, default)
