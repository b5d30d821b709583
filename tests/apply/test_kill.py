"""`cfremedy apply` SIGKILLed at random points: the journal still tells the truth, rollback works.

Each round starts a fresh sandbox, applies a 10-change plan with the installed command, kills
it with SIGKILL at a random point (seeded) of its write phase, then runs `cfremedy history`,
which re-checks any
write left in doubt, and compares every journaled change with the sandbox's state. Finally
`cfremedy rollback --yes` must restore every setting and record to its pre-apply value.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfremedy.journal import FILENAME
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import parse_scenario
from tests.apply.test_apply import TOKEN, live, scenario, ten_change_plan
from tests.support import clean_env

CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))
LATENCY_MS = 25


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CFREMEDY, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("rounds", [6, pytest.param(20, marks=pytest.mark.long)])
def test_sigkill_at_random_points(tmp_path: Path, rounds: int) -> None:
    """Six kills in the default run; `pytest -m long` runs twenty (about 75 s on 2 cores)."""
    rng = random.Random(20261121)
    base_env = clean_env()
    outcomes: list[str] = []
    settled_later = 0
    window = None  # how long the write phase lasts, measured by the first round (not killed)
    for round_no in range(rounds + 1):
        spec = parse_scenario({**scenario(), "sandbox": {"latency_ms": LATENCY_MS}})
        with SandboxApi(spec) as api:
            plan = ten_change_plan(api)
            plan_file = tmp_path / f"plan{round_no}.json"
            plan.write(plan_file)
            env = {
                **base_env,
                "CLOUDFLARE_API_TOKEN": TOKEN,
                "CLOUDFLARE_BASE_URL": api.url,
                "CFREMEDY_STATE_DIR": str(tmp_path / f"state{round_no}"),
            }
            proc = subprocess.Popen(
                [CFREMEDY, "apply", str(plan_file), "--yes", "--no-probe"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Start-up time varies with the machine's load; the write phase is what matters, so
            # the random point is taken from when the journal shows the run has begun.
            writing_from = wait_for_run(Path(env["CFREMEDY_STATE_DIR"]), proc)
            if window is None:
                assert proc.wait(timeout=60) == 0
                window = time.monotonic() - writing_from
            else:
                time.sleep(rng.uniform(0.0, window))
                proc.send_signal(signal.SIGKILL)
                proc.wait()

            history = cli(["history", "--format", "json"], env)
            assert history.returncode == 0, history.stderr
            runs = json.loads(history.stdout)["runs"]
            (run,) = runs
            states = [c["state"] for c in run["changes"]]
            assert "sent" not in states, run  # history settled every in-doubt write
            for change, entry in zip(plan.changes, run["changes"], strict=True):
                expected = change.after if entry["state"] == "applied" else change.before
                assert live(api, change) == expected, (round_no, entry)
            outcomes.append(run["outcome"] + ":" + str(states.count("applied")))
            settled_later += sum("re-checked later" in c["detail"] for c in run["changes"])

            if "applied" in states:
                undo = cli(["rollback", run["id"], "--yes"], env)
                assert undo.returncode == 0, undo.stderr
            assert all(live(api, c) == c.before for c in plan.changes), round_no
    # The kills must really have landed mid-run, not only before or after it.
    print(f"write phase: {window:.2f} s; outcomes: {outcomes[1:]}; in-doubt writes settled by history: {settled_later}")
    assert outcomes[0] == "applied:10"
    # The kills must really have landed mid-run, not only before or after it.
    partial = [o for o in outcomes[1:] if o.startswith("interrupted") and not o.endswith(":0")]
    assert len(partial) >= rounds // 2, outcomes


def wait_for_run(state_dir: Path, proc: subprocess.Popen[bytes]) -> float:
    """The moment the apply process has journaled its run (monotonic clock)."""
    database = state_dir / FILENAME
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if database.exists():
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
                    if db.execute("SELECT count(*) FROM runs").fetchone()[0]:
                        return time.monotonic()
            except sqlite3.OperationalError:
                pass  # the schema is being created
        if proc.poll() is not None:
            raise AssertionError(f"apply exited with {proc.returncode} before starting a run")
        time.sleep(0.005)
    raise AssertionError("apply never started a run")
