"""Small shared values: severities, DNS name and time spellings, read-only mappings."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# A network in Cloudflare's ranges, an allowlist, or the address classes origins must avoid.
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view over a private copy, so callers cannot mutate it behind our back."""
    return MappingProxyType(dict(data or {}))


def normalise_name(name: str) -> str:
    """DNS names compare case-insensitively and without the root's trailing dot."""
    return name.strip().rstrip(".").lower()


def iso_z(moment: datetime, timespec: str = "seconds") -> str:
    """UTC in ISO 8601 with a `Z`, the form the API and every report use."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_now_iso(timespec: str = "seconds") -> str:
    return iso_z(datetime.now(UTC), timespec)


class Severity(str, enum.Enum):
    """Ordered from least to most serious; `--fail-on` compares by this order."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_ORDER = list(Severity)
