"""The playbook contract (docs/architecture.md), checked for every registered playbook.

A new playbook that forgets its docs page, declares a write permission it never uses, or
proposes changes without declaring what they need to write fails here, not in production.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cfremedy import permissions
from cfremedy.errors import UsageError
from cfremedy.gateway.reads import RULE_PHASES
from cfremedy.registry import SOURCES, Playbook, load_registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry()
PLAYBOOKS = {p.id: p for p in REGISTRY.playbooks}
BUILTIN = [
    "origin_ip",
    "ssl_origin_cert",
    "http2_to_origin",
    "proxy_read_timeout",
    "origin_dns",
    "tunnel_health",
    "load_balancer_health",
]


def _cases(playbook_id: str) -> list[dict]:
    path = ROOT / "tests" / "playbooks" / "cases" / f"{playbook_id}.yml"
    return yaml.safe_load(path.read_text())["cases"] if path.exists() else []


def test_the_documented_builtins_are_registered() -> None:
    assert set(BUILTIN) <= set(PLAYBOOKS)


@pytest.mark.parametrize("playbook", REGISTRY.playbooks, ids=lambda p: p.id)
class TestContract:
    def test_id_is_the_module_name_in_snake_case(self, playbook: Playbook) -> None:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", playbook.id)
        assert Path(playbook.source).stem == playbook.id

    def test_error_codes_are_5xx_or_1xxx(self, playbook: Playbook) -> None:
        # Only a redirect loop prevents no status code at all (browsers show their own error).
        assert playbook.error_codes or playbook.id == "flexible_redirect_loop"
        assert all(500 <= c <= 599 or 1000 <= c <= 1999 for c in playbook.error_codes)

    def test_docstring_has_summary_anti_pattern_and_fix(self, playbook: Playbook) -> None:
        assert playbook.summary and not playbook.summary.startswith(("Anti-pattern", "Fix"))
        assert "\nAnti-pattern:\n" in playbook.docstring
        assert "\nFix:\n" in playbook.docstring

    def test_docs_url_points_at_the_article(self, playbook: Playbook) -> None:
        assert playbook.docs_url.startswith(
            "https://developers.cloudflare.com/support/troubleshooting/cloudflare-errors/"
            "troubleshooting-cloudflare-5xx-errors/#error-5"
        )

    def test_permissions_are_real_permission_groups(self, playbook: Playbook) -> None:
        assert playbook.read_permissions
        for group in (*playbook.read_permissions, *playbook.write_permissions):
            assert permissions.is_known_group(group), group

    def test_sources_read_are_covered_by_read_permissions(self, playbook: Playbook) -> None:
        for source in playbook.reads:
            for group in SOURCES[source]:
                assert group in playbook.read_permissions, (source, group)

    def test_docs_page_exists_and_names_codes_and_permissions(self, playbook: Playbook) -> None:
        page = ROOT / "docs" / "playbooks" / f"{playbook.id}.md"
        assert page.exists(), f"missing {page}"
        text = page.read_text()
        for code in playbook.error_codes:
            assert str(code) in text
        for group in (*playbook.read_permissions, *playbook.write_permissions):
            assert group in text, f"{page.name} does not mention {group!r}"

    def test_write_permissions_declared_iff_changes_are_proposed(self, playbook: Playbook) -> None:
        cases = _cases(playbook.id)
        assert cases, f"tests/playbooks/cases/{playbook.id}.yml has no cases"
        proposes = any(c.get("expect", {}).get("changes") for c in cases)
        assert bool(playbook.write_permissions) == proposes

    def test_has_a_silent_case(self, playbook: Playbook) -> None:
        assert any(not c.get("expect", {}).get("findings") for c in _cases(playbook.id)), (
            "every playbook needs a case proving it stays silent on a healthy zone"
        )


def test_a_user_directory_adds_playbooks(tmp_path: Path) -> None:
    (tmp_path / "always_warns.py").write_text(
        '"""Always warns.\n\nAnti-pattern:\n    x\n\nFix:\n    y\n"""\n'
        "from cfremedy.models import Finding, Severity\n"
        'id = "always_warns"\ntitle = "t"\nseverity = "low"\nerror_codes = (520,)\n'
        'docs_url = "https://example.invalid"\nread_permissions = ("Zone Read",)\n'
        "write_permissions = ()\n"
        "def detect(facts):\n"
        '    return [Finding("always_warns", Severity.LOW, (520,), facts.snapshot.zone.name, "m")]\n'
        "def plan_fix(facts, findings):\n    return []\n"
    )
    registry = load_registry([tmp_path])
    assert registry.get("always_warns").builtin is False
    assert {p.id for p in registry.playbooks} >= set(BUILTIN)


@pytest.mark.parametrize(
    "source, message",
    [
        ('id = "other"\n', "`id` is 'other' but the module is named 'broken'"),
        ("", "missing `id`"),
        ("raise RuntimeError('boom')\n", "failed to import: boom"),
    ],
)
def test_a_broken_user_playbook_is_a_usage_error(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "broken.py").write_text(source)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_registry([tmp_path])


def test_unknown_playbook_id_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown playbook 'nope'; known playbooks: .*origin_ip"):
        REGISTRY.select(["nope"])


# -- meta-tests: what the code declares agrees with what it does -------------------------------

# The permission group a change of each target kind needs (apply checks the same table).
WRITE_GROUP = {"setting": "Zone Settings Write", "dns": "DNS Write"}


@pytest.mark.parametrize("playbook", REGISTRY.playbooks, ids=lambda p: p.id)
def test_change_kinds_match_declared_write_permissions(playbook: Playbook) -> None:
    kinds = {
        c["target"].split(":", 1)[0] for case in _cases(playbook.id) for c in case.get("expect", {}).get("changes", [])
    }
    assert kinds <= set(WRITE_GROUP), kinds
    assert {WRITE_GROUP[k] for k in kinds} == set(playbook.write_permissions)


@pytest.mark.parametrize("playbook", REGISTRY.playbooks, ids=lambda p: p.id)
def test_proposed_changes_are_ones_apply_accepts_and_judges_the_same(playbook: Playbook) -> None:
    """A setting a playbook proposes must be in apply's table (else apply refuses the plan), and
    apply's own verdict on lowering security must agree with what the playbook declares."""
    from cfremedy.models import Change
    from cfremedy.targets import SETTINGS, lowers_security

    for case in _cases(playbook.id):
        for expected in case.get("expect", {}).get("changes", []):
            kind, _, key = expected["target"].partition(":")
            if kind == "setting":
                assert key in SETTINGS, (case["name"], key)
            if "before" in expected and "after" in expected:
                change = Change(playbook.id, expected["target"], expected["before"], expected["after"], "")
                declared = bool(expected.get("lowers_security", False))
                assert lowers_security(change) is declared, (case["name"], expected)


