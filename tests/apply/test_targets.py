"""What apply may touch and what counts as lowering security: apply's own table, pure.

The plan file's `lowers_security` and its targets are input like any other (issue 13: a
recomputed checksum let SSL Full -> Off through, a `setting:../` target reached other API
paths), so these decisions are checked here on plain data, and against the sandbox's catalog of
the real API's settings so the table never names a setting Cloudflare does not have.
"""

from __future__ import annotations

from typing import Any

import pytest

from cfremedy.models import Change
from cfremedy.sandbox import settings_catalog
from cfremedy.targets import SECURITY_ORDER, SETTINGS, lowers_security, plan_problems, target_problem

RECORD = "372e67954025e0ba6aaa6d586b9e0b59"
ZONE_ID = "9a7806061c88ada191ed06f989cc3dac"


def setting(key: str, before: Any, after: Any, flagged: bool = False) -> Change:
    return Change("p", f"setting:{key}", before, after, "r", lowers_security=flagged)


def test_every_setting_cfremedy_changes_is_a_real_cloudflare_setting() -> None:
    assert set(settings_catalog.ids()) >= SETTINGS
    for key, order in SECURITY_ORDER.items():
        definition = settings_catalog.get(key)
        assert definition is not None and all(definition.accepts(v) for v in order), key


@pytest.mark.parametrize(
    "before, after, lowers",
    [
        ("strict", "full", True),
        ("strict", "flexible", True),
        ("strict", "off", True),
        ("full", "flexible", True),
        ("full", "off", True),
        ("flexible", "off", True),
        ("off", "flexible", False),
        ("flexible", "full", False),
        ("flexible", "strict", False),
        ("full", "strict", False),
        ("strict", "strict", False),
        ("origin_pull", "strict", True),  # a mode apply cannot place: it cannot prove it is safe
        ("full", "STRICT", True),
        ("full", None, True),
    ],
)
def test_ssl_downgrades_come_from_the_table_not_the_file(before: Any, after: Any, lowers: bool) -> None:
    assert lowers_security(setting("ssl", before, after)) is lowers


def test_the_file_may_ask_for_more_caution_but_never_less() -> None:
    assert lowers_security(setting("ssl", "full", "off", flagged=False)) is True
    assert lowers_security(setting("ssl", "off", "full", flagged=True)) is True
    assert lowers_security(setting("proxy_read_timeout", 100, 360, flagged=True)) is True


@pytest.mark.parametrize(
    "change, lowers",
    [
        (setting("min_tls_version", "1.2", "1.0"), True),
        (setting("min_tls_version", "1.0", "1.2"), False),
        (setting("min_tls_version", "1.2", 1.0), True),  # a number is not one of the API's strings
        (setting("always_use_https", "on", "off"), True),
        (setting("always_use_https", "off", "on"), False),
        (setting("always_use_https", "off", True), True),
        (setting("proxy_read_timeout", 360, 100), False),  # no security order: never a downgrade
        (setting("origin_max_http_version", "2", "1"), False),
    ],
)
def test_other_security_settings(change: Change, lowers: bool) -> None:
    assert lowers_security(change) is lowers


@pytest.mark.parametrize(
    "before, after, lowers",
    [
        ({"proxied": True}, {"proxied": False}, True),  # the origin's address exposed, no WAF/TLS at the edge
        ({"proxied": True, "content": "a"}, {"proxied": None, "content": "a"}, True),
        ({"proxied": False}, {"proxied": True}, False),
        ({"content": "192.0.2.1"}, {"content": "93.184.215.14"}, False),
        ({"proxied": True, "content": "a"}, {"proxied": True, "content": "b"}, False),
    ],
)
def test_a_dns_change_that_turns_proxying_off_lowers_security(before: dict, after: dict, lowers: bool) -> None:
    assert lowers_security(Change("p", f"dns:{RECORD}", before, after, "r")) is lowers


@pytest.mark.parametrize("target", ["setting:ssl", "setting:proxy_read_timeout", f"dns:{RECORD}"])
def test_well_formed_targets_pass(target: str) -> None:
    assert target_problem(target) is None
    assert plan_problems(ZONE_ID, [Change("p", target, 1, 2, "r")]) == []


def test_plan_problems_names_every_bad_target_and_the_zone_id() -> None:
    changes = [
        Change("p", "setting:../../user/tokens/x", 1, 2, "r"),
        Change("p", f"dns:{RECORD}%2F..", {}, {}, "r"),
        Change("p", "setting:ssl", 1, 2, "r"),
        Change("p", "setting:ssl", 1, 3, "r"),
    ]
    problems = plan_problems("../" + ZONE_ID, changes)
    assert problems == [
        "zone id '../9a7806061c88ada191ed06f989cc3dac' is not 32 lowercase hex digits",
        "'setting:../../user/tokens/x': cfremedy does not change the setting '../../user/tokens/x'"
        f" (it knows {', '.join(sorted(SETTINGS))})",
        f"'dns:{RECORD}%2F..': a DNS record id is 32 lowercase hex digits",
        "'setting:ssl' appears twice: one plan changes a target once",
    ]
