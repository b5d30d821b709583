"""Every playbook against its case file: plain data in, expected findings and changes out.

One YAML file per playbook in tests/cases/ (sqlfluff style). A case lists the zone, settings,
records, inventory and probe results, and the exact findings and changes expected; the test
builds the frozen facts and runs the playbook's `detect` and `plan_fix`, no I/O involved.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfremedy.analytics import ErrorBucket, ObservedErrors
from cfremedy.facts import ZoneFacts
from cfremedy.inventory import parse_inventory
from cfremedy.models import DnsRecord, SslRule, Zone, ZoneSnapshot, frozen_mapping
from cfremedy.models import PagesProject
from cfremedy.models import AllowlistFile
from cfremedy.probes.results import (
    CertInfo, Http2Result, HttpResponseResult, OriginProbe, Outcome, ProbeResults, StepResult,
    TlsOffer, TlsResult,
)
from cfremedy.registry import load_registry

CASES_DIR = Path(__file__).parent / "cases"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def _leaf(data: dict[str, Any], hostname: str) -> CertInfo:
    issuer = data.get("issuer", "CN=Example Public CA,O=Example")
    subject = data.get("subject", f"CN={hostname}")
    return CertInfo(
        subject=subject,
        issuer=subject if data.get("self_signed") else issuer,
        common_name=data.get("common_name", hostname),
        sans=tuple(data.get("sans", [hostname])),
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=int(data.get("days_left", 60))),
        self_signed=bool(data.get("self_signed", False)),
        serial="01",
        sha256="00" * 32,
        origin_ca=bool(data.get("origin_ca", False)),
    )


def _step(value: str | None) -> StepResult:
    return StepResult(Outcome(value or "ok"))


def _probe(data: dict[str, Any]) -> OriginProbe:
    hostname = data["hostname"]
    tls = None
    if "tls" in data:
        t = data["tls"] or {}
        # `leaf: null` is a handshake that succeeded with a certificate we could not parse
        parsed = t.get("leaf", {}) is not None
        leaf = _leaf(t.get("leaf") or {}, hostname) if t.get("outcome", "ok") == "ok" and parsed else None
        tls = TlsResult(
            outcome=Outcome(t.get("outcome", "ok")),
            error=t.get("error", ""),
            version=t.get("version", "TLSv1.3"),
            alpn=t.get("alpn", "http/1.1"),
            leaf=leaf,
            verified=bool(t.get("verified", False)),
            verify_error=t.get("verify_error", ""),
            hostname_matches=bool(t.get("hostname_matches", True)),
            expired=bool(t.get("expired", False)),
            cipher=t.get("cipher", "TLS_AES_128_GCM_SHA256"),
            permissive=TlsOffer(**t["permissive"]) if t.get("permissive") else None,
        )
    http2 = None
    if "http2" in data:
        h = data["http2"]
        http2 = Http2Result(outcome=Outcome(h.get("outcome", "ok")), error=h.get("error", ""),
                            status=h.get("status"))
    return OriginProbe(
        hostname=hostname,
        address=data["address"],
        proxied=bool(data.get("proxied", True)),
        tcp443=_step(data.get("tcp443")),
        tcp80=_step(data.get("tcp80")),
        tls=tls,
        http2=http2,
        # `response:` takes HttpResponseResult's fields; outcome defaults to ok
        response=HttpResponseResult(**{**data["response"], "outcome": Outcome(data["response"].get("outcome", "ok"))})
        if "response" in data else None,
    )


def build_facts(case: dict[str, Any]) -> ZoneFacts:
    zone_data = case.get("zone", {})
    zone = Zone(id="z1", name=zone_data.get("name", "example.com"), plan=zone_data.get("plan", "free"))
    records = tuple(
        DnsRecord(id=r["id"], type=r.get("type", "A"), name=r["name"], content=r["content"],
                  proxied=bool(r.get("proxied", False)))
        for r in case.get("records", [])
    )
    snapshot = ZoneSnapshot(
        zone=zone,
        settings=frozen_mapping(case.get("settings", {})),
        editable=frozen_mapping(case.get("editable", {})),
        records=records,
        # `ssl_rules:` lists SslRule fields; absent means "not read"
        ssl_rules=tuple(SslRule(**r) for r in case["ssl_rules"]) if "ssl_rules" in case else None,
    )
    inventory = parse_inventory({"zones": {zone.name: case["inventory"]}} if "inventory" in case else {})
    observed = None
    if "observed" in case:  # {edge status: count} over the last 24 h
        buckets = [ErrorBucket(NOW - timedelta(hours=1), int(code), 0, int(count))
                   for code, count in case["observed"].items()]
        observed = ObservedErrors.of(NOW - timedelta(hours=24), NOW, buckets)
    return ZoneFacts(
        snapshot=snapshot,
        probes=ProbeResults(tuple(_probe(p) for p in case.get("probes", []))),
        inventory=inventory.for_zone(zone.name),
        now=NOW,
        observed=observed,
        # `pages_projects:` lists {name, subdomain, domains}; absent means "not read"
        pages_projects=tuple(PagesProject(p["name"], p["subdomain"], tuple(p.get("domains", ())))
                             for p in case["pages_projects"]) if "pages_projects" in case else None,
        options=frozen_mapping(case.get("options", {})),  # cfremedy.toml [playbooks.<id>]
        # `allowlists:` lists {path, networks, error}, the files as the audit read them
        allowlists=tuple(AllowlistFile(a["path"], tuple(ipaddress.ip_network(n, strict=False)
                                                        for n in a.get("networks", [])), a.get("error", ""))
                         for a in case.get("allowlists", [])),
        # `cloudflare_ranges:` replaces the packaged copy of Cloudflare's ranges
        **({"cloudflare_ranges": tuple(ipaddress.ip_network(n) for n in case["cloudflare_ranges"])}
           if "cloudflare_ranges" in case else {}),
    )


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            params.append(pytest.param(data["playbook"], case, id=f"{data['playbook']}: {case['name']}"))
    return params


REGISTRY = load_registry()


@pytest.mark.parametrize("playbook_id, case", _load_cases())
def test_case(playbook_id: str, case: dict[str, Any]) -> None:
    playbook = REGISTRY.get(playbook_id)
    facts = build_facts(case)
    findings = playbook.detect(facts)
    changes = playbook.plan_fix(facts, findings)
    expect = case.get("expect", {})

    expected_findings = expect.get("findings", [])
    assert len(findings) == len(expected_findings), [f.message for f in findings]
    for finding, wanted in zip(sorted(findings, key=lambda f: (f.resource, f.message)),
                               sorted(expected_findings, key=lambda w: (w["resource"], w.get("message_contains", "")))):
        assert finding.playbook == playbook_id
        assert finding.resource == wanted["resource"]
        assert finding.severity.value == wanted["severity"], finding.message
        assert list(finding.error_codes) == wanted.get("error_codes", []), finding.message
        for fragment in wanted.get("message_contains", "").split("|"):
            assert fragment in finding.message, finding.message
        for key, value in wanted.get("evidence", {}).items():
            assert finding.evidence.get(key) == value, (key, dict(finding.evidence))
        assert finding.docs_url.startswith("https://developers.cloudflare.com/")

    expected_changes = expect.get("changes", [])
    assert [
        {"target": c.target, "before": c.before, "after": c.after, "lowers_security": c.lowers_security}
        for c in changes
    ] == [
        {"target": w["target"], "before": w["before"], "after": w["after"],
         "lowers_security": w.get("lowers_security", False)}
        for w in expected_changes
    ]
    for change in changes:
        assert change.playbook == playbook_id and change.reason
