"""Running a playbook against its YAML case file: plain data in, exact findings and changes out.

`check_case` builds the frozen `ZoneFacts` a case describes (at a fixed clock, so certificate
expiry is reproducible), runs the playbook's `detect` and `plan_fix`, and raises
`CaseFailure` naming the first difference. No I/O beyond reading the case file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from cfremedy.analytics import ErrorBucket, ObservedErrors
from cfremedy.errors import UsageError, first_validation_error
from cfremedy.facts import ZoneFacts, packaged_cloudflare_ranges
from cfremedy.inventory import parse_inventory
from cfremedy.models import (
    AllowlistFile,
    CacheRule,
    DnsRecord,
    Finding,
    IngressRule,
    LoadBalancer,
    OriginRule,
    PagesProject,
    Pool,
    PoolOrigin,
    SslRule,
    Tunnel,
    Zone,
    ZoneSnapshot,
    frozen_mapping,
)
from cfremedy.probes.results import (
    CertInfo,
    Http2Result,
    HttpResponseResult,
    KeepAliveResult,
    OriginProbe,
    Outcome,
    ProbeResults,
    Resolution,
    Revocation,
    SniCheck,
    StepResult,
    TlsOffer,
    TlsResult,
)
from cfremedy.registry import Playbook
from cfremedy.testing.schema import (
    Case,
    CaseFile,
    ExpectedFinding,
    LeafSpec,
    LoadBalancerSpec,
    PoolSpec,
    ProbeSpec,
    StepSpec,
    TunnelSpec,
)

# Every case runs at this moment: "expires in 12 days" must mean the same thing every day.
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class CaseFailure(AssertionError):
    """A case whose playbook returned something else than the case expects."""


def load_case_file(path: Path) -> CaseFile:
    """Read and validate one case file; a bad key or value is a `UsageError` naming it."""
    import yaml  # only when case files are read: a runtime dependency for `playbooks test`

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read case file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    try:
        return CaseFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {first_validation_error(exc)}") from None


def case_files(directory: Path) -> Iterator[tuple[Path, CaseFile]]:
    for path in sorted(directory.glob("*.yml")):
        yield path, load_case_file(path)


def _leaf(spec: LeafSpec, hostname: str) -> CertInfo:
    subject = spec.subject or f"CN={hostname}"
    return CertInfo(
        subject=subject,
        issuer=subject if spec.self_signed else spec.issuer,
        common_name=spec.common_name or hostname,
        sans=tuple(spec.sans if spec.sans is not None else [hostname]),
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=spec.days_left),
        self_signed=spec.self_signed,
        serial="01",
        sha256="00" * 32,
        origin_ca=spec.origin_ca,
    )


def _step(spec: str | StepSpec) -> StepResult:
    if isinstance(spec, str):
        return StepResult(Outcome(spec))
    return StepResult(Outcome(spec.outcome), spec.error, spec.elapsed_ms)


def _probe(spec: ProbeSpec) -> OriginProbe:
    tls = None
    if spec.tls is not None:
        t = spec.tls
        leaf = _leaf(t.leaf, spec.hostname) if t.outcome == "ok" and t.leaf is not None else None
        without_sni = None
        if t.without_sni is not None:
            w = t.without_sni
            without_sni = SniCheck(
                Outcome(w.outcome),
                w.error,
                leaf=_leaf(w.leaf, spec.hostname) if w.outcome == "ok" and w.leaf is not None else None,
                hostname_matches=w.hostname_matches,
                same_certificate=w.same_certificate,
            )
        revocation = None
        if t.revocation is not None:
            r = t.revocation
            revocation = Revocation(
                status=r.status,
                detail=r.detail,
                responder=r.responder,
                responder_status=r.responder_status or r.status,
                staple=r.staple,
                revoked_at=NOW - timedelta(days=r.revoked_days_ago) if r.revoked_days_ago is not None else None,
                reason=r.reason,
            )
        tls = TlsResult(
            outcome=Outcome(t.outcome),
            error=t.error,
            version=t.version,
            alpn=t.alpn,
            leaf=leaf,
            verified=t.verified,
            verify_error=t.verify_error,
            hostname_matches=t.hostname_matches,
            expired=t.expired,
            cipher=t.cipher,
            permissive=TlsOffer(t.permissive.version, t.permissive.cipher) if t.permissive else None,
            without_sni=without_sni,
            revocation=revocation,
            client_certificate=t.client_certificate,
        )
    http2 = None
    if spec.http2 is not None:
        http2 = Http2Result(outcome=Outcome(spec.http2.outcome), error=spec.http2.error, status=spec.http2.status)
    response = None
    if spec.response is not None:
        fields = dict(spec.response)
        try:
            response = HttpResponseResult(**{**fields, "outcome": Outcome(fields.get("outcome", "ok"))})
        except TypeError as exc:
            raise UsageError(f"probe {spec.hostname} response: {exc}") from None
    keepalive = None
    if spec.keepalive is not None:
        k = spec.keepalive
        keepalive = KeepAliveResult(**{**k.model_dump(), "outcome": Outcome(k.outcome)})
    return OriginProbe(
        hostname=spec.hostname,
        address=spec.address,
        proxied=spec.proxied,
        tcp443=_step(spec.tcp443),
        tcp80=_step(spec.tcp80),
        keepalive=keepalive,
        retried=tuple(spec.retried),
        tls=tls,
        http2=http2,
        response=response,
        https_port=spec.https_port,
        http_port=spec.http_port,
        sni=spec.sni,
        host_header=spec.host_header,
        via=spec.via,
        partial=spec.partial,
    )


def _pools_map(table: dict[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
    return frozen_mapping({k: tuple(v) for k, v in table.items()})


def _balancer(spec: LoadBalancerSpec) -> LoadBalancer:
    return LoadBalancer(
        id=spec.id,
        name=spec.name,
        enabled=spec.enabled,
        proxied=spec.proxied,
        default_pools=tuple(spec.default_pools),
        fallback_pool=spec.fallback_pool,
        region_pools=_pools_map(spec.region_pools),
        country_pools=_pools_map(spec.country_pools),
        pop_pools=_pools_map(spec.pop_pools),
    )


def _pool(spec: PoolSpec) -> Pool:
    return Pool(
        id=spec.id,
        name=spec.name or spec.id,
        enabled=spec.enabled,
        minimum_origins=spec.minimum_origins,
        origins=tuple(PoolOrigin(**o.model_dump()) for o in spec.origins),
        healthy=spec.healthy,
    )


def _tunnel(spec: TunnelSpec) -> Tunnel:
    return Tunnel(
        id=spec.id,
        name=spec.name or spec.id,
        status=spec.status,
        remote_config=spec.remote_config,
        connections=spec.connections,
        deleted=spec.deleted,
        ingress=None if spec.ingress is None else tuple(IngressRule(**i.model_dump()) for i in spec.ingress),
    )


def build_facts(case: Case) -> ZoneFacts:
    """The frozen facts a case describes."""
    zone = Zone(id="z1", name=case.zone.name, plan=case.zone.plan)
    snapshot = ZoneSnapshot(
        zone=zone,
        settings=frozen_mapping(case.settings),
        editable=frozen_mapping(case.editable),
        records=tuple(
            DnsRecord(id=r.id, type=r.type, name=r.name, content=r.content, proxied=r.proxied) for r in case.records
        ),
        ssl_rules=None if case.ssl_rules is None else tuple(SslRule(**r.model_dump()) for r in case.ssl_rules),
        origin_rules=None
        if case.origin_rules is None
        else tuple(OriginRule(**r.model_dump()) for r in case.origin_rules),
        cache_rules=None if case.cache_rules is None else tuple(CacheRule(**r.model_dump()) for r in case.cache_rules),
        load_balancers=None if case.load_balancers is None else tuple(_balancer(b) for b in case.load_balancers),
        pools=None if case.pools is None else tuple(_pool(p) for p in case.pools),
        tunnels=None if case.tunnels is None else tuple(_tunnel(t) for t in case.tunnels),
    )
    inventory = parse_inventory({"zones": {zone.name: case.inventory}} if case.inventory is not None else {})
    observed = None
    if case.observed is not None:
        buckets = [ErrorBucket(NOW - timedelta(hours=1), code, 0, count) for code, count in case.observed.items()]
        observed = ObservedErrors.of(NOW - timedelta(hours=24), NOW, buckets)
    ranges = packaged_cloudflare_ranges()
    if case.cloudflare_ranges is not None:
        ranges = tuple(ipaddress.ip_network(n) for n in case.cloudflare_ranges)
    return ZoneFacts(
        snapshot=snapshot,
        probes=ProbeResults(
            tuple(_probe(p) for p in case.probes),
            resolutions=tuple(
                Resolution(r.name, r.status, tuple(r.addresses), r.resolver, r.detail) for r in case.resolutions
            ),
            candidates=tuple(_probe(p) for p in case.candidates),
        ),
        inventory=inventory.for_zone(zone.name),
        now=NOW,
        observed=observed,
        pages_projects=None
        if case.pages_projects is None
        else tuple(PagesProject(p.name, p.subdomain, tuple(p.domains)) for p in case.pages_projects),
        options=frozen_mapping(case.options),
        allowlists=tuple(
            AllowlistFile(a.path, tuple(ipaddress.ip_network(n, strict=False) for n in a.networks), a.error)
            for a in case.allowlists
        ),
        cloudflare_ranges=ranges,
    )


def _check_finding(found: Finding, wanted: ExpectedFinding, playbook: str) -> None:
    def fail(what: str) -> None:
        raise CaseFailure(f"finding on {found.resource}: {what}\n  message: {found.message}")

    if found.playbook != playbook:
        fail(f"playbook is {found.playbook!r}, not {playbook!r}")
    if found.resource != wanted.resource:
        fail(f"resource is {found.resource!r}, expected {wanted.resource!r}")
    if found.severity.value != wanted.severity:
        fail(f"severity is {found.severity.value}, expected {wanted.severity}")
    if list(found.error_codes) != wanted.error_codes:
        fail(f"error codes are {list(found.error_codes)}, expected {wanted.error_codes}")
    for fragment in filter(None, wanted.message_contains.split("|")):
        if fragment not in found.message:
            fail(f"message lacks {fragment!r}")
    for key, value in wanted.evidence.items():
        if found.evidence.get(key) != value:
            fail(f"evidence {key!r} is {found.evidence.get(key)!r}, expected {value!r}")
    if not found.docs_url.startswith("https://"):
        fail(f"docs_url {found.docs_url!r} is not a link")


def check_case(playbook: Playbook, case: Case) -> None:
    """Run one case; raise `CaseFailure` at the first difference from what it expects."""
    facts = build_facts(case)
    findings = playbook.detect(facts)
    changes = playbook.plan_fix(facts, findings)
    wanted = case.expect.findings
    if len(findings) != len(wanted):
        listed = "\n".join(f"  - {f.resource}: {f.message}" for f in findings) or "  (none)"
        raise CaseFailure(f"{len(findings)} finding(s), expected {len(wanted)}:\n{listed}")
    ordered = sorted(findings, key=lambda f: (f.resource, f.message))
    expected = sorted(wanted, key=lambda w: (w.resource, w.message_contains))
    for found, want in zip(ordered, expected, strict=True):
        _check_finding(found, want, playbook.id)
    got = [
        {"target": c.target, "before": c.before, "after": c.after, "lowers_security": c.lowers_security}
        for c in changes
    ]
    want_changes = [w.model_dump() for w in case.expect.changes]
    if got != want_changes:
        raise CaseFailure(f"changes are {got}, expected {want_changes}")
    for change in changes:
        if change.playbook != playbook.id or not change.reason:
            raise CaseFailure(f"change {change.target} needs playbook {playbook.id!r} and a reason")


@dataclass(frozen=True)
class CaseResult:
    file: Path
    playbook: str
    case: str
    failure: str = ""  # empty when the case passed

    @property
    def passed(self) -> bool:
        return not self.failure


def run_directory(directory: Path, playbooks: dict[str, Playbook]) -> list[CaseResult]:
    """Every case of every file in `directory` (`cfremedy playbooks test`)."""
    results = []
    for path, case_file in case_files(directory):
        playbook = playbooks.get(case_file.playbook)
        if playbook is None:
            raise UsageError(
                f"{path}: no playbook {case_file.playbook!r} is loaded", hint="add its directory with --playbooks-dir"
            )
        for case in case_file.cases:
            try:
                check_case(playbook, case)
            except CaseFailure as exc:
                results.append(CaseResult(path, playbook.id, case.name, str(exc)))
            else:
                results.append(CaseResult(path, playbook.id, case.name))
    return results
