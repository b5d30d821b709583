"""Real web servers as origins, inside a private network namespace: run by `test_real_servers.py`.

`python -m tests.e2e.real_servers [--nginx] [--haproxy]`, under `unshare -n`, from the
repository: brings up the namespace's loopback with the addresses the scenario's DNS records
name, issues certificates from a sandbox CA (and an OCSP responder for it, on loopback), starts
nginx and HAProxy from the Debian packages on those addresses with the configurations below,
audits every zone with the whole pipeline (sandbox API, probes, playbooks), and prints the
reports as JSON. Nothing can leave the namespace: it has no interface but `lo`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from cfremedy.audit import AuditOptions, audit
from cfremedy.gateway import CloudflareGateway
from cfremedy.probes.options import ProbeOptions
from cfremedy.registry import load_registry
from cfremedy.sandbox.certs import LeafFiles, SandboxPki, ocsp_response
from cfremedy.sandbox.ocsp import OcspResponder
from cfremedy.sandbox.scenario import Scenario
from cfremedy.sandbox.session import SandboxSession
from cfremedy.selection import AccountSelection

TOKEN = "real-servers-token"


@dataclass(frozen=True)
class Origin:
    """One zone whose `www` record points at `address`, served by `server`."""

    zone: str
    address: str
    server: str  # "nginx" | "haproxy"
    settings: dict[str, str]


ORIGINS = (
    # HTTP/2 on, a certificate of the sandbox CA whose OCSP responder says good: nothing to say.
    Origin("nginx-valid.example", "93.184.218.1", "nginx", {"ssl": "strict", "origin_max_http_version": "2"}),
    Origin("nginx-self-signed.example", "93.184.218.2", "nginx", {"ssl": "strict"}),
    # TLS 1.2 with ChaCha20 only, which Cloudflare does not offer an origin.
    Origin("nginx-ciphers.example", "93.184.218.3", "nginx", {"ssl": "full"}),
    Origin("nginx-keepalive-off.example", "93.184.218.4", "nginx", {"ssl": "strict"}),
    # Its certificate's responder cannot be reached; the response nginx staples says revoked.
    Origin("nginx-staple-revoked.example", "93.184.218.5", "nginx", {"ssl": "strict"}),
    # No server block for the name: nginx's default server answers, with its own certificate,
    # whatever the SNI (no certificate for this name: 526 in Full (strict)).
    Origin("nginx-sni-default.example", "93.184.218.8", "nginx", {"ssl": "strict"}),
    # `verify required`: no session without a client certificate. Over TLS 1.3 the server says so
    # right after the client's last handshake message; limited to TLS 1.2, the handshake fails.
    # Authenticated Origin Pulls off (the sandbox's default is on): Cloudflare presents none, 525.
    Origin("haproxy-client-cert.example", "93.184.218.6", "haproxy", {"ssl": "strict", "tls_client_auth": "off"}),
    Origin("haproxy-client-cert-tls12.example", "93.184.218.9", "haproxy", {"ssl": "full", "tls_client_auth": "off"}),
    # TLS terminated with `alpn h2,http/1.1`, bytes passed on to an HTTP/1.1-only backend.
    Origin("haproxy-h2.example", "93.184.218.7", "haproxy", {"ssl": "strict", "origin_max_http_version": "2"}),
)
BACKEND = ("127.0.0.1", 8081)  # nginx, plain HTTP/1.1: what HAProxy forwards to
DEFAULT_NAME = "default.invalid"  # the only name nginx-sni-default's certificate has


def host(origin: Origin) -> str:
    return f"www.{origin.zone}"


def _pem(leaf: LeafFiles, path: Path) -> Path:
    """Certificate then key in one file, as HAProxy's `crt` wants them."""
    path.write_bytes(leaf.cert_path.read_bytes() + leaf.key_path.read_bytes())
    path.chmod(0o600)
    return path


def nginx_conf(d: Path, leaves: dict[str, LeafFiles], staple: Path) -> str:
    def server(origin: Origin, listen: str, extra: str = "", name: str = "") -> str:
        leaf = leaves[origin.zone]
        return f"""
    server {{
        listen {origin.address}:443 {listen};
        listen {origin.address}:80;
        server_name {name or host(origin)};
        ssl_certificate {leaf.cert_path};
        ssl_certificate_key {leaf.key_path};
        {extra}
        location / {{ return 200 "{origin.zone}\\n"; }}
    }}"""

    by_zone = {o.zone: o for o in ORIGINS}
    servers = [
        server(by_zone["nginx-valid.example"], "ssl http2"),
        server(by_zone["nginx-self-signed.example"], "ssl"),
        server(
            by_zone["nginx-ciphers.example"],
            "ssl",
            "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-CHACHA20-POLY1305; ssl_prefer_server_ciphers on;",
        ),
        server(by_zone["nginx-keepalive-off.example"], "ssl", "keepalive_timeout 0;"),
        server(by_zone["nginx-staple-revoked.example"], "ssl", f"ssl_stapling on; ssl_stapling_file {staple};"),
        server(by_zone["nginx-sni-default.example"], "ssl default_server", name=DEFAULT_NAME),
    ]
    temp = " ".join(f"{kind}_temp_path {d}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    default_type text/plain;
    {temp}
    {"".join(servers)}
    server {{
        listen {BACKEND[0]}:{BACKEND[1]};
        location / {{ return 200 "backend\\n"; }}
    }}
}}
"""


def haproxy_cfg(d: Path, leaves: dict[str, LeafFiles], ca: Path) -> str:
    by_zone = {o.zone: o for o in ORIGINS}
    client = by_zone["haproxy-client-cert.example"]
    client12 = by_zone["haproxy-client-cert-tls12.example"]
    h2 = by_zone["haproxy-h2.example"]
    client_pem = _pem(leaves[client.zone], d / "haproxy-client-cert.pem")
    client12_pem = _pem(leaves[client12.zone], d / "haproxy-client-cert-tls12.pem")
    h2_pem = _pem(leaves[h2.zone], d / "haproxy-h2.pem")
    return f"""
