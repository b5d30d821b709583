"""The zone settings the sandbox serves, with the defaults and value domains of the real API.

Ids, value domains and defaults come from Cloudflare's OpenAPI document (2024-08), so a playbook
that reads a setting sees what a fresh real zone would show. Two departures, both deliberate:

* `origin_max_http_version` is missing from the document's bulk-settings schema (it has its own
  path there) but is part of every zone here: the HTTP/2-to-origin playbook (520) needs it.
  Its default is "2" on every plan (the document says Enterprise zones default to "1"; the
  sandbox keeps one default so scenarios state the Enterprise case explicitly).
* `proxy_read_timeout` (524) is present on every zone but editable only on Enterprise, which is
  what makes the 524 playbook's advice plan-dependent.

Values seeded by a scenario are not checked against the domain: a scenario may describe a zone
in a state the API would refuse to produce today (e.g. `ssl = "origin_pull"`), and the sandbox
must serve it as-is. Only edits through the API are validated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cfremedy.sandbox.scenario import PLANS

Validator = Callable[[Any], bool]

ALL_PLANS: frozenset[str] = frozenset(PLANS)
ENTERPRISE_ONLY: frozenset[str] = frozenset({"enterprise"})


@dataclass(frozen=True)
class SettingDef:
    """One zone setting: its default, who may change it and which values an edit accepts."""

    id: str
    default: Any
    accepts: Validator
    editable_plans: frozenset[str] = ALL_PLANS

    def editable_on(self, plan: str) -> bool:
        return plan in self.editable_plans


def _one_of(*values: Any) -> Validator:
    """Enumerations compare by type too, so `True` is never mistaken for `1`."""
    allowed = tuple(values)

    def accepts(value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in allowed) or (
            _is_number(value) and any(_is_number(v) and value == v for v in allowed)
        )

    return accepts


def _number_between(low: float, high: float) -> Validator:
    def accepts(value: Any) -> bool:
        return _is_number(value) and low <= value <= high

    return accepts


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ON_OFF = _one_of("on", "off")

_BROWSER_CACHE_TTLS = (
    0, 30, 60, 120, 300, 1200, 1800, 3600, 7200, 10800, 14400, 18000, 28800, 43200, 57600,
    72000, 86400, 172800, 259200, 345600, 432000, 691200, 1382400, 2073600, 2678400, 5356800,
    16070400, 31536000,
)  # fmt: skip


def _catalog(defs: Iterable[SettingDef]) -> dict[str, SettingDef]:
    return {d.id: d for d in sorted(defs, key=lambda d: d.id)}


SETTINGS: dict[str, SettingDef] = _catalog(
    [
        SettingDef("0rtt", "off", _ON_OFF),
        SettingDef("always_online", "on", _ON_OFF),
        SettingDef("always_use_https", "off", _ON_OFF),
        SettingDef("automatic_https_rewrites", "on", _ON_OFF),
        SettingDef("brotli", "off", _ON_OFF),
        SettingDef("browser_cache_ttl", 14400, _one_of(*_BROWSER_CACHE_TTLS)),
        SettingDef("cache_level", "aggressive", _one_of("aggressive", "basic", "simplified")),
        SettingDef("development_mode", "off", _ON_OFF),
        SettingDef("early_hints", "off", _ON_OFF),
        SettingDef("email_obfuscation", "on", _ON_OFF),
        SettingDef("http2", "off", _ON_OFF),
        SettingDef("http3", "off", _ON_OFF),
        SettingDef("ip_geolocation", "on", _ON_OFF),
        SettingDef("ipv6", "off", _ON_OFF),
        SettingDef("max_upload", 100, _one_of(100, 200, 500)),
        SettingDef("min_tls_version", "1.0", _one_of("1.0", "1.1", "1.2", "1.3")),
        SettingDef("opportunistic_encryption", "on", _ON_OFF),
        SettingDef("origin_error_page_pass_thru", "off", _ON_OFF),
        SettingDef("origin_max_http_version", "2", _one_of("1", "2")),
        SettingDef("prefetch_preload", "off", _ON_OFF),
        SettingDef("proxy_read_timeout", 100, _number_between(1, 6000), ENTERPRISE_ONLY),
        SettingDef("pseudo_ipv4", "off", _one_of("off", "add_header", "overwrite_header")),
        SettingDef("response_buffering", "off", _ON_OFF),
        SettingDef("rocket_loader", "off", _ON_OFF),
        SettingDef(
            "security_level",
            "medium",
            _one_of("off", "essentially_off", "low", "medium", "high", "under_attack"),
        ),
        SettingDef("sort_query_string_for_cache", "off", _ON_OFF),
        SettingDef("ssl", "off", _one_of("off", "flexible", "full", "strict")),
        SettingDef("tls_1_3", "off", _one_of("on", "off", "zrt")),
        SettingDef("tls_client_auth", "on", _ON_OFF),
        SettingDef("true_client_ip_header", "off", _ON_OFF),
        SettingDef("websockets", "off", _ON_OFF),
    ]
)


def get(setting_id: str) -> SettingDef | None:
    return SETTINGS.get(setting_id)


def ids() -> tuple[str, ...]:
    return tuple(SETTINGS)
