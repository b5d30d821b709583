"""What an audit covers: one zone, the zones of an account (globs, shards), or one hostname.

The pipeline (`cfremedy.audit.audit`) takes one of these; its `label` names the scope in
history, so `--baseline last` compares like with like.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass

from cfremedy.errors import UsageError, ZoneNotFound
from cfremedy.models import Zone, normalise_name


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
        """By a hash of the zone id: the split stays stable when zones are added or the list
        comes back in another order."""
        bucket = int(hashlib.sha256(zone.id.encode()).hexdigest()[:12], 16) % self.count
        return bucket == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class ZoneSelection:
    """One zone, by name."""

    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalise_name(self.name))

    @property
    def label(self) -> str:
        return f"zone {self.name}"


@dataclass(frozen=True)
class AccountSelection:
    """Every zone the token can see, narrowed by account, name globs and a shard."""

    account_id: str | None = None
    zone_globs: tuple[str, ...] = ()
    shard: Shard | None = None

    def selects(self, zone: Zone) -> bool:
        if self.zone_globs and not any(fnmatch.fnmatchcase(zone.name, g.lower()) for g in self.zone_globs):
            return False
        return self.shard is None or self.shard.owns(zone)

    @property
    def label(self) -> str:
        parts = [f"account {self.account_id}" if self.account_id else "all zones"]
        if self.zone_globs:
            parts.append("zones " + ",".join(self.zone_globs))
        if self.shard:
            parts.append(f"shard {self.shard}")
        return "; ".join(parts)


@dataclass(frozen=True)
class HostnameSelection:
    """One hostname (`diagnose`): only its origins are probed, only findings about it, its
    paths or its whole zone are kept. `zone` is found from the hostname when not given."""

    hostname: str
    zone: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hostname", normalise_name(self.hostname))
        if self.zone is not None:
            object.__setattr__(self, "zone", normalise_name(self.zone))

    @property
    def label(self) -> str:
        return f"hostname {self.hostname}"


Selection = ZoneSelection | AccountSelection | HostnameSelection


class NoZones(UsageError):
    """Nothing to audit: a success that audits nothing would keep a CI build green forever."""

    def __init__(self, visible: int, selection: AccountSelection) -> None:
        if visible == 0:
            super().__init__("the token can see no zone", hint="it needs Zone Read on the zones to audit")
            self.exit_code = ZoneNotFound.exit_code
        else:
            super().__init__(
                f"none of the {visible} zone(s) the token can see is selected ({selection.label})",
                hint="check --zone globs, --account-id and --shard",
            )
