"""The demo audited with origins on the very addresses its DNS records name, no --connect-to.

docs/architecture.md, "Testing": inside a private network namespace (only loopback, created by this test with
`unshare -n`) the stand-in origins listen on 93.184.215.x themselves, and the installed
`cfremedy` probes them directly, as it would production origins. Nothing can leave the
namespace: it has no interface but `lo`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import requires_netns

SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys
    from pathlib import Path
    from cfremedy.sandbox.scenario import load_scenario
    from cfremedy.sandbox.session import SandboxSession

    scenario = load_scenario("demo")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for origin in scenario.origins:
        subprocess.run(["ip", "addr", "add", f"{origin.address}/32", "dev", "lo"], check=True)
    cfremedy = str(Path(sys.executable).with_name("cfremedy"))
    reports = {}
    with SandboxSession(scenario, real_addresses=True) as session:
        env = {"PATH": "/usr/bin:/bin", **session.env()}
        assert env["CFREMEDY_CONNECT_TO"] == "" and env["CFREMEDY_CONNECT_TO_ONLY"] == "false"
        for zone in ("blog.example", "static.example", "healthy.example", "docs.example", "shop.example"):
            proc = subprocess.run([cfremedy, "audit", "zone", zone, "--format", "json",
                                   "--probe-timeout", "1"], env=env, capture_output=True, text=True)
            assert proc.returncode in (0, 1), proc.stderr
            reports[zone] = json.loads(proc.stdout)["zones"][0]
    print(json.dumps(reports))
    """
)


@pytest.mark.netns
@requires_netns
def test_demo_zones_with_origins_on_their_real_addresses(tmp_path: Path) -> None:
    script = tmp_path / "netns_demo.py"
    script.write_text(SCRIPT)
    done = subprocess.run(["unshare", "-n", sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)

    def found(zone: str) -> set[tuple[str, str, tuple[int, ...]]]:
        return {(f["playbook"], f["resource"], tuple(f["error_codes"])) for f in reports[zone]["findings"]}

    assert reports["healthy.example"]["findings"] == []
    blog_found = {f for f in found("blog.example") if f[0] != "cloudflare_ips_allowlist"}
    assert blog_found == {
        ("ssl_origin_cert", "blog.example", (526,)),
        ("ssl_origin_cert", "www.blog.example", (526,)),
        ("ssl_origin_cert", "legacy.blog.example", (521,)),
        ("pages_custom_domain", "guide.blog.example", (522,)),
    }
    (allowlist,) = [f for f in found("blog.example") if f[0] == "cloudflare_ips_allowlist"]
    assert allowlist[1].endswith("blog-nginx.conf")
    # the origin-behaviour playbooks, probed on the real addresses
    assert ("flexible_redirect_loop", "www.static.example", ()) in found("static.example")
    assert ("origin_compression", "docs.docs.example", (502,)) in found("docs.example")
    assert ("origin_cert_expiry", "www.shop.example", (526,)) in found("shop.example")
    blog = next(f for f in reports["blog.example"]["findings"] if f["resource"] == "blog.example")
    assert blog["evidence"]["origin"] == "93.184.215.30"
    assert blog["evidence"]["connected_to"] == ["93.184.215.30:443", "93.184.215.30:80"]
    static = found("static.example")
    # This namespace has no route beyond its own addresses: probing the private and the moved
    # addresses fails on our side, which is no evidence of a 523 (only a router's answer is).
    assert ("origin_ip", "assets.static.example", (523,)) not in static
    assert ("origin_ip", "media.static.example", (523,)) not in static
    assert "this machine has no route to 10." in json.dumps(reports["static.example"])
    assert ("origin_ip", "files.static.example", (522,)) in static
    assert ("origin_ip", "assets.static.example", (522, 523)) in static
    # The inventory's file server, probed on its own address as the rewrite's candidate (in
    # Flexible: port 80 and the plain-HTTP GET /, which it answers without a redirect to HTTPS).
    rewrites = {c["before"]["name"]: c["after"]["content"] for c in reports["static.example"]["changes"]}
    assert rewrites == {"assets.static.example": "93.184.215.41", "media.static.example": "93.184.215.41"}
    checks = [f["evidence"].get("replacement_checks") for f in reports["static.example"]["findings"]]
    assert checks.count({"93.184.215.41": "passes"}) == 2
