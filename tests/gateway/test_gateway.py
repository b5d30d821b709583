"""The gateway with the real `cloudflare` SDK over real HTTP: the sandbox, or a hostile server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from cfremedy.errors import (
    EXIT_API,
    ApiError,
    ApiUnreachable,
    AuthenticationFailed,
    MissingPermission,
    RateLimitExhausted,
    WriteNotSent,
    WriteOutcomeUnknown,
    ZoneNotFound,
)
from cfremedy.gateway import CloudflareGateway, RetryPolicy, WritableGateway
from cfremedy.models import Zone, ZoneSnapshot
from cfremedy.ratelimit import Rate, RateLimiter
from cfremedy.sandbox.scenario import FaultSpec

TOKEN = "test-token-5f1b9c"
READ_ONLY = ["Zone Read", "Zone Settings Read", "DNS Read"]


def scenario(records: int = 0, **zone: Any) -> dict[str, Any]:
    return {
        "tokens": [
            {"name": "full", "value": TOKEN, "permissions": READ_ONLY},
            {"name": "no-dns", "value": "no-dns-token", "permissions": ["Zone Read", "Zone Settings Read"]},
        ],
        "zones": [
            {
                "name": "example.com",
                "plan": "enterprise",
                "generate_records": records,
                "settings": {"ssl": "strict"},
                "records": [{"type": "A", "name": "www", "content": "93.184.215.10", "proxied": True}],
                **zone,
            },
            {"name": "other.com"},
        ],
    }


class Sleeps:
    """Records the waits the gateway asks for instead of sleeping through them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def snapshot(url: str, token: str = TOKEN, name: str = "example.com", **kwargs: Any) -> ZoneSnapshot:
    async def go() -> ZoneSnapshot:
        async with CloudflareGateway(SecretStr(token), url, **kwargs) as gateway:
            return await gateway.snapshot(await gateway.zone_by_name(name))

    return asyncio.run(go())


def test_a_zone_of_5000_records_costs_three_get_requests(sandbox_factory) -> None:
    api = sandbox_factory(scenario(records=4999))
    snap = snapshot(api.url)
    assert len(snap.records) == 5000
    assert snap.zone.name == "example.com" and snap.zone.plan == "enterprise"
    assert snap.setting("ssl") == "strict"
    assert snap.editable["proxy_read_timeout"] is True
    www = next(r for r in snap.records if r.name == "www.example.com")
    assert (www.type, www.content, www.proxied) == ("A", "93.184.215.10", True)
    log = api.requests
    assert len(log) == 3
    assert {r.method for r in log} == {"GET"}
    assert sorted(r.path for r in log) == sorted(
        [
            "/zones",
            f"/zones/{snap.zone.id}/settings",
            f"/zones/{snap.zone.id}/dns_records",
        ]
    )
    dns = next(r for r in log if r.path.endswith("dns_records"))
    assert dns.query["per_page"] == "5000"


def test_a_larger_zone_pages_until_total_pages(sandbox_factory) -> None:
    api = sandbox_factory(scenario(records=10_500))
    snap = snapshot(api.url)
    assert len(snap.records) == 10_501
    assert len({r.id for r in snap.records}) == 10_501
    # Page 1 first; it says there are 3, so 2 and 3 are fetched together.
    pages = [r.query.get("page") for r in api.requests if r.path.endswith("dns_records")]
    assert pages[0] == "1" and sorted(pages) == ["1", "2", "3"]


def test_unknown_setting_values_are_carried_through(sandbox_factory) -> None:
    api = sandbox_factory(scenario(settings={"ssl": "origin_pull"}))
    assert snapshot(api.url).setting("ssl") == "origin_pull"


