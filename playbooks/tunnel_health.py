"""A hostname published through a Cloudflare Tunnel must reach a running tunnel that serves it.

Anti-pattern:
    A proxied CNAME to `<tunnel id>.cfargotunnel.com` sends visitors through that Cloudflare
    Tunnel, never to an address. When the tunnel is not in the account (deleted, or another
    account's), or no connector (cloudflared) is connected, visitors get 530 with error 1033
    (Argo Tunnel error). A degraded tunnel (some connections down) still serves, with less
    redundancy. A dashboard-managed tunnel whose ingress rules have no rule for the hostname
    sends its visitors to the catch-all rule (usually `http_status:404`).

Fix:
    No change is proposed: the fix is on the tunnel's host. Start (or restart) cloudflared
    with the tunnel's credentials and check its logs; recreate the CNAME from the tunnel's
    public hostname settings when the tunnel was deleted; add a public hostname (ingress rule)
    for the hostname. cfremedy never probes a tunnel route over the network: there is no
    address to connect to.
"""

from __future__ import annotations

from collections.abc import Sequence

from cfremedy.kit import Change, Finding, Route, Severity, ZoneFacts, finding, section_url

id = "tunnel_health"
title = "Tunnel hostnames whose tunnel is missing, down or does not serve them (530 / 1033)"
severity = Severity.CRITICAL
error_codes = (530, 1033)
docs_url = section_url(530)
read_permissions = ("Zone Read", "DNS Read", "Cloudflare Tunnel Read")
write_permissions = ()
uses_probes = False
reads = ("tunnels",)

_RESTART = (
    "Start cloudflared on the origin host with this tunnel's credentials (`cloudflared tunnel run"
    " <name>`, or the service it was installed as) and check its log for the reason it stopped.",
)


def _judge(route: Route) -> Finding | None:
    tunnel_route = route.tunnel
    assert tunnel_route is not None
    hostname = route.hostname
    tunnel = tunnel_route.tunnel
    evidence: dict[str, object] = {"tunnel_id": tunnel_route.tunnel_id, "cname_target": tunnel_route.target}
    if not tunnel_route.tunnels_read:
        return None  # the zone's errors say the tunnels could not be read: no verdict
    if tunnel is None or tunnel.deleted:
        why = "was deleted" if tunnel is not None else "is not in this account (deleted, or another account's)"
        return finding(
            id,
            Severity.CRITICAL,
            (530, 1033),
            hostname,
            f"{hostname} is a CNAME to tunnel {tunnel_route.tunnel_id}, which {why}: visitors get 530 / error 1033",
            {**evidence, **({"tunnel": tunnel.name} if tunnel is not None else {})},
            docs_url=docs_url,
            key=tunnel_route.tunnel_id,
            remediation=(
                "Point the record at a tunnel of this account (Zero Trust > Networks > Tunnels:"
                " a public hostname creates the CNAME), or publish the service another way.",
            ),
        )
    evidence.update({"tunnel": tunnel.name, "status": tunnel.status, "connections": tunnel.connections})
    if tunnel.status in ("down", "inactive") or tunnel.connections == 0:
        return finding(
            id,
            Severity.CRITICAL,
            (530, 1033),
            hostname,
            f"{hostname} goes through tunnel {tunnel.name}, which is {tunnel.status} with"
            f" {tunnel.connections} connection(s): no cloudflared connector serves it, visitors get"
            " 530 / error 1033",
            evidence,
            docs_url=docs_url,
            key=tunnel.id,
            remediation=_RESTART,
        )
    if tunnel.status == "degraded":
        return finding(
            id,
            Severity.MEDIUM,
            (530, 1033),
            hostname,
            f"{hostname} goes through tunnel {tunnel.name}, which is degraded ({tunnel.connections}"
            " connection(s)): it serves, with less redundancy; if the last connector goes, visitors"
            " get 530 / error 1033",
            evidence,
            docs_url=docs_url,
            key=tunnel.id,
            remediation=("Check the connectors' logs; run at least two replicas of cloudflared.",),
        )
    if tunnel.ingress is None:
        return None  # a locally managed tunnel: its ingress rules are in its config.yml
    rule = tunnel_route.ingress
    if rule is not None and rule.hostname:
        return None  # a public hostname of its own serves it
    served_by = f"the catch-all rule ({rule.service or 'no service'})" if rule is not None else "no rule at all"
    return finding(
        id,
        Severity.HIGH,
        (),
        hostname,
        f"{hostname} goes through tunnel {tunnel.name}, but no ingress rule names it: visitors get {served_by}",
        {**evidence, "ingress_paths": [r.path for r in tunnel_route.ingress_paths]},
        docs_url=docs_url,
        key=f"{tunnel.id}:ingress",
        remediation=(
            f"Add a public hostname for {hostname} to tunnel {tunnel.name} (Zero Trust >"
            " Networks > Tunnels > Public hostnames), pointing at its service.",
        ),
    )


def detect(facts: ZoneFacts) -> list[Finding]:
    found = [_judge(route) for route in facts.routes if route.kind == "tunnel"]
    return [f for f in found if f is not None]


def plan_fix(facts: ZoneFacts, findings: Sequence[Finding]) -> list[Change]:
    return []
