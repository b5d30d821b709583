"""The installed `cfremedy apply`, `rollback` and `history` against the sandbox: the plan as a
contract, one run at a time, the refresh before the confirmation, `--only`, and history when the
API is down.

Each hostile plan below got through before (issue 13): a plan retargeted at another zone, a
downgrade the file called safe under a recomputed checksum, a target that walked to another API
path, a schema version nobody knows. Each is now refused, and the sandbox's log shows what was
sent: for malformed plans, not one request.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfremedy.cli import apply_cmd
from cfremedy.journal import ChangeState, Entry, Journal, Run, RunKind
from cfremedy.lock import HOLDER_NAME, LOCK_NAME, state_lock
from cfremedy.models import Change
from cfremedy.plan import MAX_PLAN_CHANGES, Plan, canonical_content, seal
from cfremedy.report import change_from_dict
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import FaultSpec, parse_scenario
from tests.apply.test_apply import OTHER, TOKEN, ZONE, hosts, live, ten_change_plan, two_zones, zone_id
from tests.apply.test_plan import sealed_findings
from tests.support import NO_API, clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
CLEAN_ENV = clean_env()
KEY = "ci-plan-key-0123456789abcdef"


@pytest.fixture
def api() -> Iterator[SandboxApi]:
    with SandboxApi(parse_scenario(two_zones(), "test")) as sandbox:
        yield sandbox


@pytest.fixture
def env(api: SandboxApi, tmp_path: Path) -> dict[str, str]:
    return {
        **CLEAN_ENV,
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_BASE_URL": api.url,
        "CFREMEDY_STATE_DIR": str(tmp_path / "state"),
    }


def cli(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([CFREMEDY, *args], env=env, capture_output=True, text=True, timeout=120, **kwargs)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("cfremedy: error:")]
    return line


def writes(api: SandboxApi) -> list[str]:
    return [f"{r.method} {r.path}" for r in api.requests if r.method != "GET"]


def resealed(data: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """The unkeyed checksum (or, with the key, the HMAC) recomputed over whatever the file says:
    what anyone who can edit a plan can do."""
    changes = [change_from_dict(c) for c in data["changes"]]
    content = canonical_content(data["zone"], data["zone_id"], changes, data["playbooks"], sealed_findings(data))
    return {**data, "checksum": seal(content, key.encode() if key else None)}


def plan_file(tmp_path: Path, data: dict[str, Any], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def settings_plan(api: SandboxApi) -> Plan:
    """The five setting changes of the ten-change plan: none lowers security."""
    return Plan.new(ZONE, zone_id(api), ten_change_plan(api).changes[:5])


# -- the plan file turned against its own safety checks ----------------------------------------------


def test_a_plan_retargeted_at_another_zone_is_refused(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    other = api.state.zone_by_name(OTHER).id
    data = settings_plan(api).to_dict()
    data["zone"], data["zone_id"] = OTHER, other  # both edited, checksum left alone
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--no-probe"], env)
    assert proc.returncode == 4
    assert "checksum mismatch: the zone, the changes or the findings were edited" in error_line(proc)
    assert api.requests == [] and api.state.setting_value(other, "ssl") == "full"


def test_a_retargeted_plan_with_a_recomputed_checksum_is_refused_by_the_live_zone(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    other = api.state.zone_by_name(OTHER).id
    data = resealed({**settings_plan(api).to_dict(), "zone_id": other})
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--no-probe"], env)
    assert proc.returncode == 4
    assert f"the plan is for zone {ZONE} but its zone id {other} is {OTHER}" in error_line(proc)
    assert writes(api) == [] and api.state.setting_value(other, "ssl") == "full"


def test_a_downgrade_under_a_recomputed_checksum_still_needs_allow_downgrade(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    data = settings_plan(api).to_dict()
    data["changes"][0].update(after="off", lowers_security=False)  # ssl full -> off, "safe"
    path = plan_file(tmp_path, resealed(data))
    api.clear_log()
    proc = cli(["apply", str(path), "--yes", "--no-probe"], env)
    assert proc.returncode == 4
    assert "setting:ssl would lower security (pass --allow-downgrade)" in error_line(proc)
    assert "LOWERS SECURITY" in proc.stdout  # the table shows apply's verdict, not the file's
    assert writes(api) == [] and api.state.setting_value(zone_id(api), "ssl") == "full"


@pytest.mark.parametrize(
    "target",
    ["setting:../dns_records/{record}", "setting:../../../user/tokens/x", "dns:{record}/../../settings/ssl"],
    ids=["setting-to-dns", "setting-to-user-tokens", "dns-to-settings"],
)
def test_a_target_outside_the_grammar_sends_no_request_at_all(
    api: SandboxApi, env: dict[str, str], tmp_path: Path, target: str
) -> None:
    record = hosts(api)[0]
    data = settings_plan(api).to_dict()
    data["changes"][1]["target"] = target.format(record=record.id)
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, resealed(data))), "--yes", "--no-probe", "--force"], env)
    assert proc.returncode == 2
    assert "is not a plan cfremedy can apply" in error_line(proc)
    assert api.requests == []
    assert proc.stdout == ""  # refused before it was printed


@pytest.mark.parametrize("version", [1, 2, 4, "3"])
def test_a_plan_of_an_unknown_schema_version_sends_no_request(
    api: SandboxApi, env: dict[str, str], tmp_path: Path, version: Any
) -> None:
    data = resealed({**settings_plan(api).to_dict(), "schema_version": version})
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--no-probe"], env)
    assert proc.returncode == 2
    assert "applies version 3 plans only" in error_line(proc)
    assert api.requests == [] and proc.stdout == ""


def test_a_plan_too_large_is_refused_before_it_is_printed(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    change = settings_plan(api).to_dict()["changes"][0]
    data = resealed({**settings_plan(api).to_dict(), "changes": [change] * (MAX_PLAN_CHANGES + 1)})
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--force"], env)
    assert proc.returncode == 2 and "more than the 1000 cfremedy applies" in error_line(proc)
    assert proc.stdout == "" and api.requests == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(checksum="sha256:" + "\u00e9" * 64), "damaged checksum: not sha256: or hmac:"),
        (lambda d: d["changes"][0].update(reason="\ud800"), "damaged plan: `changes[0].reason` is not valid Unicode"),
    ],
    ids=["non-ascii-checksum", "lone-surrogate"],
)
def test_a_damaged_plan_is_refused_like_a_forged_one_in_one_line(
    api: SandboxApi, env: dict[str, str], tmp_path: Path, edit: Any, message: str
) -> None:
    """Both ended in "internal error" (exit 70): a TypeError in `hmac.compare_digest`, a
    UnicodeEncodeError sealing the plan."""
    data = settings_plan(api).to_dict()
    edit(data)
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--no-probe"], env)
    assert proc.returncode == 4, proc.stderr
    assert message in error_line(proc) and "internal error" not in proc.stderr
    assert api.requests == [] and proc.stdout == ""


def test_a_control_character_in_a_plan_is_exit_2_naming_the_field_and_never_echoed(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    data = settings_plan(api).to_dict()
    data["changes"][2]["reason"] = "fine\x1b[2J\x1b]0;pwned\x07\x9b31m"  # clear screen, retitle, C1 CSI
    api.clear_log()
    proc = cli(["apply", str(plan_file(tmp_path, resealed(data))), "--yes", "--no-probe"], env)
    assert proc.returncode == 2
    assert "`changes[2].reason` contains a control character (U+001B)" in error_line(proc)
    assert not any(c in proc.stderr + proc.stdout for c in "\x1b\x07\x9b")
    assert api.requests == [] and proc.stdout == ""


def test_with_a_plan_key_only_plans_signed_with_it_are_applied(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    keyed = {**env, "CFREMEDY_PLAN_KEY": KEY}
    made = cli(["plan", "zone", ZONE, "-o", str(tmp_path / "made.json"), "--no-probe"], keyed)
    assert made.returncode == 0, made.stderr
    assert json.loads((tmp_path / "made.json").read_text())["checksum"].startswith("hmac:")
    assert "signed with CFREMEDY_PLAN_KEY" in made.stderr

    unsigned = settings_plan(api).to_dict()
    signed = settings_plan(api).to_dict(KEY.encode())
    forged = resealed({**signed, "changes": [{**signed["changes"][0], "after": "off"}, *signed["changes"][1:]]})
    api.clear_log()
    for data, extra, fragment in [
        (signed, {}, "signed with a CFREMEDY_PLAN_KEY (an hmac: checksum) and no key is set"),
        (signed, {"CFREMEDY_PLAN_KEY": "another-key-0123456789abcdef"}, "HMAC mismatch"),
        (unsigned, {"CFREMEDY_PLAN_KEY": KEY}, "CFREMEDY_PLAN_KEY is set: only plans made with the key are accepted"),
        (forged, {"CFREMEDY_PLAN_KEY": KEY}, "CFREMEDY_PLAN_KEY is set: only plans made with the key are accepted"),
    ]:
        proc = cli(["apply", str(plan_file(tmp_path, data)), "--yes", "--no-probe"], {**env, **extra})
        assert proc.returncode == 4, proc.stderr
        assert fragment in error_line(proc)
        assert KEY not in proc.stdout + proc.stderr
    assert api.requests == []
    short = cli(["apply", str(plan_file(tmp_path, signed)), "--yes"], {**env, "CFREMEDY_PLAN_KEY": "short"})
    assert short.returncode == 2 and "at least 16 characters" in error_line(short)

    applied = cli(["apply", str(plan_file(tmp_path, signed)), "--yes", "--no-probe"], keyed)
    assert applied.returncode == 0, applied.stderr
    assert api.state.setting_value(zone_id(api), "ssl") == "strict"


# -- --only, the refresh before the confirmation, the typed `yes` ---------------------------------------


def test_only_applies_the_selected_targets_and_the_journal_says_which(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    plan = ten_change_plan(api)
    path = tmp_path / "plan.json"
    plan.write(path)
    record = hosts(api)[0].id
    proc = cli(
        ["apply", str(path), "--yes", "--no-probe", "--only", "setting:ssl", "--only", f"dns:{record}"],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(2 of 10 change(s), --only" in proc.stdout
    assert f"(--only setting:ssl dns:{record})" in proc.stdout
    touched = {"setting:ssl", f"dns:{record}"}
    for change in plan.changes:
        assert live(api, change) == (change.after if change.target in touched else change.before), change.target
    (run,) = json.loads(cli(["history", "--format", "json"], env).stdout)["runs"]
    assert run["only"] == ["setting:ssl", f"dns:{record}"]
    assert [c["target"] for c in run["changes"]] == ["setting:ssl", f"dns:{record}"]
    assert run["plan_checksum"] == plan.checksum  # the whole plan's identity
    assert "apply --only" in cli(["history", "--format", "table"], env).stdout

    unknown = cli(["apply", str(path), "--yes", "--only", "setting:brotli"], env)
    assert unknown.returncode == 2
    assert "--only setting:brotli: the plan has no change to that target" in error_line(unknown)


def run_on_a_terminal(args: list[str], env: dict[str, str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run with stdin on a pseudo-terminal (so cfremedy asks) and type `answer`."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [CFREMEDY, *args], env=env, stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        os.close(follower)
        os.write(leader, answer.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("answer", ["y", "Y", "YES", "no", ""])
def test_only_a_typed_yes_approves(api: SandboxApi, env: dict[str, str], tmp_path: Path, answer: str) -> None:
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    api.clear_log()
    proc = run_on_a_terminal(["apply", str(path), "--no-probe"], env, answer)
    assert proc.returncode == 4, proc.stderr
    assert "Only 'yes' will be accepted to approve." in proc.stderr
    # (the typed line's newline went to the terminal, not to the captured stderr)
    assert "cfremedy: error: cancelled at the prompt (only 'yes' approves); nothing was changed" in proc.stderr
    assert writes(api) == []


def test_a_typed_yes_applies(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    proc = run_on_a_terminal(["apply", str(path), "--no-probe"], env, "yes")
    assert proc.returncode == 0, proc.stderr
    assert api.state.setting_value(zone_id(api), "ssl") == "strict"


def test_drift_is_shown_before_the_confirmation_and_only_writable_changes_are_asked_about(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    api.state.set_setting(zone_id(api), "ssl", "flexible")  # someone changed it since the plan
    api.state.set_setting(zone_id(api), "always_use_https", "on")  # someone did it already
    proc = run_on_a_terminal(["apply", str(path), "--no-probe"], env, "no")
    assert proc.returncode == 4
    # What the person was asked to confirm: the drift, and a question about 3 changes, not 5.
    assert "Refreshed against the live zone: 3 to change, 1 drifted (left alone), 1 already done." in proc.stdout
    assert re.search(r"DRIFTED\s+setting:ssl\s+full -> strict\s+live value is 'flexible'", proc.stdout)
    assert re.search(r"ALREADY DONE\s+setting:always_use_https", proc.stdout)
    assert "Apply 3 change(s) to apply.example?" in proc.stderr
    assert writes(api) == []


def test_nothing_to_write_means_no_question(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    assert cli(["apply", str(path), "--yes", "--no-probe"], env).returncode == 0
    api.clear_log()
    again = cli(["apply", str(path), "--no-probe"], env)  # no --yes, stdin not a terminal
    assert again.returncode == 0, again.stderr
    assert "Refreshed against the live zone: 0 to change, 5 already done." in again.stdout
    assert "no-op" in again.stdout and writes(api) == []


# -- a write that lands, then an answer that is lost -------------------------------------------------


@pytest.mark.parametrize("fault", ["500_after", "reset_after", "bad_byte"])
@pytest.mark.parametrize(
    ("method", "path", "what"),
    [("PATCH", r"/settings/ssl$", "setting:ssl"), ("POST", r"/dns_records/batch$", "DNS batch")],
    ids=["setting", "dns-batch"],
)
def test_a_write_that_landed_before_its_answer_was_lost_is_read_back_as_applied_and_sent_once(
    api: SandboxApi,
    env: dict[str, str],
    tmp_path: Path,
    fault: str,
    method: str,
    path: str,
    what: str,
) -> None:
    """The sandbox runs the write, then answers 500, resets the connection, or answers 200 with
    a byte that is not UTF-8: the client cannot tell it from a write that failed. The journal
    holds it in doubt (`sent`), the read-back finds the planned value, and it is recorded as
    applied (so a rollback undoes it), never written again."""
    plan = ten_change_plan(api)
    plan_path = tmp_path / "plan.json"
    plan.write(plan_path)
    api.clear_log()
    api.set_faults([FaultSpec(kind=fault, method=method, path=path, count=1)])
    proc = cli(["apply", str(plan_path), "--yes", "--no-probe"], env)
    api.set_faults([])
    assert proc.returncode == 0, proc.stderr
    assert [r.fault for r in api.requests if r.fault] == [fault]  # the fault did fire, once
    zid = zone_id(api)
    once = [f"PATCH /zones/{zid}/settings/{c.key}" for c in plan.changes[:5]] + [f"POST /zones/{zid}/dns_records/batch"]
    assert sorted(writes(api)) == sorted(once)  # each change written once: the faulted one too
    assert all(live(api, c) == c.after for c in plan.changes)
    with Journal.in_state_dir(Path(env["CFREMEDY_STATE_DIR"])) as journal:
        (run,) = journal.runs()
    assert run.outcome == "applied" and not run.in_doubt
    assert {e.change.target: e.state for e in run.entries} == {c.target: ChangeState.APPLIED for c in plan.changes}
    # the client saw no usable answer, so the read-back, not the answer, settled the write
    unread = "an answer to the request" if fault == "bad_byte" else "no answer to the request"
    assert f"cfremedy: {what}: {unread}" in proc.stderr
    assert "it may or may not have been applied" in proc.stderr
    assert "in doubt" not in proc.stderr


# -- one run at a time ------------------------------------------------------------------------------------


def start_apply(path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CFREMEDY, "apply", str(path), "--yes", "--no-probe", *extra],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_holder(state_dir: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return dict(json.loads((state_dir / HOLDER_NAME).read_text()))
        except (OSError, ValueError):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
    raise AssertionError("the first apply never took the lock")


def test_a_second_apply_waits_then_refuses_naming_the_holder(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"
    ten_change_plan(api).write(path)
    api.latency_ms = 150  # the first run takes seconds
    first = start_apply(path, env)
    holder = wait_for_holder(Path(env["CFREMEDY_STATE_DIR"]), first)
    assert holder["pid"] == first.pid and "cfremedy apply" in holder["command"]
    started = time.monotonic()
    second = cli(["apply", str(path), "--yes", "--no-probe", "--lock-timeout", "0.5"], env)
    assert second.returncode == 4, second.stderr
    assert time.monotonic() - started < 30
    line = error_line(second)
    assert f"is locked by pid {first.pid}" in line and "cfremedy apply" in line and "waited 0.5 s" in line
    assert first.wait(timeout=120) == 0, first.communicate()
    api.latency_ms = 0
    runs = json.loads(cli(["history", "--format", "json"], env).stdout)["runs"]
    assert [r["outcome"] for r in runs] == ["applied"]  # the refused run never started


def test_the_same_plan_applied_twice_at_once_writes_each_change_once(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"
    plan = ten_change_plan(api)
    plan.write(path)
    api.clear_log()
    api.latency_ms = 30
    runs = [start_apply(path, env, "--lock-timeout", "120") for _ in range(2)]
    codes = [p.wait(timeout=180) for p in runs]
    api.latency_ms = 0
    assert codes == [0, 0], [p.communicate() for p in runs]
    # five settings, one PATCH each, and the five records in one batch: once, not twice
    assert sorted(writes(api)) == sorted(
        [f"PATCH /zones/{zone_id(api)}/settings/{c.key}" for c in plan.changes[:5]]
        + [f"POST /zones/{zone_id(api)}/dns_records/batch"]
    )
    history = json.loads(cli(["history", "--format", "json"], env).stdout)["runs"]
    assert sorted(r["outcome"] for r in history) == ["applied", "no-op"]


# -- history when it cannot settle what is in doubt --------------------------------------------------------


def in_doubt_run(api: SandboxApi, state_dir: Path) -> str:
    plan = Plan.new(ZONE, zone_id(api), ten_change_plan(api).changes[:2])
    with Journal.in_state_dir(state_dir) as journal:
        run_id = journal.start_run(RunKind.APPLY, ZONE, zone_id(api), plan.checksum, plan.changes)
        journal.mark(run_id, [0, 1], ChangeState.SENT)  # then the process died
    return run_id


def test_history_with_the_api_down_still_lists_the_runs_as_unsettled(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    run_id = in_doubt_run(api, Path(env["CFREMEDY_STATE_DIR"]))
    # nothing listens on port 9; a 2 s budget keeps the retries of each request short
    down = {**env, "CLOUDFLARE_BASE_URL": NO_API, "CFREMEDY_API_TIMEOUT": "2"}
    proc = cli(["history", "--format", "json"], down)
    assert proc.returncode == 0, proc.stderr
    (run,) = json.loads(proc.stdout)["runs"]
    assert (run["id"], run["outcome"], run["unsettled"]) == (run_id, "in doubt", 2)
    assert [c["state"] for c in run["changes"]] == ["sent", "sent"]
    assert "warning: could not re-check 2 change(s) in doubt against the API" in proc.stderr
    assert "shown as unsettled" in proc.stderr
    table = cli(["history", "--format", "table"], down)
    assert table.returncode == 0 and "in doubt (2 unsettled)" in table.stdout
    settled = cli(["history", "--format", "json"], env)  # the API is back
    assert json.loads(settled.stdout)["runs"][0]["unsettled"] == 0


def test_history_leaves_a_running_applys_writes_alone(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    state_dir = Path(env["CFREMEDY_STATE_DIR"])
    in_doubt_run(api, state_dir)
    api.clear_log()
    with state_lock(state_dir, command="cfremedy apply plan.json --yes"):  # an apply in flight
        proc = cli(["history", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert "(`cfremedy apply plan.json --yes`, since" in proc.stderr
    assert "is applying right now: 2 change(s) in doubt are shown unsettled" in proc.stderr
    assert json.loads(proc.stdout)["runs"][0]["unsettled"] == 2
    assert api.requests == []


@pytest.mark.parametrize("blocked", [LOCK_NAME, HOLDER_NAME])
def test_a_state_directory_that_cannot_be_locked_is_a_clean_usage_error_for_history_and_apply(
    api: SandboxApi, env: dict[str, str], tmp_path: Path, blocked: str
) -> None:
    """A directory where the lock (or its holder file) belongs: `history` settling in-doubt
    writes ended in "internal error" (exit 70) when the holder file could not be cleaned up."""
    state_dir = Path(env["CFREMEDY_STATE_DIR"])
    in_doubt_run(api, state_dir)
    (state_dir / blocked).mkdir()
    api.clear_log()
    proc = cli(["history", "--format", "json"], env)
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr
    assert f"state directory {state_dir}" in error_line(proc) or str(state_dir / blocked) in error_line(proc)
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    applied = cli(["apply", str(path), "--yes", "--no-probe"], env)
    assert applied.returncode == 2 and "internal error" not in applied.stderr
    error_line(applied)
    assert writes(api) == []


def test_rollback_takes_the_lock_too(api: SandboxApi, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    settings_plan(api).write(path)
    applied = cli(["apply", str(path), "--yes", "--no-probe"], env)
    run_id = re.search(r"cfremedy rollback (\S+)", applied.stdout).group(1)  # type: ignore[union-attr]
    with state_lock(Path(env["CFREMEDY_STATE_DIR"]), command="cfremedy apply other.json"):
        refused = cli(["rollback", run_id, "--yes", "--lock-timeout", "0"], env)
    assert refused.returncode == 4 and "`cfremedy apply other.json`" in error_line(refused)
    assert api.state.setting_value(zone_id(api), "ssl") == "strict"
    undo = cli(["rollback", run_id, "--yes"], env)
    assert undo.returncode == 0, undo.stderr
    assert "LOWERS SECURITY" in undo.stdout  # strict -> full restores the old value, said so
    assert api.state.setting_value(zone_id(api), "ssl") == "full"


def test_rollback_refuses_a_run_with_writes_still_in_doubt_naming_them(
    api: SandboxApi, env: dict[str, str], tmp_path: Path
) -> None:
    """Rollback used to undo only what was known to have landed and leave the in-doubt writes
    as they were, unsaid (or say "applied nothing" when all were in doubt): a guess."""
    state_dir = Path(env["CFREMEDY_STATE_DIR"])
    run_id = in_doubt_run(api, state_dir)  # ssl and origin_max_http_version sent, answer never seen
    with Journal.in_state_dir(state_dir) as journal:
        journal.mark(run_id, 0, ChangeState.APPLIED)  # the ssl write is known to have landed
    api.state.set_setting(zone_id(api), "ssl", "strict")
    # the in-doubt setting cannot be read now: every answer for it is a captive portal's page
    api.set_faults([FaultSpec(kind="html", method="GET", path=r"/settings/origin_max_http_version$")])
    api.clear_log()
    proc = cli(["rollback", run_id, "--yes"], env)
    assert proc.returncode == 4, proc.stderr
    line = error_line(proc)
    assert f"refusing to roll back: 1 change(s) of run {run_id} in doubt (setting:origin_max_http_version)" in line
    assert "nothing was sent" in line
    assert f"run `cfremedy history` to re-check them against Cloudflare, then `cfremedy rollback {run_id}`" in (
        proc.stderr
    )
    assert writes(api) == [] and api.state.setting_value(zone_id(api), "ssl") == "strict"
    api.set_faults([])  # the value can be read again: history settles it, and rollback goes ahead
    assert cli(["history", "--format", "json"], env).returncode == 0
    undo = cli(["rollback", run_id, "--yes"], env)
    assert undo.returncode == 0, undo.stderr
    assert api.state.setting_value(zone_id(api), "ssl") == "full"


def test_the_apply_report_names_writes_in_doubt_and_points_to_history(capsys: pytest.CaptureFixture[str]) -> None:
    change = Change("test", "setting:ssl", "full", "strict", "test")
    run = Run(
        id="20261121T120301Z-3f9a2c",
        kind=RunKind.APPLY,
        zone=ZONE,
        zone_id="0" * 32,
        plan_checksum="sha256:" + "0" * 64,
        started_at="2026-11-21T12:03:01Z",
        finished_at="2026-11-21T12:03:09Z",
        rolls_back=None,
        entries=(Entry(0, change, ChangeState.SENT, "could not read the value back (boom)"),),
    )
    assert apply_cmd._report(apply_cmd._Outcome(run)) == 4
    err = capsys.readouterr().err
    assert "warning: 1 change(s) of run 20261121T120301Z-3f9a2c in doubt (setting:ssl)" in err
    assert "`cfremedy history` re-checks them" in err
    assert "`cfremedy rollback 20261121T120301Z-3f9a2c` refuses until it has" in err


def test_the_resealing_helper_reseals_what_the_file_says(api: SandboxApi) -> None:
    """A sanity check of the helper the tests above rely on: it reseals what the file says."""
    data = settings_plan(api).to_dict()
    assert resealed(data)["checksum"] == data["checksum"]
    assert Plan.from_dict(resealed({**data, "changes": data["changes"][:1]})).changes == (
        Change("test", "setting:ssl", "full", "strict", "test"),
    )