def test_wrong_token(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    with pytest.raises(AuthenticationFailed) as caught:
        snapshot(api.url, token="not-a-token")
    assert caught.value.exit_code == EXIT_API
    assert "rejected" in caught.value.message and "not-a-token" not in caught.value.message


def test_missing_dns_read_is_named(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    with pytest.raises(MissingPermission) as caught:
        snapshot(api.url, token="no-dns-token")
    assert caught.value.permission == "DNS Read"
    assert "'DNS Read'" in caught.value.message and "example.com" in caught.value.message
    assert caught.value.exit_code == EXIT_API


def test_unknown_zone(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    with pytest.raises(ZoneNotFound, match="zone nope.example not found"):
        snapshot(api.url, name="nope.example")


def test_unreachable_api_after_retries() -> None:
    sleeps = Sleeps()
    with pytest.raises(ApiUnreachable, match="cannot reach the Cloudflare API at http://127.0.0.1:9/"):
        snapshot("http://127.0.0.1:9/client/v4", sleep=sleeps, retry=RetryPolicy(attempts=3))
    assert sleeps.waits == [0.5, 1.0]


def test_a_write_that_cannot_connect_was_not_sent_and_says_so() -> None:
    """No connection could be made (a closed port): the PATCH never left, so it is certainly
    not applied, and it is retried like a read, not left "in doubt"."""
    sleeps = Sleeps()

    async def go() -> None:
        url = "http://127.0.0.1:9/client/v4"
        async with WritableGateway(SecretStr(TOKEN), url, sleep=sleeps, retry=RetryPolicy(attempts=3)) as gw:
            await gw.edit_setting(Zone(id="a" * 32, name="example.com", plan="free"), "ssl", "strict")

    with pytest.raises(WriteNotSent) as caught:
        asyncio.run(go())
    assert "never sent, so the change was not made" in caught.value.message
    assert "set ssl of example.com" in caught.value.message and "3 attempt(s)" in caught.value.message
    assert not isinstance(caught.value, WriteOutcomeUnknown) and caught.value.exit_code == EXIT_API
    assert sleeps.waits == [0.5, 1.0]


def test_a_write_whose_connection_drops_after_sending_stays_in_doubt(sandbox_factory) -> None:
    """The contrast: the request was sent and the connection reset, so nobody can say whether it
    landed; it is not retried here (the caller reads the value back)."""
    data = scenario()
    data["tokens"][0]["permissions"] = [*READ_ONLY, "Zone Settings Write"]
    api = sandbox_factory(data)
    api.set_faults([FaultSpec(kind="reset", method="PATCH")])
    sleeps = Sleeps()

    async def go() -> None:
        async with WritableGateway(SecretStr(TOKEN), api.url, sleep=sleeps) as gw:
            await gw.edit_setting(await gw.zone_by_name("example.com"), "ssl", "full")

    with pytest.raises(WriteOutcomeUnknown, match="may or may not have been applied"):
        asyncio.run(go())
    assert [r.method for r in api.requests] == ["GET", "PATCH"] and sleeps.waits == []


def test_a_write_answered_with_an_undecodable_body_is_in_doubt_not_refused(sandbox_factory) -> None:
    """The PATCH ran (the setting changed) and its 200 has a byte that is not UTF-8: no refusal
    (an ApiError would journal it not applied), but a write of unknown outcome, not retried."""
    data = scenario()
    data["tokens"][0]["permissions"] = [*READ_ONLY, "Zone Settings Write"]
    api = sandbox_factory(data)
    api.set_faults([FaultSpec(kind="bad_byte", method="PATCH")])
    sleeps = Sleeps()

    async def go() -> None:
        async with WritableGateway(SecretStr(TOKEN), api.url, sleep=sleeps) as gw:
            await gw.edit_setting(await gw.zone_by_name("example.com"), "ssl", "full")

    with pytest.raises(WriteOutcomeUnknown, match="cannot be read .*UnicodeDecodeError.*may or may not have been"):
        asyncio.run(go())
    assert [(r.method, r.fault) for r in api.requests] == [("GET", None), ("PATCH", "bad_byte")]
    assert sleeps.waits == []


def test_a_403_on_a_request_that_names_no_permission_says_so_without_empty_quotes(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    api.set_faults([FaultSpec(kind="403", path="tokens/verify$")])

    async def go() -> None:
        async with CloudflareGateway(SecretStr(TOKEN), api.url) as gw:
            await gw.verify_token()

    with pytest.raises(MissingPermission) as caught:
        asyncio.run(go())
    text = f"{caught.value.message} {caught.value.hint}"
    assert "''" not in text and caught.value.permission == ""
    assert caught.value.message.startswith("the API token is not allowed to verify the API token (HTTP 403")
    assert "cfremedy doctor" in caught.value.hint


def test_a_transport_that_fails_to_open_closes_its_http_client() -> None:
    """The SDK refuses a base URL only after the HTTP client was made: that client is closed,
    not left to the garbage collector (looked at while the error, and so the client, is alive)."""
    import gc

    import httpx

    from cfremedy.gateway.transport import Transport

    def unclosed() -> set[int]:
        return {id(c) for c in gc.get_objects() if isinstance(c, httpx.AsyncClient) and not c.is_closed}

    before = unclosed()
    with pytest.raises(httpx.InvalidURL) as caught:
        asyncio.run(Transport(None, "http://127.0.0.1:abc/client/v4").open())
    left = [c for c in gc.get_objects() if isinstance(c, httpx.AsyncClient) and id(c) not in before]
    assert left, "the client was not kept alive by the error: the test would prove nothing"
    assert [c for c in left if not c.is_closed] == [] and caught.value is not None


def test_permanent_429_is_exhausted_after_honouring_retry_after(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    api.set_faults([FaultSpec(kind="429", retry_after=7)])
    sleeps = Sleeps()
    with pytest.raises(RateLimitExhausted, match="still refused after 4 attempts"):
        snapshot(api.url, sleep=sleeps)
    assert sleeps.waits == [7, 7, 7]
    assert [r.status for r in api.requests] == [429] * 4


def test_a_retry_after_beyond_the_sdks_60s_cap_is_honoured(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    api.set_faults([FaultSpec(kind="429", count=1, retry_after=90)])
    sleeps = Sleeps()
    snap = snapshot(api.url, sleep=sleeps)
    assert snap.zone.name == "example.com"
    assert sleeps.waits == [90]


def test_transient_500s_and_resets_are_retried(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    api.set_faults(
        [FaultSpec(kind="500", count=1, path="/settings$"), FaultSpec(kind="reset", count=1, path="/dns_records$")]
    )
    sleeps = Sleeps()
    snap = snapshot(api.url, sleep=sleeps)
    assert len(snap.records) == 1
    statuses = sorted(r.status for r in api.requests)
    assert statuses == [0, 200, 200, 200, 500]  # 0: the reset connection
    assert len(sleeps.waits) == 2


# -- a server that never stops paginating -------------------------------------------------------


class _StuckPager(BaseHTTPRequestHandler):
    """Answers every DNS page with the same full page, claiming there are many more."""

    protocol_version = "HTTP/1.1"
    totals = True
    dns_requests = 0

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path.endswith("/zones"):
            result: Any = [{"id": "z" * 32, "name": "example.com", "plan": {"legacy_id": "free"}}]
            info = {"page": 1, "per_page": 50, "count": 1, "total_count": 1, "total_pages": 1}
        elif url.path.endswith("/settings"):
            result, info = [{"id": "ssl", "value": "full", "editable": True}], None
        else:
            type(self).dns_requests += 1
            per_page = int(query["per_page"][0])
            result = [
                {"id": f"r{i}", "type": "TXT", "name": f"t{i}.example.com", "content": "x"} for i in range(per_page)
            ]
            info = {"page": int(query.get("page", ["1"])[0]), "per_page": per_page, "count": per_page}
            if self.totals:
                info |= {"total_pages": 10**9, "total_count": 10**12}
        body = json.dumps(
            {"success": True, "errors": [], "messages": [], "result": result, **({"result_info": info} if info else {})}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["lying-totals", "no-totals"])
def stuck_server(request: pytest.FixtureRequest) -> Iterator[type[_StuckPager]]:
    handler = type("Handler", (_StuckPager,), {"totals": request.param, "dns_requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/client/v4"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(30)
def test_a_server_repeating_the_same_full_page_does_not_loop_forever(stuck_server) -> None:
    snap = snapshot(stuck_server.url)  # type: ignore[attr-defined]
    assert len(snap.records) == 5000
    assert stuck_server.dns_requests == 2  # page 1, then page 2 is seen to repeat it


def test_custom_pages_and_certificate_packs_for_diagnose(sandbox_factory) -> None:
    """One request each; a default page's URL is empty; the pack's certificates with expiry."""
    base = scenario(custom_pages={"500_errors": "https://errors.example.com/5xx.html"})
    base["tokens"].append(
        {"name": "ssl", "value": "ssl-token", "permissions": [*READ_ONLY, "SSL and Certificates Read"]}
    )
    api = sandbox_factory(base)

    async def go(token: str) -> tuple[Any, Any]:
        async with CloudflareGateway(SecretStr(token), api.url) as gateway:
            zone = await gateway.zone_by_name("example.com")
            pages = await gateway.custom_pages(zone)
            try:
                packs = await gateway.certificate_packs(zone)
            except MissingPermission as exc:
                packs = exc
        return pages, packs

    pages, packs = asyncio.run(go("ssl-token"))
    customised = {p.id: p.url for p in pages if p.customized}
    assert customised == {"500_errors": "https://errors.example.com/5xx.html"} and len(pages) == 10
    (pack,) = packs
    assert (pack.type, pack.status, pack.hosts) == ("universal", "active", ("example.com", "*.example.com"))
    assert pack.certificates[0].expires_on is not None and pack.certificates[0].expires_on.year == 2099
    listed = [r for r in api.requests if r.path.endswith("/certificate_packs")]
    assert len(listed) == 1 and listed[0].query["status"] == "all"
    _, refused = asyncio.run(go(TOKEN))  # READ_ONLY has no SSL and Certificates Read
    assert isinstance(refused, MissingPermission) and refused.permission == "SSL and Certificates Read"


def test_an_answer_cut_short_is_retried_and_then_a_clear_error(sandbox_factory) -> None:
    """A proxy that cuts the JSON in half: a 200 the SDK cannot parse is a network failure."""
    api = sandbox_factory(scenario())
    api.set_faults([FaultSpec(kind="truncated", count=1, path="/settings$")])
    sleeps = Sleeps()
    assert snapshot(api.url, sleep=sleeps).zone.name == "example.com"
    assert len(sleeps.waits) == 1
    api.set_faults([FaultSpec(kind="truncated", path="/settings$")])
    with pytest.raises(ApiUnreachable, match="gave no usable answer to read the settings of example.com.*not JSON"):
        snapshot(api.url, sleep=Sleeps())


class _Answers(BaseHTTPRequestHandler):
    """Answers every GET with `body` as application/json, counting the requests."""

    protocol_version = "HTTP/1.1"
    body = b""
    requests = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def answers() -> Iterator[Callable[[bytes], tuple[str, type[_Answers]]]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(body: bytes) -> tuple[str, type[_Answers]]:
        handler = type("Handler", (_Answers,), {"body": body, "requests": 0})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/client/v4", handler

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


class _Widget(BaseModel):
    id: str


def _read_widgets(url: str, sleeps: Sleeps, validate: bool = False) -> Any:
    """One read through the transport, its answer validated inside the request when asked (a
    pydantic ValidationError raised where the JSON is read)."""
    from cfremedy.gateway.transport import Op, Transport

    async def go() -> Any:
        transport = Transport(SecretStr(TOKEN), url, sleep=sleeps)
        await transport.open()
        try:

            async def send() -> Any:
                body = await transport.client.get("/widgets", cast_to=object)
                return TypeAdapter(list[_Widget]).validate_python(body["result"]) if validate else body

            return await transport.call(Op("read the widgets"), send)
        finally:
            await transport.close()

    return asyncio.run(go())


def test_a_whole_answer_of_the_wrong_shape_is_not_called_cut_short(answers) -> None:
    """Valid JSON of the wrong shape is no "not JSON": not retried, not blamed on a proxy; the
    validation error is the caller's to handle."""
    url, handler = answers(json.dumps({"success": True, "result": {"unexpected": 1}}).encode())
    sleeps = Sleeps()
    with pytest.raises(ValidationError):
        _read_widgets(url, sleeps, validate=True)
    assert handler.requests == 1 and sleeps.waits == []


def test_an_answer_with_a_bad_byte_is_an_error_but_not_cut_short(answers) -> None:
    url, handler = answers(b'{"success": true, "result": "\xff"}')
    sleeps = Sleeps()
    with pytest.raises(ApiError) as caught:
        _read_widgets(url, sleeps)
    assert not isinstance(caught.value, ApiUnreachable)
    assert "failed to read the widgets (UnicodeDecodeError" in str(caught.value) and "invalid start byte" in str(
        caught.value
    )
    assert "cutting answers short" not in f"{caught.value} {caught.value.hint}"
    assert handler.requests == 1 and sleeps.waits == []


def test_an_answer_cut_inside_a_character_is_cut_short(answers) -> None:
    url, handler = answers(b'{"success": true, "result": "caf' + "é".encode()[:1])
    with pytest.raises(ApiUnreachable, match="gave no usable answer to read the widgets.*not JSON") as caught:
        _read_widgets(url, Sleeps())
    assert caught.value.hint == "a proxy between this machine and the API may be cutting answers short"
    assert handler.requests == 4  # retried, like the JSON cut short


def test_a_retry_after_date_in_unknown_time_zone_is_read_as_utc() -> None:
    from email.utils import format_datetime

    import cloudflare
    import httpx

    from cfremedy.gateway.transport import _retry_after

    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=120)
    value = format_datetime(soon)  # a naive datetime is written with "-0000"
    assert value.endswith("-0000")
    response = httpx.Response(429, headers={"retry-after": value}, request=httpx.Request("GET", "http://api.test/"))
    wait = _retry_after(cloudflare.RateLimitError("slow down", response=response, body=None))
    assert wait is not None and 100 < wait <= 120


def test_waiting_for_the_rate_limiter_does_not_use_up_the_retry_budget(sandbox_factory) -> None:
    """A request that queued 2.5 s behind the limiter still gets its retries within a 2 s budget."""
    api = sandbox_factory(scenario())
    api.set_faults([FaultSpec(kind="reset", count=1, path="/settings$")])
    limiter = RateLimiter(Rate(1000, 1.0))
    limiter.pause(2.5)
    snap = snapshot(api.url, timeout=2.0, limiter=limiter)
    assert snap.zone.name == "example.com"
    assert sorted(r.status for r in api.requests if r.path.endswith("/settings")) == [0, 200]


def test_a_rulesets_list_that_says_more_follows_reads_every_rule_phase(sandbox_factory) -> None:
    """A phase's entry point on a page the gateway did not read is never taken for "no rules"."""
    base = scenario(origin_rules=[{"expression": '(http.host eq "www.example.com")', "origin_port": 8443}])
    base["tokens"][0]["permissions"] = [*READ_ONLY, "Config Rules Read", "Origin Rules Read", "Cache Rules Read"]
    api = sandbox_factory(base)

    async def go() -> tuple[frozenset[str], Any]:
        async with CloudflareGateway(SecretStr(TOKEN), api.url) as gateway:
            zone = await gateway.zone_by_name("example.com")
            return await gateway.ruleset_phases(zone), await gateway.origin_rules(zone)

    phases, rules = asyncio.run(go())
    assert phases == {"http_request_origin"} and rules[0].origin_port == 8443  # one page: what it lists
    api.set_faults(
        [FaultSpec(kind="odd", path="/rulesets$", put={"/result": [], "/result_info": {"cursor": "c2", "per_page": 1}})]
    )
    phases, rules = asyncio.run(go())
    assert phases == {"http_config_settings", "http_request_origin", "http_request_cache_settings"}
    assert rules[0].origin_port == 8443  # read from its entry point although the first page did not list it
