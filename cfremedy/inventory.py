"""The inventory file (README, "The inventory"): what the API cannot know about a zone.

Where each hostname's origin really is (so a record pointing elsewhere is a finding, and the
fix has a right answer) and which requests are legitimately slow (so a 524 can be predicted).
Parsing is strict: an unknown key, a bad address or a bad number is a usage error that names
the file and the key, because a silently ignored typo would make a broken zone look healthy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from cfremedy.errors import UsageError, first_validation_error
from cfremedy.files import read_toml
from cfremedy.hostnames import ascii_hostname
from cfremedy.models import frozen_mapping, normalise_name
from cfremedy.suggest import NEAR_MISS, closest, did_you_mean


@dataclass(frozen=True)
class SlowEndpoint:
    hostname: str
    path: str
    seconds: float


@dataclass(frozen=True)
class ZoneInventory:
    # hostname -> the addresses its origin is provisioned on
    origins: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    slow_endpoints: tuple[SlowEndpoint, ...] = ()
    # Firewall / web-server files meant to let Cloudflare's ranges in (cloudflare_ips_allowlist);
    # relative paths are resolved against the inventory file's directory.
    allowlist_files: tuple[str, ...] = ()

    def origins_for(self, hostname: str) -> tuple[str, ...]:
        return self.origins.get(normalise_name(hostname), ())


@dataclass(frozen=True)
class Inventory:
    zones: Mapping[str, ZoneInventory] = field(default_factory=frozen_mapping)
    source: str = ""

    def for_zone(self, zone_name: str) -> ZoneInventory:
        return self.zones.get(normalise_name(zone_name), ZoneInventory())


EMPTY = Inventory()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _host(name: str) -> str:
    ascii_hostname(name)  # checked here; converted after the duplicate check (`_names`)
    return name


HostName = Annotated[str, AfterValidator(_host)]


class _SlowEndpointModel(_Strict):
    hostname: HostName
    path: str = "/"
    # strict: "300" or true is a typo to report, not a number to guess; no infinity either
    seconds: float = Field(gt=0, strict=True, allow_inf_nan=False)


class _ZoneModel(_Strict):
    # an empty list would silently switch the mismatch check off for that hostname
    origins: dict[HostName, list[str]] = Field(default_factory=dict)
    slow_endpoints: list[_SlowEndpointModel] = Field(default_factory=list)
    allowlist_files: list[str] = Field(default_factory=list)

    @field_validator("allowlist_files")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.strip():
                raise ValueError("an empty path")
        if len(set(paths)) != len(paths):
            raise ValueError("a path is listed twice")
        return paths

    @field_validator("origins")
    @classmethod
    def _addresses(cls, origins: dict[str, list[str]]) -> dict[str, list[str]]:
        for hostname, addresses in origins.items():
            if not addresses:
                raise ValueError(f"origins.{hostname}: list at least one address")
            for address in addresses:
                try:
                    ipaddress.ip_address(address)
                except ValueError:
                    raise ValueError(f"origins.{hostname}: {address!r} is not an IP address") from None
        return origins


class _InventoryModel(_Strict):
    zones: dict[HostName, _ZoneModel] = Field(default_factory=dict)


def _no_duplicates(keys: Mapping[str, Any], where: str, source: str) -> None:
    """Names differing only in case, a trailing dot or their Unicode/ASCII spelling would
    silently overwrite each other."""
    seen: dict[str, str] = {}
    for key in keys:
        other = seen.setdefault(ascii_hostname(key), key)
        if other != key:
            raise UsageError(f"{source}: {where}: {other!r} and {key!r} name the same host")


def _resolve(path: str, base_dir: Path | None) -> str:
    resolved = Path(path).expanduser()
    return str(resolved if resolved.is_absolute() or base_dir is None else base_dir / resolved)


def parse_inventory(data: Mapping[str, Any], source: str = "inventory", base_dir: Path | None = None) -> Inventory:
    """`base_dir` is what relative `allowlist_files` are relative to (the file's directory)."""
    try:
        model = _InventoryModel.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {first_validation_error(exc)}") from None
    _no_duplicates(model.zones, "zones", source)
    for name, zone in model.zones.items():
        _no_duplicates(zone.origins, f"zones.{name}.origins", source)
    zones = {
        ascii_hostname(name): ZoneInventory(
            origins=frozen_mapping(
                {
                    ascii_hostname(h): tuple(str(ipaddress.ip_address(a)) for a in addrs)
                    for h, addrs in zone.origins.items()
                }
            ),
            slow_endpoints=tuple(
                SlowEndpoint(ascii_hostname(s.hostname), s.path, s.seconds) for s in zone.slow_endpoints
            ),
            allowlist_files=tuple(_resolve(p, base_dir) for p in zone.allowlist_files),
        )
        for name, zone in model.zones.items()
    }
    return Inventory(zones=frozen_mapping(zones), source=source)


def load_inventory(path: Path) -> Inventory:
    return parse_inventory(read_toml(path, "inventory"), str(path), base_dir=path.parent)


# -- typos: entries that match nothing --------------------------------------------------------
# An inventory entry whose zone or hostname is misspelt is never looked up, so the checks it
# feeds pass silently. These say so (the audit logs them as warnings), naming the closest name
# when it is a near miss: names in a zone share its suffix, so any two look alike to difflib.


def unknown_zones(
    inventory: Inventory, audited: Collection[str], visible: Collection[str], whole_account: bool
) -> list[str]:
    """Inventory zones that match no zone of the audit, when that looks like a mistake. Pure.

    In an audit of every zone the token can see (`whole_account`), an inventory zone that
    matches none of them is stale or misspelt: always said, naming the closest visible zone.
    Otherwise an inventory shared between teams rightly names zones this audit does not
    cover, so only a near miss of an audited zone that has no entry of its own is said
    (`exmaple.com` for `example.com`). `visible`: the zones the token can see, as far as the
    audit listed them.
    """
    unmatched = [zone for zone in inventory.zones if zone not in audited]
    if whole_account:
        return [
            f"{inventory.source}: zone {zone!r} matches no zone the token can see"
            f"{did_you_mean(zone, visible, NEAR_MISS)}; its entries are not used"
            for zone in unmatched
        ]
    problems = []
    for zone in sorted(set(audited) - set(inventory.zones)):
        typo = closest(zone, (z for z in unmatched if z not in visible), cutoff=NEAR_MISS)
        if typo is not None:
            problems.append(
                f"{inventory.source}: zone {typo!r} matches no zone of this audit (did you mean {zone!r}?);"
                " its entries are not used"
            )
    return problems


def unknown_hostnames(inventory: ZoneInventory, zone: str, source: str, names: Collection[str]) -> list[str]:
    """The zone's inventory hostnames (origins, slow endpoints) that are not a DNS record or a
    load balancer of the zone (`names`, normalised), nor covered by a wildcard record. Pure."""

    def known(hostname: str) -> bool:
        parent = hostname.partition(".")[2]
        return hostname in names or f"*.{parent}" in names

    entries = [(h, "origins", "its addresses are not checked") for h in inventory.origins]
    entries += [
        (s.hostname, "slow_endpoints", "its slow requests do not predict a 524") for s in inventory.slow_endpoints
    ]
    problems = []
    for hostname, key, consequence in dict.fromkeys(entries):  # a hostname's slow paths: one warning
        if known(hostname):
            continue
        problems.append(
            f"{source}: zones.{zone}.{key}: {hostname!r} is not a DNS record or load balancer of {zone}"
            f"{did_you_mean(hostname, names, NEAR_MISS)}; {consequence}"
        )
    return problems
