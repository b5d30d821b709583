"""What `apply` may touch, and which changes lower security: decided here, never by the plan file.

A plan is a file anyone with write access can edit, and its checksum only proves that whoever
made it knew how to compute a sha256. So `apply` trusts nothing in it that decides what is sent
or how carefully:

* a `target` must match a strict grammar: `setting:<id>` for a setting this table knows how to
  change, `dns:<32 lowercase hex>` for a record id of the form Cloudflare gives. Anything else
  (a `/`, `..`, `%`, whitespace, an unknown setting) is refused before any request, so a target
  can never become another API path;
* the zone id must be 32 lowercase hex as well;
* whether a change lowers security comes from `SECURITY_ORDER` below. The file's
  `lowers_security` may only add caution (a custom playbook may know better), never remove it.

Every setting a built-in playbook proposes is in `SETTINGS` (`tests/playbooks/test_contract.py`
checks the case files against it), and every id here is a real Cloudflare setting
(`tests/apply/test_targets.py` checks them against the sandbox's catalog of the API's settings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from cfremedy.models import Change

# A Cloudflare zone or DNS record id: 32 lowercase hex digits, nothing else.
ID_PATTERN = re.compile(r"[0-9a-f]{32}")

# The values of settings whose security depends on the value, weakest first. A change to an
# earlier value, or between values apply cannot place (an unknown `before` such as a legacy
# mode, or an `after` the API would refuse), lowers security: apply cannot prove it does not.
SECURITY_ORDER: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "ssl": ("off", "flexible", "full", "strict"),
        "min_tls_version": ("1.0", "1.1", "1.2", "1.3"),
        "always_use_https": ("off", "on"),
    }
)

# The zone settings cfremedy knows how to change: those its playbooks propose
# (`ssl_origin_cert` and `flexible_redirect_loop`: ssl; `http2_to_origin`:
# origin_max_http_version; `proxy_read_timeout`), and those whose security it can judge.
SETTINGS: frozenset[str] = frozenset({"ssl", "origin_max_http_version", "proxy_read_timeout", *SECURITY_ORDER})

# The record fields whose loss lowers security: a proxied record turned DNS-only exposes the
# origin's address and takes the hostname out of Cloudflare's TLS, WAF and DDoS protection.
DNS_PROTECTIONS = ("proxied",)


def target_problem(target: str) -> str | None:
    """Why `target` is not one apply may send a request for; None when it is. Pure."""
    kind, sep, key = target.partition(":")
    if not sep:
        return f"{target!r} is not KIND:ID (setting:<id> or dns:<record id>)"
    if kind == "setting":
        if key not in SETTINGS:
            return f"{target!r}: cfremedy does not change the setting {key!r} (it knows {', '.join(sorted(SETTINGS))})"
        return None
    if kind == "dns":
        if not ID_PATTERN.fullmatch(key):
            return f"{target!r}: a DNS record id is 32 lowercase hex digits"
        return None
    return f"{target!r}: cfremedy cannot apply this kind of target (setting:<id> or dns:<record id>)"


def zone_id_problem(zone_id: str) -> str | None:
    if not ID_PATTERN.fullmatch(zone_id):
        return f"zone id {zone_id!r} is not 32 lowercase hex digits"
    return None


def plan_problems(zone_id: str, changes: Iterable[Change]) -> list[str]:
    """Every reason the zone id or a target is malformed. Pure."""
    problems = [p for p in [zone_id_problem(zone_id)] if p]
    problems += [p for c in changes if (p := target_problem(c.target))]
    seen: set[str] = set()
    for change in changes:
        if change.target in seen:
            problems.append(f"{change.target!r} appears twice: one plan changes a target once")
        seen.add(change.target)
    return problems


def _rank(order: tuple[Any, ...], value: Any) -> int | None:
    """The value's place in `order`, by type and value (`True` is not `1`, `1.2` is not `"1.2"`)."""
    for index, known in enumerate(order):
        if type(value) is type(known) and value == known:
            return index
    return None


def lowers_security(change: Change) -> bool:
    """Whether applying `change` weakens the zone, by apply's own table. Pure.

    The plan's own `lowers_security` counts only when it is True: a file may ask for more
    caution, never less.
    """
    if change.lowers_security:
        return True
    if change.kind == "setting":
        order = SECURITY_ORDER.get(change.key)
        if order is None:
            return False
        before, after = _rank(order, change.before), _rank(order, change.after)
        return before is None or after is None or after < before
    if change.kind == "dns" and isinstance(change.before, Mapping) and isinstance(change.after, Mapping):
        # Anything but an explicit `false` before counts as protected: apply never takes the
        # file's word that a record was not proxied in a shape it does not expect.
        return any(
            f in change.before and change.before[f] is not False and change.after.get(f) is not True
            for f in DNS_PROTECTIONS
        )
    return False