def test_apply_asks_for_the_same_write_permissions() -> None:
    from cfremedy.apply import WRITE_PERMISSION

    assert set(WRITE_PERMISSION) == set(WRITE_GROUP)
    for kind, key in WRITE_PERMISSION.items():
        assert key in permissions.GROUPS[WRITE_GROUP[kind]]


def _gateway_permission_names() -> set[str]:
    """Every permission group named in an `Op(what, permission)` of the gateway package."""
    import ast

    names = set()
    for path in (ROOT / "cfremedy" / "gateway").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Op"):
                continue
            given = node.args[1:2] + [k.value for k in node.keywords if k.arg == "permission"]
            for permission in given:  # none: a request no group covers (its 403 names none)
                if isinstance(permission, ast.Constant):
                    assert isinstance(permission.value, str) and permission.value, ast.unparse(node)
                    names.add(permission.value)
                else:  # the rule phases' table: every group it names
                    assert ast.unparse(permission).startswith("RULE_PHASES["), ast.unparse(node)
                    names |= {group for _, group in RULE_PHASES.values()}
    return names


def test_every_permission_the_gateway_names_is_in_the_permissions_table() -> None:
    names = _gateway_permission_names()
    assert {"Zone Read", "DNS Read", "Zone Settings Write"} <= names  # the scan finds them
    assert [n for n in names if not permissions.is_known_group(n)] == []


def _header(page: Path) -> dict[str, str]:
    """The `| key | value |` table under a docs page's title."""
    rows = {}
    for line in page.read_text().splitlines()[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
        elif rows and not line.startswith("|"):
            break
    return rows


def _value(cell: str) -> str:
    """A header cell's value: what precedes a note (" (...)", "; ...", ": lower-case text")."""
    return re.split(r" \(|;|: (?=[a-z])", cell, maxsplit=1)[0].strip()


@pytest.mark.parametrize("playbook", REGISTRY.playbooks, ids=lambda p: p.id)
def test_docs_page_header_matches_the_module(playbook: Playbook) -> None:
    """The page's header table says what the module declares (a note may follow each value)."""
    header = _header(ROOT / "docs" / "playbooks" / f"{playbook.id}.md")
    codes = [int(c) for c in re.findall(r"\b\d{3,4}\b", _value(header["Prevents"]))]
    assert codes == list(playbook.error_codes), header["Prevents"]
    assert _value(header["Default severity"]) == playbook.severity.value
    assert [g.strip() for g in _value(header["Reads with"]).split(",")] == list(playbook.read_permissions)
    writes = _value(header["Writes with (apply)"])
    assert ([] if writes == "none" else [g.strip() for g in writes.split(",")]) == list(playbook.write_permissions)


# What a playbook may import from cfremedy: the kit, and the helpers of its own domain.
ALLOWED_IMPORTS = {"cfremedy.kit", "cfremedy.allowlist"}


@pytest.mark.parametrize("playbook", REGISTRY.playbooks, ids=lambda p: p.id)
def test_playbooks_import_only_the_kit(playbook: Playbook) -> None:
    import ast

    tree = ast.parse(Path(playbook.source).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {m for m in imported if m.split(".")[0] == "cfremedy"}
    assert ours <= ALLOWED_IMPORTS, ours - ALLOWED_IMPORTS
