"""Cut Cloudflare's OpenAPI document down to the operations cfremedy's sandbox serves.

The full document is about 4 MB; the tests validate the sandbox's responses against the
operations listed in `KEEP` only, so the repository carries those operations and every
component they reference (followed transitively), nothing else. Run it again when the sandbox
gains a route:

    python tests/vendored/trim_openapi.py FULL.json tests/vendored/cloudflare-openapi-2024-08.subset.json

then update the checksums in `tests/vendored/SOURCES.md` (the script prints them).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# Path templates exactly as the document spells them; every method of each is kept.
KEEP = (
    "/zones",
    "/zones/{zone_id}",
    "/zones/{zone_id}/settings",
    "/zones/{zone_id}/settings/{setting_id}",
    "/zones/{zone_id}/dns_records",
    "/zones/{zone_id}/dns_records/{dns_record_id}",
    "/zones/{zone_id}/ssl/certificate_packs",
    "/zones/{zone_id}/rulesets",
    "/zones/{zone_id}/rulesets/phases/{ruleset_phase}/entrypoint",
    "/zones/{zone_id}/pagerules",
    "/zones/{zone_id}/load_balancers",
    "/zones/{zone_id}/load_balancers/{load_balancer_id}",
    "/zones/{zone_identifier}/custom_pages",
    "/accounts/{account_id}/pages/projects",
    "/accounts/{account_id}/cfd_tunnel",
    "/accounts/{account_id}/cfd_tunnel/{tunnel_id}",
    "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations",
    "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections",
    "/accounts/{account_id}/load_balancers/pools",
    "/accounts/{account_id}/load_balancers/pools/{pool_id}",
    "/accounts/{account_id}/load_balancers/pools/{pool_id}/health",
    "/accounts/{account_id}/load_balancers/pools/{pool_id}/references",
    "/accounts/{account_id}/audit_logs",
    "/ips",
    "/user/tokens/verify",
)

# Every single-setting path too: settings missing from the bulk list's schema are validated
# against their own path (e.g. `origin_max_http_version`).
KEEP_PREFIXES = ("/zones/{zone_id}/settings/",)
# Components the tests name directly (e.g. for `dns_records/batch`, absent from the document).
KEEP_COMPONENTS = (
    ("schemas", "dns-records_api-response-common"),
    ("schemas", "dns-records_api-response-common-failure"),
    ("schemas", "dns-records_dns-record"),
    ("schemas", "pages_projects"),
    ("schemas", "addressing_ips"),
    ("schemas", "addressing_api-response-single"),
    ("schemas", "zones_api-response-common-failure"),
)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _pointer(ref: str) -> tuple[str, ...]:
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/"))


def trim(doc: dict[str, Any]) -> dict[str, Any]:
    missing = [p for p in KEEP if p not in doc["paths"]]
    if missing:
        raise SystemExit(f"not in the document: {', '.join(missing)}")
    kept = [*KEEP, *(p for p in doc["paths"] if p.startswith(KEEP_PREFIXES) and p not in KEEP)]
    paths = {p: doc["paths"][p] for p in sorted(kept)}
    components: dict[str, dict[str, Any]] = {}
    pending = _refs(paths) | {f"#/components/{kind}/{name}" for kind, name in KEEP_COMPONENTS}
    done: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        parts = _pointer(ref)
        if len(parts) != 3 or parts[0] != "components":
            raise SystemExit(f"unexpected reference {ref}")
        value = doc["components"][parts[1]][parts[2]]
        components.setdefault(parts[1], {})[parts[2]] = value
        pending |= _refs(value) - done
    return {
        "openapi": doc["openapi"],
        "info": {**doc["info"], "x-cfremedy-subset": "operations the sandbox serves; see SOURCES.md"},
        "paths": paths,
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }


def main(source: str, destination: str) -> None:
    raw = Path(source).read_bytes()
    subset = trim(json.loads(raw))
    text = json.dumps(subset, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    Path(destination).write_text(text, encoding="utf-8")
    print(f"source  sha256 {hashlib.sha256(raw).hexdigest()}  ({len(raw):,} bytes)")
    print(f"subset  sha256 {hashlib.sha256(text.encode()).hexdigest()}  ({len(text):,} bytes,"
          f" {len(subset['paths'])} paths)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
