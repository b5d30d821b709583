"""The pure halves of the typo checks, the playbook selection and `--min-severity`, on plain data.

What the CLI prints is tested through the installed command (tests/cli/test_typos.py,
test_report_selection.py); here are the decisions: when a name is a typo worth a warning,
which closest name is offered, what is left out of a report and what is kept.
"""

from __future__ import annotations

from datetime import date

import pytest

from cfremedy.baseline import zone_slice
from cfremedy.config import parse_config, unknown_playbooks
from cfremedy.errors import UsageError
from cfremedy.finish import FinishOptions, finish, hide_below
from cfremedy.inventory import parse_inventory, unknown_hostnames, unknown_zones
from cfremedy.models import Change, Finding, Report, Severity, ZoneReport
from cfremedy.registry import load_registry
from cfremedy.report import report_dict
from cfremedy.settings import known_variables, unknown_variables
from cfremedy.suggest import closest, did_you_mean

SHARED = parse_inventory(
    {
        "zones": {
            "example.com": {"origins": {"www.example.com": ["192.0.2.1"]}},
            "other-team.net": {"origins": {"www.other-team.net": ["192.0.2.2"]}},
            "exmaple.org": {"origins": {"www.example.org": ["192.0.2.3"]}},
        }
    },
    "inv.toml",
)


def test_closest_offers_only_a_close_name() -> None:
    assert closest("ssl_orign_cert", ["origin_ip", "ssl_origin_cert"]) == "ssl_origin_cert"
    assert closest("zzz", ["origin_ip"]) is None
    assert did_you_mean("zzz", ["origin_ip"]) == ""
    assert did_you_mean("orgin_ip", ["origin_ip"]) == " (did you mean 'origin_ip'?)"


def test_one_zone_of_a_shared_inventory_warns_only_about_a_near_miss_of_it() -> None:
    assert unknown_zones(SHARED, {"example.com"}, {"example.com"}, whole_account=False) == []
    assert unknown_zones(SHARED, {"example.org"}, {"example.org"}, whole_account=False) == [
        "inv.toml: zone 'exmaple.org' matches no zone of this audit (did you mean 'example.org'?);"
        " its entries are not used"
    ]
    # look-alike sibling zones are not typos of each other
    assert unknown_zones(SHARED, {"other-team.com"}, {"other-team.com"}, whole_account=False) == []


def test_an_audit_of_every_zone_warns_about_each_inventory_zone_it_does_not_see() -> None:
    visible = {"example.com", "example.org"}
    assert unknown_zones(SHARED, visible, visible, whole_account=True) == [
        "inv.toml: zone 'other-team.net' matches no zone the token can see; its entries are not used",
        "inv.toml: zone 'exmaple.org' matches no zone the token can see (did you mean 'example.org'?);"
        " its entries are not used",
    ]


def test_a_zone_outside_a_shard_or_glob_is_no_typo() -> None:
    visible = {"example.com", "example.org", "other-team.net"}
    assert unknown_zones(SHARED, {"example.com"}, visible, whole_account=False) == []


def test_inventory_hostnames_known_by_record_wildcard_or_load_balancer() -> None:
    inventory = parse_inventory(
        {
            "zones": {
                "example.com": {
                    "origins": {
                        "www.example.com": ["192.0.2.1"],
                        "shop.example.com": ["192.0.2.1"],  # a wildcard record serves it
                        "lb.example.com": ["192.0.2.1"],  # a load balancer, no record
                        "wwww.example.com": ["192.0.2.1"],
                        "legacy.example.com": ["192.0.2.1"],
                    },
                    "slow_endpoints": [{"hostname": "ap.example.com", "seconds": 200}],
                }
            }
        },
        "inv.toml",
    )
    names = {"example.com", "www.example.com", "*.example.com", "lb.example.com"}
    assert unknown_hostnames(inventory.for_zone("example.com"), "example.com", "inv.toml", names) == []
    names = {"example.com", "www.example.com", "lb.example.com", "api.example.com"}
    assert unknown_hostnames(inventory.for_zone("example.com"), "example.com", "inv.toml", names) == [
        "inv.toml: zones.example.com.origins: 'shop.example.com' is not a DNS record or load balancer of"
        " example.com; its addresses are not checked",
        "inv.toml: zones.example.com.origins: 'wwww.example.com' is not a DNS record or load balancer of"
        " example.com (did you mean 'www.example.com'?); its addresses are not checked",
        "inv.toml: zones.example.com.origins: 'legacy.example.com' is not a DNS record or load balancer of"
        " example.com; its addresses are not checked",
        "inv.toml: zones.example.com.slow_endpoints: 'ap.example.com' is not a DNS record or load balancer of"
        " example.com (did you mean 'api.example.com'?); its slow requests do not predict a 524",
    ]


