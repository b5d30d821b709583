"""Every table a person reads fits the terminal (80, 120, 200 columns), wraps at word boundaries,
and loses nothing; colour only when asked for, plain text byte-stable otherwise (issue 14).

Each renderer gets long, realistic data (a 90-character allowlist path as a resource, a URL in
a message, a DNS change, every severity, a suppressed finding) and its text is read back into
columns (`tablecheck`): every cell's words, in order, whole when they fit their column.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cfremedy.analytics import ErrorBucket, ObservedErrors, sparkline
from cfremedy.apply import Recheck, Refreshed
from cfremedy.baseline import Diff
from cfremedy.journal import AuditRecord, ChangeState, Entry, Run, RunKind
from cfremedy.models import Change, Finding, Report, Severity, StageError, Suppression, ZoneReport, frozen_mapping
from cfremedy.registry import load_registry
from cfremedy.reporters import render
from cfremedy.reporters.errors import render_errors
from cfremedy.reporters.grid import Column, clean, fit_text, fit_widths, grid, paragraph
from cfremedy.reporters.runs import render_diff, render_history, render_rechecks, render_refresh, render_run
from cfremedy.reporters.table import FINDING_COLUMNS, describe_change, render_changes, render_table, summary_line
from tests.reporters.tablecheck import ANSI, assert_fits, check_table, tables

WIDTHS = (80, 120, 200)
ARTICLE = (
    "https://developers.cloudflare.com/support/troubleshooting/cloudflare-errors/troubleshooting-cloudflare-5xx-errors/"
)
ALLOWLIST = "/srv/deploy/releases/2026-11-30/etc/nginx/conf.d/cloudflare-allowlist-from-the-old-runbook.conf"


def finding(playbook: str, severity: Severity, codes: tuple[int, ...], resource: str, message: str) -> Finding:
    return Finding(
        playbook=playbook,
        severity=severity,
        error_codes=codes,
        resource=resource,
        message=message,
        evidence=frozen_mapping({}),
        key=resource,
    )


FINDINGS = (
    finding(
        "ssl_origin_cert",
        Severity.CRITICAL,
        (526,),
        "www.blog.example",
        "Full (strict) cannot validate the certificate of 93.184.215.30: it is self-signed (CN=localhost,"
        " issued by itself); see " + ARTICLE + "#error-526-invalid-ssl-certificate",
    ),
    finding(
        "cloudflare_ips_allowlist",
        Severity.HIGH,
        (520, 521, 522),
        ALLOWLIST,
        "this allowlist does not let in 2 of Cloudflare's 22 current IP ranges (172.64.0.0/13, 131.0.72.0/22):"
        " connections from them are refused (521), dropped (522) or answered wrongly (520)",
    ),
    finding(
        "origin_response_headers",
        Severity.MEDIUM,
        (520,),
        "api.internal-services.eu-west-1.shop.example",
        "the origin answers with 17,408 bytes of response headers (Set-Cookie x 41): over Cloudflare's 16 KB",
    ),
    finding("origin_keepalive", Severity.LOW, (522,), "static.example", "93.184.215.40 closes every connection"),
    finding("ssl_origin_cert", Severity.INFO, (), "docs.example", "SSL mode 'origin_pull' is not one cfremedy knows"),
    replace(
        finding("origin_ip", Severity.CRITICAL, (522, 523), "legacy.example.com", "points at 10.0.0.5 (RFC 1918)"),
        suppression=Suppression("retiring the host in May, see ticket OPS-2231", "cfremedy.toml ignore[0]", None),
    ),
)
CHANGES = (
    Change(
        "ssl_origin_cert",
        "setting:ssl",
        "strict",
        "full",
        "Full (strict) rejects the origin certificate of blog.example, www.blog.example (526); Full keeps"
        " encrypting without validating until a valid certificate is installed",
        lowers_security=True,
    ),
    Change(
        "origin_ip",
        "dns:585e840d5daf478624ab932f3d7f4682",
        {"name": "assets.static.example", "type": "A", "content": "10.0.12.7", "proxied": True},
        {"name": "assets.static.example", "type": "A", "content": "93.184.215.40", "proxied": True},
        "assets.static.example should point at the provisioned origin 93.184.215.40 (inventory), not 10.0.12.7",
    ),
    Change(
        "proxy_read_timeout",
        "setting:proxy_read_timeout",
        100,
        360,
        "the slowest proxied endpoint takes 300 s; 360 s covers it with 20 % headroom",
    ),
)
REPORT = Report(
    zones=(
        ZoneReport(
            "blog.example",
            id="1" * 32,
            plan="free",
            findings=FINDINGS,
            changes=CHANGES,
            errors=(
                StageError("probe", "files.static.example", "no file descriptor left for 93.184.215.42:443 " + ARTICLE),
            ),
        ),
        ZoneReport("healthy.example", id="2" * 32, plan="pro"),
    ),
    generated_at="2026-11-21T12:00:00Z",
)

HEADERS = ["SEVERITY", "PLAYBOOK", "CODES", "RESOURCE", "FINDING"]
CHANGE_HEADERS = ["TARGET", "CHANGE", "PLAYBOOK", "WHY"]


def finding_rows(findings: tuple[Finding, ...]) -> list[list[str]]:
    return [
        [
            f.severity.value.upper() if f.suppression is None else f"({f.severity.value}) SUPPRESSED",
            f.playbook,
            ", ".join(map(str, f.error_codes)) or "-",
            f.resource,
            f.message
            if f.suppression is None
            else f"{f.message} [suppressed by {f.suppression.rule}: {f.suppression.reason}]",
        ]
        for f in findings
    ]


def change_rows(changes: tuple[Change, ...]) -> list[list[str]]:
    return [
        [c.target, describe_change(c), c.playbook, ("LOWERS SECURITY; " if c.lowers_security else "") + c.reason]
        for c in changes
    ]


# -- the grid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [*WIDTHS, 60, 40])
def test_the_grid_fits_wraps_at_words_and_loses_nothing(width: int) -> None:
    rows = finding_rows(FINDINGS)
    columns = [Column(h, free=h == "FINDING", keep=h in ("SEVERITY", "PLAYBOOK")) for h in HEADERS]
    text = grid(columns, rows, width)
    assert_fits(text, width)
    (table,) = tables(text)
    check_table(table, HEADERS, rows)


def test_ids_stay_whole_and_only_words_longer_than_their_column_break() -> None:
    widths = fit_widths(
        [Column("PLAYBOOK", keep=True), Column("RESOURCE"), Column("FINDING", free=True)],
        [["cloudflare_ips_allowlist", ALLOWLIST, "a finding " * 30]],
        80,
    )
    # the id whole; the 97-character path, not the prose, gives way first
    assert widths[0] == len("cloudflare_ips_allowlist") and sum(widths) + 4 == 80
    assert widths[2] >= 16 and widths[1] < len(ALLOWLIST)


def test_a_table_that_fits_keeps_every_column_at_its_content() -> None:
    rows = [["HIGH", "http2_to_origin", "520", "api.shop.example", "origin fails HTTP/2"]]
    text = grid([Column(h) for h in HEADERS], rows, 200)
    assert text.splitlines() == [
        "SEVERITY  PLAYBOOK         CODES  RESOURCE          FINDING",
        "--------- ---------------- ------ ----------------- -------------------",
        "HIGH      http2_to_origin  520    api.shop.example  origin fails HTTP/2",
    ]


def test_a_sparkline_is_one_word_spaces_included() -> None:
    line = "|█   ▂          ▅      █|"
    text = grid(
        [Column("CODE"), Column("OVER TIME", whole=True), Column("WHAT", free=True)], [["524", line, "x " * 60]], 60
    )
    assert line in text.splitlines()[2]


def test_cells_cannot_drive_the_terminal() -> None:
    hostile = "evil\x1b[2J\x1b]0;pwned\x07name\tand\rmore"
    text = grid([Column("RESOURCE"), Column("FINDING")], [[hostile, "ok"]], 120)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\t" not in text
    assert clean(hostile) in text and "\\x1b[2J" in clean(hostile)


def test_colour_only_when_asked_and_only_escapes_added() -> None:
    rows = finding_rows(FINDINGS)
    columns = [replace(FINDING_COLUMNS[0], style=lambda s: "bold red"), *FINDING_COLUMNS[1:]]
    plain = grid(columns, rows, 120)
    coloured = grid(columns, rows, 120, color=True)
    assert "\x1b[" not in plain and "\x1b[1;31mCRITICAL" in coloured
    assert [line.rstrip() for line in ANSI.sub("", coloured).splitlines()] == plain.splitlines()


def test_paragraphs_wrap_at_spaces_and_keep_a_url_whole() -> None:
    text = paragraph("! probe error (files.static.example): no descriptor left, see " + ARTICLE, 80, indent="  ")
    lines = text.splitlines()
    assert lines[-1] == "  " + ARTICLE and all(len(line) <= 80 for line in lines[:-1])
    assert " ".join(text.split()) == "! probe error (files.static.example): no descriptor left, see " + ARTICLE


def test_fit_text_refills_paragraphs_and_keeps_aligned_lines() -> None:
    text = (
        "Anti-pattern:\n"
        "    A proxied CNAME whose target lies outside the zone names a host that has no address, so\n"
        "    visitors get 530.\n"
        "\n"
        "  export CLOUDFLARE_API_TOKEN=...   # read permissions: Zone Read, Zone Settings Read, DNS Read\n"
        "- a list item that is long enough to wrap at sixty columns, under its own text\n"
    )
    fitted = fit_text(text, 60)
    assert all(len(line) <= 60 for line in fitted.splitlines())
    assert fitted.splitlines()[1].startswith("    A proxied CNAME") and "so visitors" in fitted
    assert "\n                                     # " not in fitted
    comment = fitted.index("# read permissions")
    column = comment - fitted.rindex("\n", 0, comment) - 1
    continued = fitted.splitlines()[5]  # the comment's continuation, under its text
    assert continued.startswith(" " * column) and not continued.startswith(" " * (column + 1))
    assert fitted.splitlines()[-1].startswith("  ")  # the list item's continuation
    assert " ".join(fitted.split()) == " ".join(text.split())


# -- each table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_audit_report_table(width: int) -> None:
    text = render(REPORT, "table", width=width)
    assert_fits(text, width, urls=True)  # the stage error's URL is prose, kept whole
    findings, changes = tables(text)
    check_table(findings, HEADERS, finding_rows(FINDINGS))
    check_table(changes, CHANGE_HEADERS, change_rows(CHANGES))
    words = text.split()
    for f in FINDINGS:  # every finding's resource and playbook id, whole when they fit
        assert f.playbook in words
        assert f.resource in words or len(f.resource) > findings.widths[3]
    assert "No findings." in text and "! probe error (files.static.example):" in text
    assert " ".join(text.split()).endswith(summary_line(REPORT))


def test_the_plain_table_is_byte_stable_and_never_coloured_by_default() -> None:
    assert render(REPORT, "table", width=100) == render(REPORT, "table", width=100)
    assert "\x1b" not in render(REPORT, "table", width=100)
    coloured = render(REPORT, "table", width=100, color=True)
    for severity, code in [("CRITICAL", "1;31"), ("HIGH", "31"), ("MEDIUM", "33"), ("LOW", "36"), ("INFO", "2")]:
        assert f"\x1b[{code}m{severity}" in coloured
    assert ANSI.sub("", coloured).split() == render(REPORT, "table", width=100).split()


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown"])
def test_other_formats_ignore_width_and_colour(fmt: str) -> None:
    playbooks = load_registry().playbooks
    assert render(REPORT, fmt, width=80, color=True, playbooks=playbooks) == render(
        REPORT, fmt, width=200, playbooks=playbooks
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_changes(width: int) -> None:
    text = render_changes(CHANGES, width=width)
    assert_fits(text, width)
    (table,) = tables(text)
    check_table(table, CHANGE_HEADERS, change_rows(CHANGES))


RUN = Run(
    id="20261121T120301Z-3f9a2c",
    kind=RunKind.APPLY,
    zone="static.example",
    zone_id="3" * 32,
    plan_checksum="sha256:" + "9f" * 32,
    started_at="2026-11-21T12:03:01Z",
    finished_at="2026-11-21T12:03:09Z",
    rolls_back=None,
    entries=(
        Entry(1, CHANGES[0], ChangeState.APPLIED, "read back: full"),
        Entry(2, CHANGES[1], ChangeState.DRIFTED, "the live record now points at 198.51.100.23: left alone"),
        Entry(3, CHANGES[2], ChangeState.NOT_APPLIED, "403 Forbidden: the token lacks Zone Settings Write on it"),
    ),
    only=("setting:ssl", "dns:585e840d5daf478624ab932f3d7f4682"),
)


@pytest.mark.parametrize("width", WIDTHS)
def test_an_apply_run(width: int) -> None:
    text = render_run(RUN, width)
    assert_fits(text, width)
    (table,) = tables(text)
    expected = [
        [e.state.value.upper().replace("_", " "), e.change.target, describe_change(e.change), e.detail]
        for e in RUN.entries
    ]
    check_table(table, ["RESULT", "TARGET", "CHANGE", "DETAIL"], expected)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_refresh_and_the_recheck(width: int) -> None:
    refreshed = [
        Refreshed(CHANGES[0], "already done"),
        Refreshed(CHANGES[1], "drifted", "the live record now points at 198.51.100.23, neither before nor after"),
        Refreshed(CHANGES[2], "to change"),
    ]
    text = render_refresh(refreshed, width)
    assert_fits(text, width)
    (table,) = tables(text)
    check_table(
        table,
        ["NOW", "TARGET", "CHANGE", "DETAIL"],
        [[r.status.upper(), r.change.target, describe_change(r.change), r.detail] for r in refreshed[:2]],
    )
    rechecks = [
        Recheck("resolved", "ssl_origin_cert", "www.blog.example", (526,), "critical"),
        Recheck("new", "origin_tls_ciphers", ALLOWLIST, (525,), "high", "not there when the plan was made: roll back?"),
        Recheck(
            "still reported",
            "cloudflare_ips_allowlist",
            "api.internal-services.eu-west-1.shop.example",
            (520, 521, 522),
            "high",
        ),
    ]
    text = render_rechecks(rechecks, width)
    assert_fits(text, width)
    (table,) = tables(text)
    check_table(
        table,
        ["FINDING", "PLAYBOOK", "RESOURCE", "CODES", "NOTE"],
        [[r.status, r.playbook, r.resource, ", ".join(map(str, r.error_codes)), r.note] for r in rechecks],
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_history(width: int) -> None:
    summary = {"zones": 40, "findings": 18, "by_severity": {"critical": 7, "high": 8, "medium": 2, "low": 1}}
    audits = [
        AuditRecord("20261121T120301Z-3f9a2c", "all zones; shard 1/4", "2026-11-21T12:03:01Z",
                    {"summary": {**summary, "suppressed": 2, "errors": 1}}),
        AuditRecord("20261120T080000Z-7c01aa", "zone api.internal-services.eu-west-1.shop.example",
                    "2026-11-20T08:00:00Z", {"summary": {"zones": 1, "findings": 0}}),
    ]  # fmt: skip
    rollback = replace(RUN, id="20261121T130000Z-b0b0b0", kind=RunKind.ROLLBACK, rolls_back=RUN.id, only=())
    text = render_history([RUN, rollback], audits, "table", width)
    assert_fits(text, width)
    audit_table, run_table = tables(text)
    check_table(
        audit_table,
        ["AUDIT", "STARTED (UTC)", "SCOPE", "ZONES", "FINDINGS"],
        [
            [audits[0].id, "2026-11-21 12:03:01", audits[0].scope, "40",
             "18 (7 critical, 8 high, 2 medium, 1 low); 2 suppressed; 1 error(s)"],
            [audits[1].id, "2026-11-20 08:00:00", audits[1].scope, "1", "0"],
        ],
    )  # fmt: skip
    check_table(
        run_table,
        ["RUN", "STARTED (UTC)", "KIND", "ZONE", "APPLIED", "OUTCOME"],
        [
            [RUN.id, "2026-11-21 12:03:01", "apply --only", "static.example", "1/3", RUN.outcome],
            [rollback.id, "2026-11-21 12:03:01", f"rollback of {RUN.id}", "static.example", "1/3", rollback.outcome],
        ],
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_diff(width: int) -> None:
    from cfremedy.report import finding_dict

    appeared = tuple(("blog.example", finding_dict(f, "blog.example")) for f in FINDINGS[:3])
    other = "api.internal-services.eu-west-1.shop.example"
    resolved = tuple((other, finding_dict(f, other)) for f in FINDINGS[3:5])
    text = render_diff(
        Diff("audit 20261120T080000Z-7c01aa", "audit 20261121T120301Z-3f9a2c", appeared, resolved), "table", width
    )
    assert_fits(text, width)
    new, gone = tables(text)
    headers = ["SEVERITY", "PLAYBOOK", "ZONE", "RESOURCE", "CODES"]

    def expected(items: tuple[tuple[str, dict[str, object]], ...]) -> list[list[object]]:
        return [
            [f["severity"], f["playbook"], z, f["resource"], ", ".join(map(str, f["error_codes"])) or "-"]
            for z, f in items
        ]  # type: ignore[call-overload]

    check_table(new, headers, expected(appeared))
    check_table(gone, headers, expected(resolved))


@pytest.mark.parametrize("width", WIDTHS)
def test_errors(width: int) -> None:
    until = datetime(2026, 11, 21, 12, tzinfo=UTC)
    buckets = [
        ErrorBucket(until - timedelta(hours=h), status, origin, count)
        for h, status, origin, count in [(1, 524, 0, 37), (5, 524, 0, 2), (2, 520, 0, 12), (9, 502, 502, 3),
                                         (3, 520, 520, 4)]
    ]  # fmt: skip
    observed = ObservedErrors.of(until - timedelta(hours=24), until, buckets)
    playbooks = load_registry().playbooks
    text = render_errors("shop.example", observed, playbooks, "table", width)
    assert_fits(text, width, urls=True)  # the article's address stays whole
    article = f"Article: {ARTICLE}"  # on a line of its own when it does not fit beside its label
    assert " ".join(text.splitlines()[-2:]).endswith(article) if len(article) > width else text.endswith(article + "\n")
    assert max(map(len, text.splitlines())) <= max(width, len(ARTICLE))  # only the address is ever longer
    (table,) = tables(text)
    checked = {code: ", ".join(p.id for p in playbooks if code in p.error_codes) for code in (524, 520, 502)}
    check_table(
        table,
        ["CODE", "COUNT", "ORIGIN ANSWERED", "OVER TIME (oldest to newest)", "CHECKED BY", "ARTICLE SECTION"],
        [
            ["524", "39", "none: 39", f"|{sparkline(observed, 524)}|", checked[524], "#error-524-a-timeout-occurred"],
            ["520", "16", "none: 12, 520: 4", f"|{sparkline(observed, 520)}|", checked[520],
             "#error-520-web-server-returns-an-unknown-error"],
            ["502", "3", "502: 3", f"|{sparkline(observed, 502)}|", checked[502],
             "#error-502-bad-gateway-or-error-504-gateway-timeout"],
        ],
    )  # fmt: skip
    start, end = table.spans[3]
    bars = [line[start:end].rstrip() for line in table.body if line[start:end].strip()]
    assert bars == [f"|{sparkline(observed, code)}|" for code in (524, 520, 502)]  # never wrapped


def test_fast_paths_of_an_empty_table() -> None:
    assert render_changes((), width=80) == "Proposed changes (dry run): none\n"
    assert render_rechecks([], 80).startswith("Re-audit of every playbook")
    assert render_table(Report(zones=()), 80) == "0 zone(s), 0 finding(s) (none), 0 proposed change(s), 0 error(s)\n"
