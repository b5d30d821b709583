"""The frozen values that flow from the gateway to the playbooks and on to the reporters.

Everything here is immutable so a playbook can never change what another playbook sees, and
so a snapshot can be cached, compared and serialised without defensive copies.
"""

from cfremedy.models.changes import AuditEntry
from cfremedy.models.common import (
    IPNetwork,
    Severity,
    frozen_mapping,
    iso_z,
    normalise_name,
    utc_now_iso,
)
from cfremedy.models.edge import CertificatePack, CustomPage, EdgeCertificate
from cfremedy.models.findings import (
    Change,
    Finding,
    Report,
    StageError,
    Suppression,
    ZoneReport,
)
from cfremedy.models.playbook import PlaybookMeta
from cfremedy.models.routing import (
    TUNNEL_SUFFIX,
    CacheRule,
    IngressRule,
    LoadBalancer,
    OriginRule,
    Pool,
    PoolOrigin,
    Tunnel,
)
from cfremedy.models.snapshot import (
    AllowlistFile,
    DnsRecord,
    PagesProject,
    SslRule,
    Zone,
    ZoneSnapshot,
)

__all__ = [
    "TUNNEL_SUFFIX",
    "AllowlistFile",
    "AuditEntry",
    "CacheRule",
    "CertificatePack",
    "CustomPage",
    "EdgeCertificate",
    "IngressRule",
    "LoadBalancer",
    "OriginRule",
    "Pool",
    "PoolOrigin",
    "Tunnel",
    "Change",
    "DnsRecord",
    "Finding",
    "IPNetwork",
    "PagesProject",
    "PlaybookMeta",
    "Report",
    "Severity",
    "SslRule",
    "StageError",
    "Suppression",
    "Zone",
    "ZoneReport",
    "ZoneSnapshot",
    "frozen_mapping",
    "iso_z",
    "normalise_name",
    "utc_now_iso",
]
