"""Hostile and odd input, end to end: nothing crashes, hangs or leaks.

Every case runs the installed `cfremedy` against the sandbox, with the fault injection the
sandbox offers (odd values in real answers, endless pages, trickled bodies, HTML pages) or
with a local file or environment a user could really have (a token read from a CRLF file, a
`.env` in Latin-1, `--inventory /dev/zero`, a damaged state database). The rules they hold:
bad local input is exit 2 and bad API answers exit 3, each with one line naming the input or
the endpoint and no traceback; every wait is bounded; the token appears in no output, file or
journal, in any form.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cfremedy.sandbox.scenario import FaultSpec, TokenSpec, load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import one_clear_line, run

SECRET = "hostile-5ecret-never-shown-9c1d"
NO_PROBE = ["--no-probe", "--format", "json"]


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxSession]:
    scenario = load_scenario("demo")
    extra = (TokenSpec(name="secret", value=SECRET, permissions=scenario.tokens[0].permissions),)
    with SandboxSession(scenario.model_copy(update={"tokens": scenario.tokens + extra})) as session:
        yield session


@pytest.fixture
def env(demo: SandboxSession, tmp_path: Path) -> dict[str, str]:
    """The sandbox's environment with the secret token and a state directory of this test's own."""
    demo.api.clear_log()
    demo.api.set_faults([])
    return {**demo.env(), "CLOUDFLARE_API_TOKEN": SECRET, "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


def everything_written(proc: Any, env: dict[str, str], *files: Path) -> str:
    """stdout, stderr, the given files and every file of the state directory (the journal)."""
    texts = [proc.stdout, proc.stderr]
    state = Path(env["CFREMEDY_STATE_DIR"])
    for path in [*files, *(state.rglob("*") if state.exists() else [])]:
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


# -- the token -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [SECRET + "\r", SECRET + "\r\n", f"  {SECRET}\t", f"\n{SECRET}"],
    ids=["trailing-cr", "crlf", "spaces-and-tab", "leading-newline"],
)
def test_surrounding_whitespace_is_dropped_from_the_token(
    env: dict[str, str], tmp_path: Path, token: str, demo: SandboxSession
) -> None:
    report = tmp_path / "report.json"
    proc = run(
        ["audit", "zone", "healthy.example", "-vv", *NO_PROBE, "-o", str(report)],
        {**env, "CLOUDFLARE_API_TOKEN": token},
    )
    assert proc.returncode == 0, proc.stderr
    assert {r.token for r in demo.api.requests} == {"secret"}  # the stripped token authenticated
    assert SECRET not in everything_written(proc, env, report)


@pytest.mark.parametrize(
    "token",
    [SECRET[:9] + "\r" + SECRET[9:], SECRET + "é", SECRET[:9] + " " + SECRET[9:], SECRET + "\x1b[2J"],
    ids=["inner-cr", "non-ascii", "inner-space", "escape-sequence"],
)
def test_a_token_with_control_or_non_ascii_characters_is_refused_unseen(
    env: dict[str, str], token: str, demo: SandboxSession
) -> None:
    proc = run(["audit", "zone", "blog.example", "-vv", *NO_PROBE], {**env, "CLOUDFLARE_API_TOKEN": token})
    assert proc.returncode == 2
    assert "CLOUDFLARE_API_TOKEN" in one_clear_line(proc)
    assert demo.api.requests == []  # refused before any request
    written = everything_written(proc, env)
    assert SECRET[:9] not in written and SECRET[9:] not in written


def test_a_token_from_a_crlf_dotenv_file_works_and_stays_unseen(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(f"CLOUDFLARE_API_TOKEN={SECRET}\r\n".encode())
    without = {k: v for k, v in env.items() if k != "CLOUDFLARE_API_TOKEN"}
    proc = run(["audit", "zone", "healthy.example", "-vv", *NO_PROBE], without, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in everything_written(proc, env)


def test_credentials_in_the_base_url_are_refused_unseen(env: dict[str, str], demo: SandboxSession) -> None:
    url = demo.api.url.replace("http://", f"http://admin:{SECRET}@")
    proc = run(["audit", "zone", "blog.example", *NO_PROBE], {**env, "CLOUDFLARE_BASE_URL": url})
    assert proc.returncode == 2
    assert "CLOUDFLARE_BASE_URL" in one_clear_line(proc) and "user name or password" in proc.stderr
    assert demo.api.requests == []
    assert SECRET not in everything_written(proc, env)


def test_a_token_the_api_echoes_back_is_masked_in_every_sink(
    env: dict[str, str], demo: SandboxSession, tmp_path: Path
) -> None:
    """A proxy or an API error that quotes the request's headers: the message reaches stderr,
    the report on stdout, the report file and the journal, all of them masked."""
    echo = {"code": 6003, "message": f"Invalid request headers: Authorization: Bearer {SECRET}\r"}
    demo.api.set_faults([FaultSpec(kind="body", path="/dns_records$", body={"success": False, "errors": [echo]})])
    report = tmp_path / "report.json"
    proc = run(["audit", "zone", "blog.example", *NO_PROBE, "-o", str(report)], env)
    assert proc.returncode == 3
    assert "Invalid request headers" in one_clear_line(proc) and "********" in proc.stderr
    (zone,) = json.loads(report.read_text())["zones"]
    assert "********" in zone["errors"][0]["message"]
    assert (Path(env["CFREMEDY_STATE_DIR"]) / "cfremedy.sqlite3").exists()  # the failed audit was stored
    assert SECRET not in everything_written(proc, env, report)


def test_debug_logs_show_no_cookie_and_no_library_traceback_below_vvv(
    env: dict[str, str], demo: SandboxSession
) -> None:
    cookie = demo.api.cookie.partition("=")[2]
    demo.api.set_faults([FaultSpec(kind="reset", path="/settings$", count=1)])  # handled: retried once
    proc = run(["audit", "zone", "healthy.example", "-vv", *NO_PROBE], env)
    assert proc.returncode == 0, proc.stderr
    assert "HTTP Response" in proc.stderr and "set-cookie" in proc.stderr.lower()  # the SDK logged headers...
    assert cookie not in proc.stderr  # ...with the cookie's value masked
    assert "Traceback" not in proc.stderr and "retrying" in proc.stderr
    sources = {line.split(":")[0] for line in proc.stderr.splitlines()}
    assert {"cfremedy.gateway", "cloudflare._base_client", "httpx"} <= sources
    assert not sources & {"httpcore.connection", "httpcore.http11", "asyncio", "hpack.hpack"}  # -vvv's
    demo.api.set_faults([FaultSpec(kind="reset", path="/settings$", count=1)])
    proc = run(["audit", "zone", "healthy.example", "-vvv", *NO_PROBE], env)
    assert "Traceback" in proc.stderr and cookie not in proc.stderr
    assert "httpcore.http11" in {line.split(":")[0] for line in proc.stderr.splitlines()}  # raw headers, masked


# -- answers the API should never give ------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, fragment",
    [
        (FaultSpec(kind="odd", path="/dns_records$", put={"/result/0/ttl": "auto"}), "DNS records of blog.example"),
        (FaultSpec(kind="odd", path="/dns_records$", drop=("/result/0/id",)), "DNS records of blog.example"),
        (FaultSpec(kind="odd", path="/dns_records$", put={"/result": None}), "DNS records of blog.example"),
        (FaultSpec(kind="odd", path="^/zones$", put={"/result": None}), "zone blog.example"),
        (FaultSpec(kind="odd", path="^/zones$", drop=("/result/0/name",)), "zone blog.example"),
        (FaultSpec(kind="odd", path="^/zones$", put={"/success": False}), "success: false"),
        (FaultSpec(kind="odd", path="/settings$", put={"/result": None}), "settings of blog.example"),
        (FaultSpec(kind="html", path="^/zones$"), "not a Cloudflare API response"),
        (FaultSpec(kind="body", path="^/zones$", body=[1, 2]), "not a Cloudflare API response"),
        (FaultSpec(kind="body", path="/dns_records$", body={"result": [{"id": 7}]}), "DNS records of blog.example"),
    ],
    ids=[
        "ttl-auto",
        "record-without-id",
        "records-null",
        "zones-null",
        "zone-without-name",
        "success-false-200",
        "settings-null",
        "html-200",
        "not-an-envelope",
        "record-not-an-object",
    ],
)
def test_an_unusable_answer_is_exit_3_naming_the_endpoint(
    env: dict[str, str], demo: SandboxSession, fault: FaultSpec, fragment: str
) -> None:
    demo.api.set_faults([fault])
    proc = run(["audit", "zone", "blog.example", *NO_PROBE], env)
    assert proc.returncode == 3, proc.stderr
    assert fragment in one_clear_line(proc)


def test_an_unusable_zone_list_fails_an_account_audit_with_exit_3(env: dict[str, str], demo: SandboxSession) -> None:
    demo.api.set_faults([FaultSpec(kind="odd", path="^/zones$", put={"/result/1": "not a zone"})])
    proc = run(["audit", "account", *NO_PROBE], env)
    assert proc.returncode == 3
    assert "zone list" in one_clear_line(proc)


@pytest.mark.parametrize(
    "args, path, what",
    [
        (["audit", "account"], "^/zones$", "the zone list"),
        (["audit", "zone", "blog.example"], "/dns_records$", "the DNS records of blog.example"),
    ],
    ids=["zones", "dns-records"],
)
def test_a_list_that_never_ends_is_stopped_with_a_clear_error(
    env: dict[str, str], demo: SandboxSession, args: list[str], path: str, what: str
) -> None:
    demo.api.set_faults([FaultSpec(kind="endless", path=path)])
    started = time.monotonic()
    proc = run([*args, *NO_PROBE], env)
    assert proc.returncode == 3
    line = one_clear_line(proc)
    assert what in line and "inventing pages" in line
    assert time.monotonic() - started < 15
    pages = [r for r in demo.api.requests if r.fault == "endless"]
    assert 5 <= len(pages) <= 8  # stopped within a few pages, not after minutes


# -- time ----------------------------------------------------------------------------------------


def test_a_trickled_answer_meets_the_whole_request_deadline(env: dict[str, str], demo: SandboxSession) -> None:
    """20 bytes a second keeps every single read under httpx's timeout; the deadline is for the
    whole answer."""
    demo.api.set_faults([FaultSpec(kind="trickle", path="^/zones$", bytes_per_second=20)])
    started = time.monotonic()
    proc = run(["audit", "zone", "blog.example", *NO_PROBE], {**env, "CFREMEDY_API_TIMEOUT": "2"})
    elapsed = time.monotonic() - started
    assert proc.returncode == 3
    line = one_clear_line(proc)
    assert "did not answer in time" in line and "no complete answer within 2 s" in line
    assert elapsed < 8


@contextmanager
def blackholed_port() -> Iterator[int]:
    """A loopback port that never completes a connection: its accept queue is full, so the
    kernel drops every further SYN, exactly like a firewall that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(server.getsockname())
            fillers.append(filler)
        time.sleep(0.2)
        yield server.getsockname()[1]
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def blackholed_run(env: dict[str, str], timeout: str | None) -> tuple[str, float, int]:
    with blackholed_port() as port:
        url = f"http://127.0.0.1:{port}/client/v4"
        extra = {"CLOUDFLARE_BASE_URL": url, **({"CFREMEDY_API_TIMEOUT": timeout} if timeout else {})}
        started = time.monotonic()
        proc = run(["audit", "zone", "blog.example", *NO_PROBE], {**env, **extra}, timeout=90)
        elapsed = time.monotonic() - started
    assert proc.returncode == 3
    line = one_clear_line(proc)
    assert f"127.0.0.1:{port}" in line and "connect timed out" in line
    return line, elapsed, port


