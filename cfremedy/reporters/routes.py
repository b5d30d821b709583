"""Rendering routes (`cfremedy routes zone`): where Cloudflare sends each hostname's traffic."""

from __future__ import annotations

import json
from typing import Any

from cfremedy.models import ZoneSnapshot
from cfremedy.reporters.grid import Column, grid, paragraph
from cfremedy.reporters.table import DEFAULT_WIDTH
from cfremedy.routes import Endpoint, Route, Routes

COLUMNS = (Column("HOSTNAME"), Column("ROUTE"), Column("SSL"), Column("TIMEOUT"), Column("GOES TO", free=True))
KIND_NAMES = {"dns": "DNS", "load_balancer": "load balancer", "tunnel": "tunnel", "pages": "Pages", "none": "nowhere"}


def _endpoint_text(endpoint: Endpoint, scheme: str) -> str:
    port = endpoint.https_port if scheme == "https" else endpoint.http_port
    parts = [f"{endpoint.address}:{port}" + (" (resolved by DNS)" if endpoint.resolve else "")]
    if endpoint.sni:
        parts.append(f"SNI {endpoint.sni}")
    if endpoint.host_header:
        parts.append(f"Host {endpoint.host_header}")
    if endpoint.via:
        parts.append(" ".join(endpoint.via))
    if endpoint.partial:
        parts.append("(part of the traffic)")
    if not endpoint.proxied:
        parts.append("(DNS-only: browsers connect directly)")
    return " ".join(parts)


def _destination(route: Route) -> str:
    if route.tunnel is not None:
        tunnel = route.tunnel.tunnel
        if tunnel is None:
            where = "not in the account" if route.tunnel.tunnels_read else "tunnels not read"
            return f"tunnel {route.tunnel.tunnel_id} ({where})"
        served = f" -> {route.tunnel.ingress.service}" if route.tunnel.ingress is not None else ""
        return f"tunnel {tunnel.name} ({tunnel.status}, {tunnel.connections} connection(s)){served}"
    if route.kind == "pages":
        return "Cloudflare Pages (no origin)"
    if route.problem and not route.endpoints:
        return route.problem
    return "; ".join(_endpoint_text(e, route.scheme) for e in route.endpoints) or "-"


def route_dict(route: Route) -> dict[str, Any]:
    data: dict[str, Any] = {
        "hostname": route.hostname,
        "kind": route.kind,
        "proxied": route.proxied,
        "ssl_mode": route.ssl.mode if route.ssl else None,
        "ssl_mode_source": route.ssl.source if route.ssl else None,
        "proxy_read_timeout": route.timeout.seconds,
        "proxy_read_timeout_source": route.timeout.source,
        "endpoints": [
            {
                "address": e.address,
                "resolve": e.resolve,
                "https_port": e.https_port,
                "http_port": e.http_port,
                "sni": e.sni or None,
                "host_header": e.host_header or None,
                "via": list(e.via),
                "partial": e.partial,
                "proxied": e.proxied,
            }
            for e in route.endpoints
        ],
    }
    if route.origin_rules:
        data["origin_rules"] = [r.label for r in route.origin_rules]
    if route.unknown_rules:
        data["origin_rules_not_evaluated"] = [r.label for r in route.unknown_rules]
    if route.tunnel is not None:
        tunnel = route.tunnel.tunnel
        data["tunnel"] = {
            "id": route.tunnel.tunnel_id,
            "name": tunnel.name if tunnel else None,
            "status": tunnel.status if tunnel else None,
            "connections": tunnel.connections if tunnel else None,
            "ingress_service": route.tunnel.ingress.service if route.tunnel.ingress else None,
        }
    if route.load_balancer is not None:
        data["load_balancer"] = {
            "name": route.load_balancer.load_balancer.name,
            "pools": [p.name for p in route.load_balancer.pools],
            "missing_pools": list(route.load_balancer.missing_pools),
        }
    if route.problem:
        data["problem"] = route.problem
    return data


def render_routes(
    snapshot: ZoneSnapshot, routes: Routes, fmt: str, width: int = DEFAULT_WIDTH, *, color: bool = False
) -> str:
    ordered = sorted(routes, key=lambda r: (not r.proxied, r.hostname))
    if fmt == "json":
        body = {"zone": snapshot.zone.name, "routes": [route_dict(r) for r in ordered]}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    rows = [
        [
            r.hostname,
            KIND_NAMES.get(r.kind, r.kind) if r.proxied else "DNS-only",
            (r.ssl.mode + ("*" if r.ssl.overridden else "")) if r.ssl and r.proxied else "-",
            f"{r.timeout.seconds} s" + ("*" if r.timeout.rule else "") if r.proxied else "-",
            _destination(r),
        ]
        for r in ordered
    ]
    header = paragraph(f"== {snapshot.zone.name} ({snapshot.zone.plan}) ==", width)
    return header + grid(COLUMNS, rows, width, color=color) + "* set by a rule for this hostname\n"