global
    maxconn 512
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend client_cert
    mode http
    bind {client.address}:443 ssl crt {client_pem} ca-file {ca} verify required
    default_backend http_backend
frontend client_cert_tls12
    mode http
    bind {client12.address}:443 ssl crt {client12_pem} ca-file {ca} verify required ssl-max-ver TLSv1.2
    default_backend http_backend
frontend h2_in_front_of_http11
    mode tcp
    bind {h2.address}:443 ssl crt {h2_pem} alpn h2,http/1.1
    default_backend tcp_backend
backend http_backend
    mode http
    server backend {BACKEND[0]}:{BACKEND[1]}
backend tcp_backend
    mode tcp
    server backend {BACKEND[0]}:{BACKEND[1]}
"""


def _wait_listening(address: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {log.read_text(errors='replace') if log.exists() else ''}")
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port} after 10 s")


def _scenario(origins: list[Origin]) -> Scenario:
    return Scenario.model_validate(
        {
            "tokens": [
                {
                    "value": TOKEN,
                    "permissions": [
                        "Zone Read",
                        "Zone Settings Read",
                        "DNS Read",
                        "Config Rules Read",
                        "Page Rules Read",
                        "Origin Rules Read",
                        "Load Balancers Read",
                        "Load Balancing: Monitors and Pools Read",
                    ],
                }
            ],
            "zones": [
                {
                    "name": o.zone,
                    "plan": "pro",
                    "settings": {"origin_max_http_version": "1", **o.settings},
                    "records": [{"type": "A", "name": "www", "content": o.address, "proxied": True}],
                }
                for o in origins
            ],
        }
    )


def _finding(f: Any) -> dict[str, Any]:
    return {
        "playbook": f.playbook,
        "severity": f.severity.value,
        "error_codes": list(f.error_codes),
        "resource": f.resource,
        "message": f.message,
        "evidence": json.loads(json.dumps(dict(f.evidence), default=str)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nginx", default="")
    parser.add_argument("--haproxy", default="")
    args = parser.parse_args()
    servers = {name for name, path in (("nginx", args.nginx), ("haproxy", args.haproxy)) if path}
    origins = [o for o in ORIGINS if o.server in servers]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for origin in origins:
        subprocess.run(["ip", "addr", "add", f"{origin.address}/32", "dev", "lo"], check=True)
    d = Path(tempfile.mkdtemp(prefix="cfremedy-real-servers-"))
    processes: list[subprocess.Popen[bytes]] = []
    pki = SandboxPki(d)
    responder = OcspResponder(pki.ca).start()
    dead = socket.socket()  # a port held bound, never listening: an OCSP responder nobody reaches
    dead.bind(("127.0.0.1", 0))
    try:
        dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/"
        leaves: dict[str, LeafFiles] = {}
        for origin in ORIGINS:
            behaviour = "self_signed" if origin.zone == "nginx-self-signed.example" else "valid"
            url = {"nginx-valid.example": responder.url, "nginx-staple-revoked.example": dead_url}.get(origin.zone, "")
            names = (DEFAULT_NAME,) if origin.zone == "nginx-sni-default.example" else (host(origin),)
            leaves[origin.zone] = pki.leaf_for(origin.zone, behaviour, names, ocsp_url=url)
        good = leaves["nginx-valid.example"].cert
        assert good is not None
        responder.register(good, "good")
        revoked = leaves["nginx-staple-revoked.example"].cert
        assert revoked is not None
        staple = d / "staple-revoked.der"
        staple.write_bytes(ocsp_response(revoked, pki.ca, "revoked").public_bytes(serialization.Encoding.DER))

        if "nginx" in servers:
            (d / "nginx.conf").write_text(nginx_conf(d, leaves, staple))
            log = d / "nginx-error.log"
            command = [args.nginx, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(log)]
            processes.append(subprocess.Popen(command, stderr=subprocess.DEVNULL))
            _wait_listening(*BACKEND, processes[-1], log)
        if "haproxy" in servers:
            if "nginx" not in servers:
                raise SystemExit("HAProxy's backend is nginx: both are needed")
            (d / "haproxy.cfg").write_text(haproxy_cfg(d, leaves, pki.ca.pem_path))
            log = d / "haproxy.log"
            with log.open("wb") as out:
                processes.append(subprocess.Popen([args.haproxy, "-f", str(d / "haproxy.cfg"), "-db"], stderr=out))
            _wait_listening(ORIGINS[-1].address, 443, processes[-1], log)

        with SandboxSession(_scenario(origins), real_addresses=True) as session:
            probe = ProbeOptions(timeout=2.0, origin_ca=(pki.ca.pem_path,), resolver=session.dns.address)
            options = AuditOptions(playbooks=load_registry().playbooks, probe=probe)

            async def run() -> dict[str, Any]:
                async with CloudflareGateway(SecretStr(TOKEN), session.api.url) as gateway:
                    report = await audit(gateway, AccountSelection(), options)
                return {
                    z.name: {
                        "findings": [_finding(f) for f in z.findings],
                        "changes": [{"target": c.target, "before": c.before, "after": c.after} for c in z.changes],
                        "errors": [e.message for e in z.errors],
                    }
                    for z in report.zones
                }

            reports = asyncio.run(run())
        reports["_ocsp_requests"] = len(responder.requests)
        print(json.dumps(reports))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        responder.stop()
        dead.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
