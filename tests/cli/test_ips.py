"""`cfremedy ips allowlist|check`, the installed command, against the sandbox or no network at all.

No token anywhere: `GET /ips` is public. `--packaged` runs point CLOUDFLARE_BASE_URL at a closed
loopback port, so any request they tried would fail the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cfremedy.sandbox.api import SandboxApi
from tests.support import NO_API, clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
CLEAN_ENV = clean_env()
NOWHERE = {"CLOUDFLARE_BASE_URL": NO_API}  # closed: nothing listens

STALE_2015 = """\
# CloudFlare, from cloudflare.com/ips-v4 (2015)
allow 199.27.128.0/21;
allow 173.245.48.0/20;
allow 104.16.0.0/12;
allow 2400:cb00::/32;
deny all;
"""


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFREMEDY, *args], env={**CLEAN_ENV, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def sandbox_env(api: SandboxApi) -> dict[str, str]:
    return {"CLOUDFLARE_BASE_URL": api.url}  # and no CLOUDFLARE_API_TOKEN


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cfremedy: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_allowlist_reads_get_ips_once_without_a_token(sandbox_factory) -> None:
    api = sandbox_factory({})
    proc = run(["ips", "allowlist", "--format", "nginx"], sandbox_env(api))
    assert proc.returncode == 0, proc.stderr
    assert "from the Cloudflare API (GET /ips)" in proc.stdout.splitlines()[0]
    assert "set_real_ip_from 173.245.48.0/20;" in proc.stdout
    assert "real_ip_header CF-Connecting-IP;" in proc.stdout and "deny all;" in proc.stdout
    assert [(r.method, r.path, r.token) for r in api.requests] == [("GET", "/ips", None)]


def test_allowlist_packaged_needs_no_network(tmp_path: Path) -> None:
    proc = run(["ips", "allowlist", "--format", "ufw", "--packaged"], NOWHERE)
    assert proc.returncode == 0, proc.stderr
    assert "shipped with cfremedy" in proc.stdout
    assert "ufw allow proto tcp from 2c0f:f248::/32 to any port 80,443" in proc.stdout
    nft = run(["ips", "allowlist", "-f", "nftables", "--packaged", "--port", "443", "--port", "8443"], NOWHERE)
    assert nft.returncode == 0 and "tcp dport { 443, 8443 } ip saddr @cloudflare_v4 accept" in nft.stdout


def test_a_generated_file_checks_clean_and_an_old_one_does_not(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory({})
    generated = tmp_path / "cloudflare.conf"
    proc = run(["ips", "allowlist", "-f", "apache", "-o", str(generated)], sandbox_env(api))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    assert "RemoteIPTrustedProxy 2400:cb00::/32" in generated.read_text()
    assert not list(tmp_path.glob(".*partial"))  # written whole, nothing left behind

    ok = run(["ips", "check", str(generated), "--format", "json"], sandbox_env(api))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["source"] == "api" and report["files"][0]["ok"] is True

    old = tmp_path / "nginx-cloudflare-2015.conf"
    old.write_text(STALE_2015)
    stale = run(["ips", "check", str(old), str(generated), "--packaged", "-f", "json"], NOWHERE)
    assert stale.returncode == 1, stale.stderr
    first, second = json.loads(stale.stdout)["files"]
    assert first["ok"] is False and "172.64.0.0/13" in first["missing"]
    assert first["stale"] == ["199.27.128.0/21", "104.16.0.0/12"]
    assert first["fix"] == f"cfremedy ips allowlist --format nginx --output {old}"
    assert second["ok"] is True
    table = run(
        ["ips", "check", str(old), "--packaged", "--format", "table"], {**NOWHERE, "COLUMNS": "200"}
    )  # the tmp path is long
    words = " ".join(table.stdout.split())  # the details wrap to the terminal's width
    assert table.returncode == 1 and "MISSING RANGES" in words and "stale 199.27.128.0/21" in words
    assert [r.path for r in api.requests] == ["/ips", "/ips"]  # one per command that asked


def test_an_unreadable_file_exits_2_before_any_request(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory({})
    good = tmp_path / "ok.conf"
    good.write_text("allow 173.245.48.0/20;\n")
    proc = run(["ips", "check", str(good), str(tmp_path / "missing.conf")], sandbox_env(api))
    assert proc.returncode == 2
    assert "missing.conf" in one_error(proc) and "No such file" in proc.stderr
    assert api.requests == []


def test_api_failure_exits_3(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory({"sandbox": {"faults": [{"kind": "429", "path": "^/ips$", "retry_after": 0.01}]}})
    proc = run(["ips", "allowlist", "-f", "caddy"], sandbox_env(api))
    assert proc.returncode == 3 and proc.stdout == ""
    assert "rate limit" in one_error(proc)
    target = tmp_path / "f.conf"
    target.write_text("allow 173.245.48.0/20;\n")
    assert run(["ips", "check", str(target)], NOWHERE).returncode == 3


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert run(["ips", "allowlist", "--packaged"], NOWHERE).returncode == 2  # --format is required
    assert run(["ips", "allowlist", "-f", "haproxy", "--packaged"], NOWHERE).returncode == 2
    assert run(["ips", "check", "--packaged"], NOWHERE).returncode == 2  # no FILE
    nowhere = tmp_path / "no-such-dir" / "cf.conf"
    proc = run(["ips", "allowlist", "-f", "nginx", "--packaged", "-o", str(nowhere)], NOWHERE)
    assert proc.returncode == 2 and "does not exist" in one_error(proc)


def test_other_commands_still_need_the_token() -> None:
    proc = run(["audit", "zone", "example.com"], NOWHERE)
    assert proc.returncode == 2 and "CLOUDFLARE_API_TOKEN is not set" in one_error(proc)


def test_help_teaches() -> None:
    top = run(["--help"]).stdout
    assert "ips" in top
    allowlist = run(["ips", "allowlist", "--help"]).stdout
    for word in ("521", "522", "GET /ips", "--packaged", "Examples", "nftables", "Exit codes"):
        assert word in allowlist, word
    check = run(["ips", "check", "--help"]).stdout
    for word in ("misses", "stale", "199.27.128.0/21", "Examples", "Exits 1"):
        assert word in check, word
