"""Origin allowlists of Cloudflare's IP ranges: read them, judge them, generate them.

The 521 and 522 sections of Cloudflare's 5xx article put a blocked Cloudflare range at the origin
first among the causes, and the usual way it happens is a list copied once and never updated:
Cloudflare adds ranges (172.64.0.0/13 in 2015, 131.0.72.0/22 in 2016, the 104.16.0.0/12 split
in 2021) and an old copy turns those visitors away. This module

- pulls every address and CIDR out of a firewall or web-server file (`extract_networks`),
  whatever its dialect: nginx, iptables(-save), nftables, ufw, Apache, Caddy;
- compares them with Cloudflare's current ranges (`check`): what is missing, what is stale
  (ranges Cloudflare retired, or ranges wider than Cloudflare's that also let others in);
- writes a ready-to-include allowlist in each dialect (`render`).

Everything here is pure except `read_allowlist` (a file) and the packaged list of retired
ranges, read once from `cfremedy/data/`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from cfremedy import __version__
from cfremedy.models import AllowlistFile, IPNetwork, iso_z

FORMATS = ("nginx", "iptables", "nftables", "ufw", "apache", "caddy")

# Where the ranges came from, for the header of a generated file.
SOURCE_API = "the Cloudflare API (GET /ips)"
SOURCE_PACKAGED = f"the copy of Cloudflare's list shipped with cfremedy {__version__} (no network)"

MAX_FILE_BYTES = 16 * 1024 * 1024  # a firewall or server config this big is not one


@lru_cache(maxsize=1)
def retired_cloudflare_ranges() -> tuple[IPNetwork, ...]:
    """Ranges Cloudflare once published and no longer does (`data/cloudflare-ips-retired.json`,
    each entry with where its removal is recorded)."""
    data = json.loads(
        (resources.files("cfremedy") / "data" / "cloudflare-ips-retired.json").read_text(encoding="utf-8")
    )
    return tuple(ipaddress.ip_network(e["cidr"]) for e in [*data["ipv4_cidrs"], *data["ipv6_cidrs"]])


# -- reading ---------------------------------------------------------------------------------

# Quoted comments (`-m comment --comment "..."` in iptables, `comment "..."` in nftables and ufw)
# are prose: an address in one is not a rule.
_QUOTED_COMMENT = re.compile(r"""(?:--)?\bcomment\s+(?:"[^"\n]*"|'[^'\n]*')""")
# Everything that separates words in these dialects. What is left are words like
# `173.245.48.0/20`, `allow`, `80`, `-s`; only the ones made of address characters are tried.
_SEPARATORS = re.compile(r"""[\s,;{}()\[\]"'`=<>|]+""")
_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]+(?:/[0-9.]+)?")
# A line that refuses what it names (nginx/Apache 2.2 `deny`, iptables `-j DROP`/`REJECT`, ufw
# `deny`/`reject` and its status' DENY, nftables `drop`, Apache `Require not ip`): its
# addresses are not let in, so they must not count as covering a Cloudflare range.
_REFUSING = re.compile(r"\b(?:deny|drop|reject|blackhole)\b|\brequire\s+not\b", re.IGNORECASE)


def _network(word: str) -> IPNetwork | None:
    if ("." not in word and ":" not in word) or not _CANDIDATE.fullmatch(word):
        return None
    try:
        network = ipaddress.ip_network(word, strict=False)  # 104.16.0.1/12 -> 104.16.0.0/12
    except ValueError:
        return None  # 1.2.3 (a version), 12:30:45 (a time), 10.0.0.1:80 (an endpoint)...
    if "/" not in word and network.network_address.is_unspecified:
        return None  # a bare 0.0.0.0 or :: is a listen address (`listen [::]:80`), not a source
    return network


def extract_networks(text: str) -> tuple[IPNetwork, ...]:
    """Every IPv4/IPv6 address or CIDR a config lets in, in order, once each.

    Reads nginx (`allow`, `set_real_ip_from`, `geo`), iptables commands and iptables-save,
    nftables sets, ufw commands and `ufw status` output, Apache (`Require ip`,
    `RemoteIPTrustedProxy`) and Caddy (`trusted_proxies static`, `remote_ip`). `#` starts a
    comment. A bare address is a /32 (/128); a CIDR with host bits set counts as its network.
    Statements that deny, drop or reject are skipped (a line is split at `;`, so
    `allow 173.245.48.0/20; deny all;` keeps its allow). Ports, versions and times are not addresses;
    ranges written `a-b` and Apache's partial addresses (`Require ip 10.1`) are not read, and
    an nftables set is read wherever it is used (a set only a drop rule uses still counts).
    """
    found: dict[IPNetwork, None] = {}
    for line in text.splitlines():
        line = _QUOTED_COMMENT.sub(" ", line.split("#", 1)[0])
        for statement in line.split(";"):
            if _REFUSING.search(statement):
                continue
            for word in _SEPARATORS.split(statement):
                network = _network(word)
                if network is not None:
                    found.setdefault(network, None)
    return tuple(found)


