"""Typos are said, not silently ignored: a misspelt inventory zone or hostname, a `[[ignore]]`
entry naming no playbook, an unknown CFREMEDY_* variable. Each is one `cfremedy: warning:`
line on stderr, once per run, naming the closest known name (the run itself goes on)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfremedy.sandbox.scenario import load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import run


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    with SandboxSession(load_scenario("demo")) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession, tmp_path: Path) -> dict[str, str]:
    return {**demo.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cfremedy: warning:")]


INVENTORY = """\
[zones."statc.example".origins]
"www.static.example" = ["93.184.215.40"]

[zones."shop.example".origins]
"ww.shop.example" = ["93.184.215.40"]
"www.shop.example" = ["93.184.215.40"]

[[zones."shop.example".slow_endpoints]]
hostname = "api.shop.exmple"
path = "/export"
seconds = 300

[[zones."shop.example".slow_endpoints]]
hostname = "api.shop.exmple"
path = "/import"
seconds = 300

[zones."retired.example".origins]
"www.retired.example" = ["93.184.215.40"]
"""


def test_inventory_typos_in_an_account_audit(env: dict[str, str], tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(INVENTORY)
    proc = run(["audit", "account", "--no-probe", "--inventory", str(inventory), "--format", "json"], env)
    assert proc.returncode == 1, proc.stderr  # the audit itself goes on
    assert warnings(proc.stderr) == [
        f"cfremedy: warning: {inventory}: zone 'statc.example' matches no zone the token can see"
        " (did you mean 'static.example'?); its entries are not used",
        f"cfremedy: warning: {inventory}: zone 'retired.example' matches no zone the token can see;"
        " its entries are not used",
        f"cfremedy: warning: {inventory}: zones.shop.example.origins: 'ww.shop.example' is not a DNS record or"
        " load balancer of shop.example (did you mean 'www.shop.example'?); its addresses are not checked",
        f"cfremedy: warning: {inventory}: zones.shop.example.slow_endpoints: 'api.shop.exmple' is not a DNS"
        " record or load balancer of shop.example (did you mean 'api.shop.example'?); its slow requests do not"
        " predict a 524",
    ]


def test_inventory_typos_in_a_zone_audit(env: dict[str, str], tmp_path: Path) -> None:
    """One zone of a shared inventory: other teams' zones are no typo, a near miss of this one is."""
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(INVENTORY)
    proc = run(["audit", "zone", "static.example", "--no-probe", "--inventory", str(inventory)], env)
    assert warnings(proc.stderr) == [
        f"cfremedy: warning: {inventory}: zone 'statc.example' matches no zone of this audit"
        " (did you mean 'static.example'?); its entries are not used"
    ]
    shop = run(["audit", "zone", "shop.example", "--no-probe", "--inventory", str(inventory)], env)
    assert [w.split(": ")[3] for w in warnings(shop.stderr)] == [
        "zones.shop.example.origins",
        "zones.shop.example.slow_endpoints",
    ]


def test_the_demo_inventory_has_no_typo() -> None:
    proc = run(["demo"], timeout=120)
    assert proc.returncode == 0 and warnings(proc.stderr) == [], proc.stderr


def test_an_ignore_entry_naming_no_playbook(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "cfremedy.toml"
    config.write_text(
        '[[ignore]]\nplaybook = "ssl_orign_cert"\nreason = "typo"\n\n'
        '[[ignore]]\nplaybook = "origin_*"\nreason = "a glob that matches"\n\n'
        '[[ignore]]\nplaybook = "sll_*"\nreason = "a glob that matches nothing"\n'
    )
    proc = run(["audit", "zone", "blog.example", "--no-probe", "--config", str(config)], env)
    assert proc.returncode == 1, proc.stderr  # the critical finding it meant to accept still fails the run
    assert warnings(proc.stderr) == [
        "cfremedy: warning: cfremedy.toml ignore[1]: playbook 'ssl_orign_cert' matches no playbook"
        " (did you mean 'ssl_origin_cert'?); the entry suppresses nothing",
        "cfremedy: warning: cfremedy.toml ignore[3]: playbook 'sll_*' matches no playbook;"
        " the entry suppresses nothing",
    ]


def test_an_ignore_entry_for_a_playbook_of_playbooks_dir_is_known(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        '"""Mine.\n\nAnti-pattern:\n    x\n\nFix:\n    y\n"""\n'
        'id = "mine"\ntitle = "t"\nseverity = "low"\nerror_codes = (520,)\n'
        'docs_url = "https://example.invalid"\nread_permissions = ("Zone Read",)\nwrite_permissions = ()\n'
        "uses_probes = False\n"
        "def detect(facts):\n    return []\n"
        "def plan_fix(facts, findings):\n    return []\n"
    )
    config = tmp_path / "cfremedy.toml"
    config.write_text('[[ignore]]\nplaybook = "mine"\nreason = "ours"\n')
    args = ["audit", "zone", "healthy.example", "--no-probe", "--config", str(config)]
    assert warnings(run([*args, "--playbooks-dir", str(tmp_path)], env).stderr) == []
    assert len(warnings(run(args, env).stderr)) == 1  # without the directory, `mine` is unknown


def test_unknown_cfremedy_variables_in_the_environment_and_dotenv(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CFREMEDY_INVENTRY=inventory.toml\nCFREMEDY_CONFIG=cfremedy.toml\nOTHER_TOOL_X=1\n")
    (tmp_path / "cfremedy.toml").write_text("")  # a known variable, read as always
    proc = run(
        ["audit", "zone", "healthy.example", "--no-probe"],
        {**env, "CFREMEDY_STAE_DIR": "/tmp/elsewhere", "cfremedy_resolver_port": "53"},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert warnings(proc.stderr) == [
        "cfremedy: warning: environment: CFREMEDY_STAE_DIR is not a cfremedy variable"
        " (did you mean 'CFREMEDY_STATE_DIR'?); it is ignored",
        "cfremedy: warning: environment: cfremedy_resolver_port is not a cfremedy variable"
        " (did you mean 'CFREMEDY_RESOLVER'?); it is ignored",
        "cfremedy: warning: .env: CFREMEDY_INVENTRY is not a cfremedy variable"
        " (did you mean 'CFREMEDY_INVENTORY'?); it is ignored",
    ]


def test_every_known_variable_is_quiet(env: dict[str, str], demo: SandboxSession, tmp_path: Path) -> None:
    """What `sandbox serve` exports, and every variable of the README's table, raise no warning."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    first_cells = [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`(CFREMEDY_[A-Z_]+)`", cell)}
    from cfremedy.settings import known_variables

    assert documented == {v for v in known_variables() if v.startswith("CFREMEDY_")}
    assert set(demo.env()) <= known_variables()
    proc = run(["playbooks", "list"], env)
    assert warnings(proc.stderr) == []