def test_ignore_entries_are_checked_against_the_known_playbooks_ids_and_globs() -> None:
    config = parse_config(
        {
            "ignore": [
                {"playbook": "ssl_origin_cert", "reason": "r"},
                {"playbook": "*", "reason": "r"},
                {"playbook": "origin_?p", "reason": "r"},
                {"playbook": "orign_ip", "reason": "r"},
            ]
        },
        "team/cfremedy.toml",
    )
    assert unknown_playbooks(config, load_registry().ids) == [
        "cfremedy.toml ignore[4]: playbook 'orign_ip' matches no playbook (did you mean 'origin_ip'?);"
        " the entry suppresses nothing"
    ]


def test_known_variables_are_the_settings_aliases() -> None:
    assert {"CFREMEDY_STATE_DIR", "CFREMEDY_PLAN_KEY", "CLOUDFLARE_API_TOKEN"} <= known_variables()
    names = ["CFREMEDY_STATE_DIR", "cfremedy_state_dir", "CLOUDFLARE_ACCOUNT_ID", "CFREMEDY_PLANKEY", "PATH"]
    assert unknown_variables(names, "environment") == [
        "environment: CFREMEDY_PLANKEY is not a cfremedy variable (did you mean 'CFREMEDY_PLAN_KEY'?); it is ignored"
    ]


# -- selection ------------------------------------------------------------------------------------

REGISTRY = load_registry()


def test_select_excludes_after_choosing() -> None:
    assert [p.id for p in REGISTRY.select(["origin_ip", "origin_dns"], ["origin_dns"])] == ["origin_ip"]
    everything_but = REGISTRY.select(None, ["origin_ip"])
    assert [p.id for p in everything_but] == [i for i in REGISTRY.ids if i != "origin_ip"]
    assert REGISTRY.select(["origin_ip"], ["origin_dns"])[0].id == "origin_ip"  # known, not selected: fine


@pytest.mark.parametrize(
    "ids, exclude, message",
    [
        (None, ["orign_ip"], "--exclude-playbook: unknown playbook 'orign_ip' (did you mean 'origin_ip'?)"),
        (["origin_ip"], ["origin_ip"], "--exclude-playbook leaves no playbook to run"),
        (None, list(REGISTRY.ids), "--exclude-playbook leaves no playbook to run"),
    ],
)
def test_select_refuses(ids: list[str] | None, exclude: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        REGISTRY.select(ids, exclude)


# -- --min-severity -------------------------------------------------------------------------------

CRIT = Finding("ssl_origin_cert", Severity.CRITICAL, (526,), "a.example", "bad cert")
LOW = Finding("origin_keepalive", Severity.LOW, (522,), "a.example", "closes", key="1")
MED = Finding("http2_to_origin", Severity.MEDIUM, (520,), "b.example", "h2 fails")
SSL_CHANGE = Change("ssl_origin_cert", "setting:ssl", "strict", "full", "526")
H2_CHANGE = Change("http2_to_origin", "setting:origin_max_http_version", "2", "1", "520")
REPORT = Report(
    zones=(
        ZoneReport("a.example", id="a", findings=(CRIT, LOW), changes=(SSL_CHANGE,)),
        ZoneReport("b.example", id="b", findings=(MED,), changes=(H2_CHANGE,)),
    ),
    scope="all zones",
)


def test_hide_below_keeps_what_is_at_or_above_and_the_changes_of_what_is_kept() -> None:
    shown = hide_below(REPORT, Severity.HIGH)
    assert [z.findings for z in shown.zones] == [(CRIT,), ()]
    assert [z.changes for z in shown.zones] == [(SSL_CHANGE,), ()]
    assert (shown.min_severity, shown.below_min_severity) == ("high", 2)
    summary = report_dict(shown)["summary"]
    assert summary["findings"] == 1 and summary["min_severity"] == {"level": "high", "findings_left_out": 2}
    assert "min_severity" not in report_dict(REPORT)["summary"]


def test_finish_decides_the_exit_code_before_hiding() -> None:
    outcome = finish(
        REPORT, FinishOptions(fail_on=Severity.MEDIUM, min_severity=Severity.CRITICAL, store=False), None, date.today()
    )
    assert outcome.exit_code == 1 and outcome.report.below_min_severity == 2
    assert outcome.notes[-1] == (
        "note: 2 finding(s) below critical left out of the report (--min-severity); --fail-on medium still counts them"
    )
    quiet = finish(REPORT, FinishOptions(min_severity=Severity.LOW, store=False), None, date.today())
    assert quiet.report.zones == REPORT.zones and not any("--min-severity" in n for n in quiet.notes)


# -- history --zone -------------------------------------------------------------------------------


def test_zone_slice_counts_one_zone_of_an_account_report() -> None:
    data = report_dict(REPORT)
    sliced = zone_slice(data, "b.example")
    assert sliced is not None and [z["name"] for z in sliced["zones"]] == ["b.example"]
    assert sliced["summary"] == {
        "zones": 1,
        "findings": 1,
        "by_severity": {"medium": 1},
        "suppressed": 0,
        "changes": 1,
        "errors": 0,
    }
    assert zone_slice(data, "c.example") is None
