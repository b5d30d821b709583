"""The only part of cfremedy that opens connections to origin servers.

Everything a playbook needs to know about an origin is gathered here once, as frozen results,
so playbooks stay pure functions of (snapshot, probes, inventory).
"""

from cfremedy.probes.certificates import cert_info, hostname_matches
from cfremedy.probes.connect_to import ConnectTo, parse_connect_to, route
from cfremedy.probes.options import ProbeOptions
from cfremedy.probes.results import (
    CertInfo,
    Http2Result,
    OriginProbe,
    Outcome,
    ProbeResults,
    StepResult,
    TlsResult,
)
from cfremedy.probes.runner import ProbePool, probe_origins
from cfremedy.probes.targets import ProbeTarget, plan_targets
from cfremedy.probes.tls import ProbeConfigError

__all__ = [
    "CertInfo",
    "ConnectTo",
    "Http2Result",
    "OriginProbe",
    "Outcome",
    "ProbeConfigError",
    "ProbeOptions",
    "ProbePool",
    "ProbeResults",
    "ProbeTarget",
    "StepResult",
    "TlsResult",
    "cert_info",
    "hostname_matches",
    "parse_connect_to",
    "plan_targets",
    "probe_origins",
    "route",
]
