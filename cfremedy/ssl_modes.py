"""The SSL/TLS mode Cloudflare really uses for a hostname: the zone setting, then the rules.

A zone in Full (strict) can still reach one hostname's origin in Flexible because a Page Rule
or a Configuration Rule says so, and judging that origin against the zone-wide setting gives
the wrong verdict both ways. Precedence, as Cloudflare documents it: the zone setting, replaced
by the first Page Rule whose URL pattern matches (Page Rules are listed highest priority first,
only one applies), replaced by every matching Configuration Rule in order (the last one wins;
Rules take precedence over Page Rules).

Rule expressions are Cloudflare's Rules language. Only the part that decides *which hostnames*
a rule covers is evaluated here; a rule that also tests the path, method, country... applies to
some of a hostname's requests and is reported as `partial`, and an expression outside the
understood subset is `unknown`: both are shown to the user rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from cfremedy.models import SslRule, ZoneSnapshot, normalise_name
from cfremedy.rules_language import Match, Unsupported, match_expression

MODE_NAMES = {"off": "Off", "flexible": "Flexible", "full": "Full", "strict": "Full (strict)"}


@dataclass(frozen=True)
class EffectiveMode:
    hostname: str
    mode: str
    rule: SslRule | None = None  # the rule that set `mode`; None: the zone setting did
    partial: tuple[SslRule, ...] = ()  # rules that set another mode for part of the traffic
    unknown: tuple[SslRule, ...] = ()  # rules cfremedy could not evaluate for this hostname

    @property
    def source(self) -> str:
        return describe_rule(self.rule) if self.rule is not None else "the zone setting"

    @property
    def overridden(self) -> bool:
        return self.rule is not None


def describe_rule(rule: SslRule) -> str:
    if rule.source == "page_rule":
        return f"Page Rule {rule.url_pattern!r}"
    label = f" {rule.description!r}" if rule.description else f" {rule.id}"
    return f"Configuration Rule{label}"


def mode_name(mode: object) -> str:
    return MODE_NAMES.get(str(mode), repr(mode))


# -- Page Rule URL patterns --------------------------------------------------------------------


def match_url_pattern(pattern: str, hostname: str) -> Match:
    """Whether a Page Rule target (`[scheme://]host[/path]`, `*` wildcards) covers a hostname."""
    rest = pattern.strip().lower()
    scheme = ""
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
    host, slash, path = rest.partition("/")
    host = host.split(":", 1)[0]
    if not fnmatchcase(hostname, host):
        return Match.NO
    whole_host = (not slash or path in ("", "*")) and scheme in ("", "*")
    return Match.FULL if whole_host else Match.PARTIAL


def rule_match(rule: SslRule, hostname: str) -> Match:
    if rule.source == "page_rule":
        return match_url_pattern(rule.url_pattern, normalise_name(hostname))
    return match_expression(rule.expression, hostname)


# -- the effective mode -------------------------------------------------------------------------


def effective_mode(zone_mode: object, rules: Sequence[SslRule] | None, hostname: str) -> EffectiveMode:
    hostname = normalise_name(hostname)
    mode, setter = str(zone_mode), None
    partial: list[SslRule] = []
    unknown: list[SslRule] = []
    active = [r for r in (rules or ()) if r.enabled]
    page_rules = sorted((r for r in active if r.source == "page_rule"), key=lambda r: r.position)
    config_rules = sorted((r for r in active if r.source != "page_rule"), key=lambda r: r.position)
    for rule in page_rules:
        found = rule_match(rule, hostname)
        if found is Match.FULL:
            mode, setter = rule.mode, rule
            break  # one Page Rule per request: the highest priority match
        if found is Match.PARTIAL:
            partial.append(rule)
    for rule in config_rules:
        try:
            found = rule_match(rule, hostname)
        except Unsupported:
            unknown.append(rule)
            continue
        if found is Match.FULL:
            mode, setter = rule.mode, rule
        elif found is Match.PARTIAL:
            partial.append(rule)
    return EffectiveMode(hostname, mode, setter, tuple(r for r in partial if r.mode != mode), tuple(unknown))


def effective_modes(snapshot: ZoneSnapshot, hostnames: Sequence[str]) -> dict[str, EffectiveMode]:
    zone_mode = snapshot.setting("ssl")
    return {h: effective_mode(zone_mode, snapshot.ssl_rules, h) for h in dict.fromkeys(hostnames)}