def test_a_blackholed_api_gives_up_within_the_deadline_saying_what_it_tried(env: dict[str, str]) -> None:
    """With a 4 s budget: connections get 1 s each, tried three times (0.5 s and 1 s apart)."""
    line, elapsed, _ = blackholed_run(env, "4")
    assert "3 attempt(s) in 4 s" in line or "3 attempt(s) in 5 s" in line
    assert 3.5 < elapsed < 9


@pytest.mark.long
def test_a_blackholed_api_gives_up_within_about_30_seconds_by_default(env: dict[str, str]) -> None:
    line, elapsed, _ = blackholed_run(env, None)
    assert "4 attempt(s) in" in line
    assert 20 < elapsed < 35


# -- local input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"CLOUDFLARE_API_TOKEN=caf\xe9\n", "not UTF-8"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary content"),
        (None, "not a regular file"),
    ],
    ids=["latin-1", "binary", "directory"],
)
def test_an_unreadable_dotenv_is_exit_2(
    env: dict[str, str], tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    dotenv = tmp_path / ".env"
    if content is None:
        dotenv.mkdir()
    else:
        dotenv.write_bytes(content)
    proc = run(["audit", "zone", "blog.example", *NO_PROBE], env, cwd=tmp_path)
    assert proc.returncode == 2
    line = one_clear_line(proc)
    assert ".env" in line and fragment in line


def write_inventory(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "inventory.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    "text, fragment",
    [
        (b'[zones."blog.example".origins]\n"www.blog.example" = ["caf\xe9"]\n', "UTF-8"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ('[zones."blog\\u0007.example"]\n', "control character"),
        ('[zones."blog..example"]\n', "empty label"),
        (f'[zones."{"a" * 64}.example"]\n', "longer than 63"),
        (f'[zones."{"abcdefghi." * 26}example"]\n', "at most 253"),
        ('[zones."blog.example".origins]\n"www blog.example" = ["192.0.2.1"]\n', "control character"),
    ],
    ids=["latin-1", "nested", "bell-in-zone", "empty-label", "long-label", "long-name", "space-in-host"],
)
def test_a_bad_inventory_is_exit_2_naming_the_file(
    env: dict[str, str], tmp_path: Path, text: str | bytes, fragment: str, demo: SandboxSession
) -> None:
    path = write_inventory(tmp_path, text)
    proc = run(["audit", "zone", "blog.example", *NO_PROBE, "--inventory", str(path)], env)
    assert proc.returncode == 2, proc.stderr
    line = one_clear_line(proc)
    assert str(path) in line and fragment in line
    assert "\x07" not in proc.stderr


def test_an_international_inventory_name_means_the_zone_the_api_lists(env: dict[str, str], tmp_path: Path) -> None:
    """`café.example` in the inventory is the zone the API lists as `xn--caf-dma.example`."""
    from cfremedy.inventory import load_inventory

    path = write_inventory(tmp_path, '[zones."café.example".origins]\n"www.café.example" = ["192.0.2.1"]\n')
    inventory = load_inventory(path)
    assert inventory.for_zone("xn--caf-dma.example").origins_for("www.xn--caf-dma.example") == ("192.0.2.1",)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom"])
def test_an_endless_inventory_is_refused_without_reading_it_all(env: dict[str, str], special: str) -> None:
    started = time.monotonic()
    proc = run(["audit", "zone", "blog.example", *NO_PROBE, "--inventory", special], env, timeout=20)
    assert proc.returncode == 2
    assert special in one_clear_line(proc)
    assert time.monotonic() - started < 10


def test_an_oversized_inventory_is_refused_before_it_is_parsed(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    with path.open("wb") as handle:  # sparse: 40 MiB that cost nothing to write
        handle.truncate(40 * 1024 * 1024)
    proc = run(["audit", "zone", "blog.example", *NO_PROBE, "--inventory", str(path)], env)
    assert proc.returncode == 2
    line = one_clear_line(proc)
    assert str(path) in line and "MiB" in line


def damaged_state(env: dict[str, str]) -> None:
    state = Path(env["CFREMEDY_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "cfremedy.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)


def test_a_damaged_state_database_still_gives_the_audit_report(env: dict[str, str]) -> None:
    damaged_state(env)
    proc = run(["audit", "zone", "healthy.example", *NO_PROBE], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["zones"][0]["name"] == "healthy.example"
    assert "Traceback" not in proc.stderr
    assert "warning: this audit will not be stored in history" in proc.stderr


def test_a_damaged_state_database_is_exit_2_for_history(env: dict[str, str]) -> None:
    damaged_state(env)
    proc = run(["history"], env)
    assert proc.returncode == 2
    assert "cfremedy.sqlite3" in one_clear_line(proc)


def test_the_journal_reports_and_plans_are_readable_by_their_owner_only(env: dict[str, str], tmp_path: Path) -> None:
    """A pre-existing world-readable state directory and files do not make them readable."""
    state = Path(env["CFREMEDY_STATE_DIR"])
    state.mkdir(mode=0o755)
    (state / "cfremedy.sqlite3").touch(mode=0o644)
    report, plan = tmp_path / "report.json", tmp_path / "plan.json"
    report.touch(mode=0o644)
    assert run(["audit", "zone", "blog.example", *NO_PROBE, "-o", str(report)], env).returncode == 1
    assert run(["plan", "zone", "blog.example", "--no-probe", "-o", str(plan)], env).returncode == 0
    written = [report, plan, *state.iterdir()]
    assert "cfremedy.sqlite3" in {p.name for p in written}  # (its -wal, when present, is checked too)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: "0o600" for p in written}


def test_a_damaged_state_database_stops_apply_and_rollback_before_any_write(
    env: dict[str, str], demo: SandboxSession, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"  # shop.example's origin_ip change: a plan with a write in it
    assert run(["plan", "zone", "shop.example", "--no-probe", "-o", str(plan)], env).returncode == 0
    damaged_state(env)
    demo.api.clear_log()
    for args in (["apply", str(plan), "--yes"], ["rollback", "20261206T000000Z-abcdef", "--yes"]):
        proc = run(args, env)
        assert proc.returncode == 2, proc.stderr
        assert "cfremedy.sqlite3" in one_clear_line(proc) and "not a usable cfremedy database" in proc.stderr
    assert [r for r in demo.api.requests if r.method != "GET"] == []


@pytest.mark.parametrize("command", [["audit", "zone", "blog.example"], ["audit", "account"]])
def test_an_unusable_baseline_fails_before_the_audit(
    env: dict[str, str], demo: SandboxSession, tmp_path: Path, command: list[str]
) -> None:
    """A typo in --baseline after a twenty-minute account audit would lose the report."""
    (tmp_path / "not-a-report.json").write_text('{"hello": 1}')
    for baseline, fragment in (
        (tmp_path / "missing.json", "missing.json"),
        (tmp_path / "not-a-report.json", "not a cfremedy JSON report"),
    ):
        demo.api.clear_log()
        proc = run([*command, *NO_PROBE, "--baseline", str(baseline)], env)
        assert proc.returncode == 2
        assert fragment in one_clear_line(proc)
        assert demo.api.requests == []


def test_page_rules_of_an_odd_shape_cost_precision_not_the_audit(env: dict[str, str], demo: SandboxSession) -> None:
    """A Page Rules answer that cannot be read (here `actions: 5`) is the API's failure to
    answer that one question: the zone is judged without Page Rules, and the report says so."""
    demo.api.set_faults([FaultSpec(kind="odd", path="/pagerules$", put={"/result": [{"id": "p", "actions": 5}]})])
    proc = run(["audit", "zone", "blog.example", *NO_PROBE], env)
    assert proc.returncode in (0, 1), proc.stderr
    (zone,) = json.loads(proc.stdout)["zones"]
    assert any("Page Rules of blog.example" in e["message"] for e in zone["errors"]), zone["errors"]


def test_the_token_never_travels_in_clear_text_beyond_this_machine(env: dict[str, str], demo: SandboxSession) -> None:
    proc = run(
        ["audit", "zone", "blog.example", *NO_PROBE], {**env, "CLOUDFLARE_BASE_URL": "http://api.example.net/client/v4"}
    )
    assert proc.returncode == 2 and "clear text" in one_clear_line(proc)
    assert demo.api.requests == []


def test_an_api_address_from_a_dotenv_is_said(env: dict[str, str], demo: SandboxSession, tmp_path: Path) -> None:
    """An untrusted checkout's `.env` could send the token elsewhere: the run says where it goes."""
    (tmp_path / ".env").write_text(f"CLOUDFLARE_BASE_URL={demo.api.url}\n")
    proc = run(["audit", "zone", "healthy.example", *NO_PROBE], env, cwd=tmp_path, drop=("CLOUDFLARE_BASE_URL",))
    assert proc.returncode == 0, proc.stderr
    assert f"note: the API is {demo.api.url} (CLOUDFLARE_BASE_URL from {tmp_path / '.env'})" in proc.stderr
