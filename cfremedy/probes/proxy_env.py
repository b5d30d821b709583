"""Which proxy a visitor's request goes through: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`.

`diagnose` must see the URL as a browser on this machine does, and behind a corporate proxy
a browser goes through the proxy; a tool that ignores it answers "connection refused" or
"certificate verify failed" about a site that works. Only the request for the URL (and its
`/cdn-cgi/trace`) follows these variables: origin probes play Cloudflare's part, and Cloudflare
connects to origins directly, so they never use a proxy.

The conventions are curl's (and httpx's): lower-case names win over upper-case ones, `NO_PROXY`
is a comma-separated list of host names (a leading dot or `*.` is optional: an entry covers its
subdomains), IP addresses or CIDR blocks, each optionally with `:port`, and `*` alone turns
proxies off. Pure: the environment comes in as a mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")


def _get(env: Mapping[str, str], name: str) -> str:
    """Lower-case first, as curl reads them (it ignores upper-case HTTP_PROXY for CGI's sake)."""
    value = env.get(name)
    if value is None and name != "http_proxy":
        value = env.get(name.upper())
    return (value or "").strip()


def _bypassed_by(entry: str, host: str, port: int) -> bool:
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    want_port: int | None = None
    if entry.startswith("["):  # [v6]:port
        inside, _, rest = entry[1:].partition("]")
        entry = inside
        if rest.startswith(":") and rest[1:].isdigit():
            want_port = int(rest[1:])
    elif entry.count(":") == 1:
        name, _, text = entry.partition(":")
        if text.isdigit():
            entry, want_port = name, int(text)
    if want_port is not None and want_port != port:
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    name = entry.removeprefix("*.").lstrip(".")
    return host == name or host.endswith("." + name)


def bypassed(no_proxy: str, hosts: Iterable[str], port: int) -> bool:
    """True when a `NO_PROXY` entry covers one of `hosts` (the URL's host name, and the address
    a --connect-to rule sends it to: `127.0.0.1` in `NO_PROXY` keeps a loopback edge direct)."""
    names = [h.lower().rstrip(".") for h in hosts if h]
    return any(_bypassed_by(entry, name, port) for entry in no_proxy.split(",") for name in names)


def proxy_for(scheme: str, hosts: Iterable[str], port: int, env: Mapping[str, str]) -> str | None:
    """The proxy URL for a request, or None to connect directly."""
    proxy = _get(env, f"{scheme}_proxy") or _get(env, "all_proxy")
    if not proxy or bypassed(_get(env, "no_proxy"), hosts, port):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def redacted(proxy: str) -> str:
    """The proxy URL without its user name and password: what reports may show."""
    parts = urlsplit(proxy)
    if parts.username is None and parts.password is None:
        return proxy
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
