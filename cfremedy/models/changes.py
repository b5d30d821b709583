"""What changed in an account since an audit: entries of Cloudflare's audit log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    """One action the account's audit log recorded (only what deciding "which zone changed" needs)."""

    id: str
    when: str  # ISO 8601, as the API gives it
    action: str  # "rec_add", "update", ...
    succeeded: bool  # a failed action changed nothing
    resource_type: str  # "DNS_record", "zone", "pool", ... ("" when not given)
    resource_id: str = ""
    zone_name: str = ""  # metadata.zone_name, when the entry names one
    zone_id: str = ""  # metadata.zone_id or zone_tag, when the entry names one
