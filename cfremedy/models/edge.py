"""What Cloudflare's edge serves a zone's visitors with, beyond the zone's settings: its custom
error pages and its certificate packs. `diagnose` reads them to judge what a visitor got — a
page whose look the zone chose, a certificate that is (or is not) one of the zone's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CustomPage:
    id: str  # e.g. "500_errors", "1000_errors"
    state: str  # "default" or "customized"
    url: str = ""  # where Cloudflare fetches a customised page from

    @property
    def customized(self) -> bool:
        return self.state == "customized"


@dataclass(frozen=True)
class EdgeCertificate:
    """One certificate of a pack (a pack holds one per signature algorithm)."""

    id: str
    hosts: tuple[str, ...]
    status: str
    issuer: str = ""
    expires_on: datetime | None = None


@dataclass(frozen=True)
class CertificatePack:
    id: str
    type: str  # "universal", "advanced", "sni_custom", ...
    status: str  # "active" is the one that serves
    hosts: tuple[str, ...]
    certificates: tuple[EdgeCertificate, ...] = ()
    certificate_authority: str = ""