def read_allowlist(path: Path) -> AllowlistFile:
    """The networks a file names; never raises: a file that cannot be read carries `error`."""
    try:
        if path.is_dir():
            return AllowlistFile(str(path), (), error=f"{path} is a directory, not a file")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return AllowlistFile(str(path), (), error=f"cannot read {path}: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return AllowlistFile(
            str(path), (), error=f"{path} is over {MAX_FILE_BYTES // 2**20} MiB: not a firewall or server configuration"
        )
    if b"\x00" in data:
        return AllowlistFile(str(path), (), error=f"{path} is a binary file, not a text configuration")
    return AllowlistFile(str(path), extract_networks(data.decode("utf-8", errors="replace")))


# -- judging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowlistCheck:
    """A file's networks against Cloudflare's current ranges."""

    # Current Cloudflare ranges the file does not let in.
    missing: tuple[IPNetwork, ...] = ()
    # Listed networks that are retired Cloudflare ranges, or that reach beyond Cloudflare's
    # current ranges while overlapping one (104.16.0.0/12 since 2021): they let others in.
    stale: tuple[IPNetwork, ...] = ()
    # Everything else (an office, a monitoring service, loopback): reported, not judged.
    other: tuple[IPNetwork, ...] = ()
    # Listed networks inside Cloudflare's current space.
    cloudflare: tuple[IPNetwork, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale


def _by_version(networks: Iterable[IPNetwork]) -> dict[int, list[IPNetwork]]:
    """Per IP version, merged into the fewest disjoint networks."""
    split: dict[int, list[IPNetwork]] = {4: [], 6: []}
    for network in networks:
        split[network.version].append(network)
    return {v: list(ipaddress.collapse_addresses(nets)) for v, nets in split.items()}  # type: ignore[type-var]


def _covered(network: IPNetwork, pool: dict[int, list[IPNetwork]]) -> bool:
    """Whether the (disjoint) networks of `pool` together contain all of `network`."""
    same = pool[network.version]
    if any(network.subnet_of(p) for p in same):  # type: ignore[arg-type]
        return True
    inside = 0
    for p in same:
        if p.subnet_of(network):  # type: ignore[arg-type]
            inside += p.num_addresses
    return inside == network.num_addresses


def check(
    networks: Sequence[IPNetwork], current: Sequence[IPNetwork], retired: Sequence[IPNetwork] | None = None
) -> AllowlistCheck:
    """Judge a file's networks against Cloudflare's `current` ranges.

    A current range is covered when the listed networks contain it (one of them, or several
    together). `retired` defaults to the packaged list of ranges Cloudflare no longer uses.
    """
    listed = tuple(dict.fromkeys(networks))
    current = tuple(dict.fromkeys(current))
    retired = retired_cloudflare_ranges() if retired is None else tuple(retired)
    listed_pool, current_pool = _by_version(listed), _by_version(current)
    missing = tuple(c for c in current if not _covered(c, listed_pool))
    stale: list[IPNetwork] = []
    other: list[IPNetwork] = []
    cloudflare: list[IPNetwork] = []
    for network in listed:
        if _covered(network, current_pool):
            cloudflare.append(network)
        elif any(network.overlaps(c) for c in current_pool[network.version]):
            stale.append(network)  # part Cloudflare, part someone else
        elif any(r.version == network.version and network.subnet_of(r) for r in retired):  # type: ignore[arg-type]
            stale.append(network)
        else:
            other.append(network)
    return AllowlistCheck(missing, tuple(stale), tuple(other), tuple(cloudflare))


# -- generating --------------------------------------------------------------------------------


def guess_format(path: str) -> str | None:
    """The dialect a file's path suggests (for a remediation command), or None."""
    lowered = path.lower()
    for hint, fmt in (
        ("nginx", "nginx"),
        ("caddy", "caddy"),
        ("apache", "apache"),
        ("httpd", "apache"),
        ("ufw", "ufw"),
        ("nft", "nftables"),
        ("iptables", "iptables"),
        ("rules.v4", "iptables"),
        ("rules.v6", "iptables"),
    ):
        if hint in lowered:
            return fmt
    return None


def _header(fmt: str, ranges: Sequence[IPNetwork], source: str, generated_at: datetime | None) -> list[str]:
    when = iso_z(generated_at or datetime.now(UTC))
    v4 = sum(1 for r in ranges if r.version == 4)
    return [
        f"# Generated by cfremedy {__version__} at {when} from {source}:",
        f"# Cloudflare's current IP ranges ({v4} IPv4, {len(ranges) - v4} IPv6).",
        f"# Regenerate, do not edit: cfremedy ips allowlist --format {fmt} --output FILE",
        "# Check an existing file:  cfremedy ips check FILE",
    ]


def _nginx(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    return [
        "#",
        "# Include in the http {} block (conf.d/*.conf usually is), then in each server {}",
        "# that Cloudflare proxies add:    if ($from_cloudflare = 0) { return 403; }",
        "",
        "# 1. The visitor's address: trust CF-Connecting-IP, and only from Cloudflare",
        "#    (ngx_http_realip_module).",
        *(f"set_real_ip_from {r};" for r in ranges),
        "real_ip_header CF-Connecting-IP;",
        "",
        "# 2. Only Cloudflare may connect. Once realip has put the visitor's address in place,",
        "#    allow/deny test the visitor, not Cloudflare; so this tests the address of the",
        "#    connection itself ($realip_remote_addr).",
        "geo $realip_remote_addr $from_cloudflare {",
        "    default 0;",
        *(f"    {r} 1;" for r in ranges),
        "}",
        "",
        "# 3. Where the realip lines above are not used (no real_ip_header in effect), plain",
        "#    allow/deny in a server {} block do the job of part 2; uncomment them there:",
        *(f"# allow {r};" for r in ranges),
        "# deny all;",
    ]


def _iptables(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    dports = ",".join(map(str, ports))
    lines = [
        "#",
        "# A shell script, run as root; rerunning it replaces the list. Rules go in their own",
        "# `cloudflare` chain, jumped to from INPUT for TCP ports " + dports + ".",
        "# Persist with iptables-save/ip6tables-save (or netfilter-persistent save).",
        "# To let only Cloudflare reach these ports, end the chain with a DROP: add",
        "#   iptables -A cloudflare -j DROP   (and the same with ip6tables)",
        "# after its ACCEPT lines below, since rerunning the script flushes the chain.",
        "set -e",
    ]
    for tool, version in (("iptables", 4), ("ip6tables", 6)):
        selected = [r for r in ranges if r.version == version]
        if not selected:
            continue
        jump = f"INPUT -p tcp -m multiport --dports {dports} -j cloudflare"
        lines += [
            "",
            f"{tool} -N cloudflare 2>/dev/null || {tool} -F cloudflare",
            *(f"{tool} -A cloudflare -s {r} -j ACCEPT" for r in selected),
            f"{tool} -C {jump} 2>/dev/null || {tool} -I {jump}",
        ]
    return lines


def _nftables(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    v4 = [r for r in ranges if r.version == 4]
    v6 = [r for r in ranges if r.version == 6]
    dports = ", ".join(map(str, ports))
    lines = [
        "#",
        "# Load with `nft -f FILE` (rerunning replaces the table). An accept in this table does",
        "# not override a drop in another one: if your own ruleset drops by default, copy the",
        "# sets into your table and the accept rules into its input chain.",
        "",
        "table inet cloudflare",
        "delete table inet cloudflare",
        "table inet cloudflare {",
    ]
    for name, kind, selected in (("cloudflare_v4", "ipv4_addr", v4), ("cloudflare_v6", "ipv6_addr", v6)):
        if selected:
            lines += [
                f"    set {name} {{",
                f"        type {kind}",
                "        flags interval",
                "        elements = {",
                *(f"            {r}," for r in selected),
                "        }",
                "    }",
                "",
            ]
    lines += [
        "    chain input {",
        "        type filter hook input priority filter; policy accept;",
    ]
    if v4:
        lines.append(f"        tcp dport {{ {dports} }} ip saddr @cloudflare_v4 accept")
    if v6:
        lines.append(f"        tcp dport {{ {dports} }} ip6 saddr @cloudflare_v6 accept")
    lines += [
        "        # to let only Cloudflare reach these ports:",
        f"        # tcp dport {{ {dports} }} drop",
        "    }",
        "}",
    ]
    return lines


def _ufw(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    dports = ",".join(map(str, ports))
    return [
        "#",
        "# Shell commands, run as root. ufw keeps rules it already has; after a change of",
        "# ranges, delete the rules of ranges no longer listed (`ufw status numbered`).",
        "# To let only Cloudflare reach these ports, no other rule may allow them.",
        "",
        *(f"ufw allow proto tcp from {r} to any port {dports} comment 'Cloudflare'" for r in ranges),
    ]


def _apache(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    matches = [f"    %{{CONN_REMOTE_ADDR}} -ipmatch '{r}'" for r in ranges]
    joined = [f"{m} || \\" for m in matches[:-1]] + [f"{matches[-1]} \\"]
    return [
        "#",
        "# Needs mod_remoteip (a2enmod remoteip). Include inside each <VirtualHost> that",
        "# Cloudflare proxies.",
        "",
        "# 1. The visitor's address: trust CF-Connecting-IP, and only from Cloudflare.",
        "RemoteIPHeader CF-Connecting-IP",
        *(f"RemoteIPTrustedProxy {r}" for r in ranges),
        "",
        "# 2. Only Cloudflare may connect: anything else is denied, and for Cloudflare the",
        "#    site's own access rules still apply. mod_remoteip makes `Require ip` test the",
        "#    visitor's address, so this tests the connection's own (CONN_REMOTE_ADDR).",
        '<If "! ( \\',
        *joined,
        '    )">',
        "    Require all denied",
        "</If>",
        "",
        "# 3. Without mod_remoteip, `Require ip` does the job of part 2: in the <Directory> that",
        "#    serves the site, in place of its `Require all granted`:",
        "# <RequireAny>",
        *(f"#     Require ip {r}" for r in ranges),
        "# </RequireAny>",
    ]


def _caddy(ranges: Sequence[IPNetwork], ports: Sequence[int]) -> list[str]:
    listed = " ".join(map(str, ranges))
    return [
        "#",
        "# Caddy 2.7 or later. Part 1 belongs in the global options block at the top of the",
        "# Caddyfile (merge it into yours); part 2 is a snippet: `import cloudflare_only` in",
        "# each site block that Cloudflare proxies.",
        "",
        "# 1. The visitor's address: trust CF-Connecting-IP, and only from Cloudflare.",
        "{",
        "\tservers {",
        f"\t\ttrusted_proxies static {listed}",
        "\t\tclient_ip_headers CF-Connecting-IP",
        "\t}",
        "}",
        "",
        "# 2. Only Cloudflare may connect: remote_ip matches the address of the connection",
        "#    itself (client_ip would match the visitor's).",
        "(cloudflare_only) {",
        f"\t@cloudflare remote_ip {listed}",
        f"\t@not_cloudflare not remote_ip {listed}",
        "\tabort @not_cloudflare",
        "}",
    ]


_RENDERERS = {
    "nginx": _nginx,
    "iptables": _iptables,
    "nftables": _nftables,
    "ufw": _ufw,
    "apache": _apache,
    "caddy": _caddy,
}


def render(
    fmt: str,
    ranges: Sequence[IPNetwork],
    ports: Sequence[int] = (80, 443),
    *,
    source: str = SOURCE_API,
    generated_at: datetime | None = None,
) -> str:
    """A ready-to-include allowlist of `ranges` in one of `FORMATS`.

    `ports` are the TCP ports the firewall formats open (iptables, nftables, ufw); `source`
    and `generated_at` (default: now) go in the header comment.
    """
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if not ranges:
        raise ValueError("no ranges to allow")
    ports = tuple(dict.fromkeys(int(p) for p in ports))
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise ValueError("ports must be 1-65535, at least one")
    if len(ports) > 15 and fmt == "iptables":
        raise ValueError("iptables' multiport match takes at most 15 ports")
    ordered = sorted(dict.fromkeys(ranges), key=lambda r: r.version)  # IPv4 first, order kept
    shebang = {"iptables": ["#!/bin/sh"], "ufw": ["#!/bin/sh"], "nftables": ["#!/usr/sbin/nft -f"]}
    lines = [*shebang.get(fmt, []), *_header(fmt, ordered, source, generated_at), *_RENDERERS[fmt](ordered, ports)]
    return "\n".join(lines) + "\n"
