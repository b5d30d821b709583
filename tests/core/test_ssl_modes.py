"""Which SSL mode Cloudflare applies to a hostname: zone setting, Page Rules, Configuration Rules."""

from __future__ import annotations

import pytest

from cfremedy.models import SslRule
from cfremedy.ssl_modes import Match, Unsupported, effective_mode, match_expression, match_url_pattern

HOST = "api.example.com"


@pytest.mark.parametrize(
    "expression, expected",
    [
        ('http.host eq "api.example.com"', Match.FULL),
        ('http.host == "API.example.com"', Match.FULL),
        ('http.host eq "www.example.com"', Match.NO),
        ('http.host ne "www.example.com"', Match.FULL),
        ('http.host in {"a.example.com" "api.example.com"}', Match.FULL),
        ('http.host in {"a.example.com", "b.example.com"}', Match.NO),
        ('http.host contains "api"', Match.FULL),
        ('http.host wildcard "*.example.com"', Match.FULL),
        ('http.host strict wildcard "*.example.org"', Match.NO),
        ('http.host matches "^api\\\\."', Match.FULL),
        ('ends_with(http.host, ".example.com")', Match.FULL),
        ('starts_with(http.host, "www.")', Match.NO),
        ('lower(http.host) eq "api.example.com"', Match.FULL),
        ('not http.host eq "api.example.com"', Match.NO),
        ('(http.host eq "www.example.com") or (http.host eq "api.example.com")', Match.FULL),
        ('http.host eq "api.example.com" && http.request.uri.path eq "/"', Match.PARTIAL),
        ('http.host eq "www.example.com" and http.request.uri.path eq "/"', Match.NO),
        ('http.request.uri.path wildcard "/legacy/*"', Match.PARTIAL),
        ("true", Match.FULL),
    ],
)
def test_expressions(expression: str, expected: Match) -> None:
    assert match_expression(expression, HOST) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "http.host in $internal",
        'http.host eq "a" xor http.host eq "b"',
        "http.host eq",
        '(http.host eq "a"',
        'http.host eq "a" )',
        "len(http.host) eq 3",
    ],
)
def test_unsupported_expressions_are_said_not_guessed(expression: str) -> None:
    with pytest.raises(Unsupported):
        match_expression(expression, HOST)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("api.example.com/*", Match.FULL),
        ("*example.com/*", Match.FULL),
        ("https://*.example.com/*", Match.PARTIAL),  # only HTTPS requests
        ("*://api.example.com/*", Match.FULL),
        ("api.example.com", Match.FULL),
        ("api.example.com/admin/*", Match.PARTIAL),
        ("www.example.com/*", Match.NO),
    ],
)
def test_page_rule_patterns(pattern: str, expected: Match) -> None:
    assert match_url_pattern(pattern, HOST) is expected


def _page(pid: str, mode: str, pattern: str, position: int, enabled: bool = True) -> SslRule:
    return SslRule("page_rule", pid, mode, url_pattern=pattern, position=position, enabled=enabled)


def _config(cid: str, mode: str, expression: str, position: int) -> SslRule:
    return SslRule("config_rule", cid, mode, expression=expression, position=position)


def test_no_rules_read_means_the_zone_setting() -> None:
    effective = effective_mode("strict", None, HOST)
    assert (effective.mode, effective.overridden, effective.source) == ("strict", False, "the zone setting")


def test_the_highest_priority_page_rule_applies_alone() -> None:
    rules = [_page("low", "off", "*example.com/*", 1), _page("high", "flexible", "api.example.com/*", 0)]
    effective = effective_mode("strict", rules, HOST)
    assert effective.mode == "flexible" and effective.rule is not None and effective.rule.id == "high"


def test_configuration_rules_beat_page_rules_and_the_last_one_wins() -> None:
    rules = [
        _page("p", "flexible", "api.example.com/*", 0),
        _config("c1", "full", 'http.host eq "api.example.com"', 0),
        _config("c2", "strict", 'ends_with(http.host, "example.com")', 1),
    ]
    effective = effective_mode("off", rules, HOST)
    assert effective.mode == "strict" and effective.source == "Configuration Rule c2"


def test_disabled_partial_and_unknown_rules_do_not_set_the_mode() -> None:
    rules = [
        _page("p", "flexible", "api.example.com/*", 0, enabled=False),
        _config("path", "off", 'http.host eq "api.example.com" and http.request.uri.path eq "/x"', 0),
        _config("list", "off", "http.host in $hosts", 1),
    ]
    effective = effective_mode("full", rules, HOST)
    assert effective.mode == "full" and not effective.overridden
    assert [r.id for r in effective.partial] == ["path"]
    assert [r.id for r in effective.unknown] == ["list"]
