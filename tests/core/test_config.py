"""cfremedy.toml: strict parsing, ignore entries that expire, globs, and playbook options.

The config decides which findings stop failing CI. A typo must be refused (not silently ignore
nothing), an exception past its `until` must stop hiding the problem on its own, and a
suppressed finding must stay in the report, marked with the entry that matched it.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from cfremedy.config import EMPTY, Config, apply_suppressions, expired, load_config, parse_config
from cfremedy.errors import EXIT_USAGE, UsageError
from cfremedy.models import Finding, Report, Severity, Suppression, ZoneReport

SOURCE = "/repo/ci/cfremedy.toml"
TODAY = date(2026, 11, 21)


def config(text: str) -> Config:
    return parse_config(tomllib.loads(text), SOURCE)


def finding(playbook: str, resource: str, codes: tuple[int, ...] = (525,)) -> Finding:
    return Finding(playbook, Severity.HIGH, codes, resource, f"{playbook} on {resource}")


def report(*zones: tuple[str, tuple[Finding, ...]]) -> Report:
    return Report(zones=tuple(ZoneReport(name, id=f"id-{name}", findings=fs) for name, fs in zones), scope="all zones")


def suppressions(result: Report) -> dict[tuple[str, str, str], Suppression | None]:
    return {(z.name, f.playbook, f.resource): f.suppression for z in result.zones for f in z.findings}


# -- parsing ----------------------------------------------------------------------------------------


def test_ignore_entries_are_parsed_with_defaults_and_labelled_by_position() -> None:
    parsed = config("""
        [[ignore]]
        playbook = "ssl_mode"
        reason = "migrating (TICKET-1)"

        [[ignore]]
        playbook = "*"
        zone = "legacy-*.example.com"
        resource = "www.*"
        reason = "legacy estate"
        until = 2027-01-31
    """)
    first, second = parsed.ignore
    assert (first.playbook, first.zone, first.resource, first.until) == ("ssl_mode", "*", "*", None)
    assert (first.reason, first.label) == ("migrating (TICKET-1)", "cfremedy.toml ignore[1]")
    assert (second.zone, second.resource, second.until) == ("legacy-*.example.com", "www.*", date(2027, 1, 31))
    assert second.label == "cfremedy.toml ignore[2]"
    assert parsed.source == SOURCE
    assert dict(parsed.playbook_options) == {}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[ignore]]\nplaybook = "x"\nreason = "r"\nzones = "a.example"', "ignore.0.zones"),
        ('[[ignore]]\nplaybook = "x"\nreason = ""', "ignore.0.reason"),
        ('[[ignore]]\nplaybook = "x"', "ignore.0.reason"),
        ('[[ignore]]\nplaybook = "x"\nreason = "r"\n[[ignore]]\nreason = "r"', "ignore.1.playbook"),
        ('[[ignore]]\nplaybook = "x"\nreason = "r"\nuntil = "someday"', "ignore.0.until"),
        ('fail_on = "high"', "fail_on"),
        ("[playbooks.no_such_playbook]\ndays = 3", "playbooks.no_such_playbook"),
        ("[playbooks.origin_cert_expiry]\nhorizon = 3", "playbooks.origin_cert_expiry.horizon"),
    ],
)
def test_an_unknown_or_invalid_key_is_a_usage_error_naming_its_path(text: str, where: str) -> None:
    with pytest.raises(UsageError) as caught:
        config(text)
    assert caught.value.message.startswith(f"{SOURCE}: {where}: "), caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("days", [1, 30, 3650])
def test_origin_cert_expiry_days_within_bounds_reach_the_playbook_options(days: int) -> None:
    parsed = config(f"[playbooks.origin_cert_expiry]\ndays = {days}")
    assert parsed.playbook_options["origin_cert_expiry"] == {"days": days}


@pytest.mark.parametrize("value", ["0", "-5", "3651", "4000", '"30"', "30.0", "30.5", "true"])
def test_origin_cert_expiry_days_out_of_bounds_or_not_an_integer_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match=r"playbooks\.origin_cert_expiry\.days: "):
        config(f"[playbooks.origin_cert_expiry]\ndays = {value}")


def test_an_option_table_without_days_leaves_the_playbook_its_default() -> None:
    parsed = config("[playbooks.origin_cert_expiry]\n")
    assert "days" not in parsed.playbook_options["origin_cert_expiry"]


# -- loading ----------------------------------------------------------------------------------------


def test_without_a_file_and_without_cfremedy_toml_in_the_cwd_the_config_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None)
    assert loaded is EMPTY
    assert (loaded.ignore, dict(loaded.playbook_options)) == ((), {})


def test_without_a_file_cfremedy_toml_in_the_cwd_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cfremedy.toml").write_text(
        '[[ignore]]\nplaybook = "ssl_mode"\nreason = "accepted"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None)
    assert [(r.playbook, r.reason, r.label) for r in loaded.ignore] == [
        ("ssl_mode", "accepted", "cfremedy.toml ignore[1]")
    ]
    assert loaded.source == "cfremedy.toml"


def test_a_given_file_is_read_and_its_name_labels_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text('[[ignore]]\nplaybook = "*"\nreason = "everything, for now"\n', encoding="utf-8")
    loaded = load_config(path)
    assert loaded.source == str(path)
    assert [r.label for r in loaded.ignore] == ["team.toml ignore[1]"]


def test_invalid_toml_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "cfremedy.toml"
    path.write_text('[[ignore]\nplaybook = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="invalid TOML") as caught:
        load_config(path)
    assert str(path) in caught.value.message


def test_a_missing_config_file_given_explicitly_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read config .*No such file"):
        load_config(tmp_path / "absent.toml")


def test_a_config_error_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cfremedy.toml"
    path.write_text('[[ignore]]\nplaybok = "ssl_mode"\nplaybook = "ssl_mode"\nreason = "r"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="ignore.0.playbok") as caught:
        load_config(path)
    assert caught.value.message.startswith(str(path))


def test_a_config_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "cfremedy.toml"
    path.write_bytes(b'[[ignore]]\nplaybook = "x"\nreason = "caf\xe9"\n')  # Latin-1, not UTF-8
    with pytest.raises(UsageError):
        load_config(path)


# -- suppressions -----------------------------------------------------------------------------------


def test_a_suppressed_finding_stays_in_the_report_marked_with_its_rule() -> None:
    rules = config('[[ignore]]\nplaybook = "ssl_mode"\nreason = "TICKET-9"\nuntil = 2027-01-31\n')
    before = report(("a.example", (finding("ssl_mode", "a.example"), finding("dns_origin", "www.a.example"))))
    after = apply_suppressions(before, rules, TODAY)
    assert suppressions(after) == {
        ("a.example", "ssl_mode", "a.example"): Suppression("TICKET-9", "cfremedy.toml ignore[1]", date(2027, 1, 31)),
        ("a.example", "dns_origin", "www.a.example"): None,
    }
    assert len(after.findings) == 2
    assert [f.playbook for f in after.active_findings] == ["dns_origin"]
    assert (after.scope, after.zones[0].id) == ("all zones", "id-a.example")
    assert all(f.suppression is None for f in before.findings)  # pure: the input is untouched


def test_an_entry_applies_up_to_and_including_its_until_date_and_then_expires() -> None:
    rules = config('[[ignore]]\nplaybook = "*"\nreason = "until the migration"\nuntil = 2026-11-21\n')
    subject = report(("a.example", (finding("ssl_mode", "a.example"),)))

    on_the_day = apply_suppressions(subject, rules, date(2026, 11, 21))
    assert on_the_day.active_findings == ()
    assert expired(rules, date(2026, 11, 21)) == []

    the_day_after = apply_suppressions(subject, rules, date(2026, 11, 22))
    assert the_day_after.findings[0].suppression is None
    assert len(the_day_after.active_findings) == 1
    assert expired(rules, date(2026, 11, 22)) == list(rules.ignore)


def test_only_active_entries_apply_and_expired_lists_the_others() -> None:
    rules = config("""
        [[ignore]]
        playbook = "ssl_mode"
        reason = "long gone"
        until = 2025-01-01

        [[ignore]]
        playbook = "dns_origin"
        reason = "still accepted"

        [[ignore]]
        playbook = "origin_http2"
        reason = "accepted a little longer"
        until = 2030-12-31
    """)
    subject = report(
        (
            "a.example",
            (
                finding("ssl_mode", "a.example"),
                finding("dns_origin", "www.a.example"),
                finding("origin_http2", "api.a.example"),
            ),
        )
    )
    marked = suppressions(apply_suppressions(subject, rules, TODAY))
    assert marked[("a.example", "ssl_mode", "a.example")] is None
    assert marked[("a.example", "dns_origin", "www.a.example")] == Suppression(
        "still accepted", "cfremedy.toml ignore[2]", None
    )
    assert marked[("a.example", "origin_http2", "api.a.example")] == Suppression(
        "accepted a little longer", "cfremedy.toml ignore[3]", date(2030, 12, 31)
    )
    assert [r.label for r in expired(rules, TODAY)] == ["cfremedy.toml ignore[1]"]


def test_the_first_matching_active_entry_wins() -> None:
    rules = config("""
        [[ignore]]
        playbook = "ssl_mode"
        reason = "expired, so skipped"
        until = 2020-01-01

        [[ignore]]
        playbook = "ssl_mode"
        reason = "specific"

        [[ignore]]
        playbook = "*"
        reason = "catch-all"
    """)
    subject = report(("a.example", (finding("ssl_mode", "a.example"), finding("dns_origin", "www.a.example"))))
    marked = suppressions(apply_suppressions(subject, rules, TODAY))
    assert marked[("a.example", "ssl_mode", "a.example")] == Suppression("specific", "cfremedy.toml ignore[2]")
    assert marked[("a.example", "dns_origin", "www.a.example")] == Suppression("catch-all", "cfremedy.toml ignore[3]")


def test_zone_and_resource_globs_match_case_insensitively() -> None:
    rules = config("""
        [[ignore]]
        playbook = "dns_origin"
        zone = "Legacy-*.EXAMPLE.com"
        resource = "WWW.*"
        reason = "legacy web servers"
    """)
    subject = report(
        (
            "legacy-1.example.com",
            (finding("dns_origin", "www.legacy-1.example.com"), finding("dns_origin", "api.legacy-1.example.com")),
        ),
        ("LEGACY-2.Example.COM", (finding("dns_origin", "Www.Legacy-2.Example.Com"),)),
        ("prod.example.com", (finding("dns_origin", "www.prod.example.com"),)),
    )
    marked = suppressions(apply_suppressions(subject, rules, TODAY))
    assert {k for k, v in marked.items() if v is not None} == {
        ("legacy-1.example.com", "dns_origin", "www.legacy-1.example.com"),
        ("LEGACY-2.Example.COM", "dns_origin", "Www.Legacy-2.Example.Com"),
    }


def test_without_active_entries_the_report_is_returned_as_it_was() -> None:
    subject = report(("a.example", (finding("ssl_mode", "a.example"),)))
    assert apply_suppressions(subject, EMPTY, TODAY) is subject
    only_expired = config('[[ignore]]\nplaybook = "*"\nreason = "old"\nuntil = 2020-01-01\n')
    assert apply_suppressions(subject, only_expired, TODAY) == subject
