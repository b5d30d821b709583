"""Scenario files: the zones, tokens, origins and faults one sandbox run is made of.

A scenario is TOML (stdlib `tomllib`, no extra dependency). It is parsed into frozen pydantic
models with unknown keys forbidden, so a typo in a test fixture fails loudly with the key's path
instead of silently producing a healthy zone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PLANS = ("free", "pro", "business", "enterprise")

# What an origin does on its TLS port (443).
HttpsBehaviour = Literal[
    "valid",  # certificate chained to the sandbox CA (pass it as --origin-ca), name matches
    "self_signed",  # self-signed certificate for the right names (526 under strict)
    "expired",  # sandbox-CA certificate whose validity ended (526 under strict)
    "wrong_name",  # sandbox-CA certificate for other names only (526 under strict)
    "untrusted",  # certificate from a CA nobody trusts (526 under strict)
    "plain_http",  # speaks plain HTTP on 443 (525)
    "tls_alert",  # aborts every handshake with a fatal alert (525)
    "silent",  # accepts TCP, never answers (TLS handshake times out)
    "reset",  # accepts TCP, then resets the connection
    "closed",  # nothing listens: connection refused (521)
    "drop",  # SYN never answered: connect times out (522)
]
# What an origin does on its plain-HTTP port (80).
HttpBehaviour = Literal["ok", "redirect_https", "closed", "drop", "silent"]
# What an origin that negotiated h2 over ALPN does with an HTTP/2 request.
H2Behaviour = Literal[
    "ok",  # a correct HTTP/2 server
    "http1_reply",  # answers the h2 preface with an HTTP/1.1 response (garbage to an h2 client)
    "goaway",  # sends GOAWAY(PROTOCOL_ERROR) right after the preface
    "rst_stream",  # resets every request stream
    "close",  # closes the connection after the handshake
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenSpec(_Strict):
    name: str = "default"
    value: str
    # Cloudflare permission group names, e.g. "Zone Read", "DNS Write", "Zone Settings Read".
    permissions: tuple[str, ...] = ()
    # Zone name globs the token is scoped to; zones outside are invisible to it.
    zones: tuple[str, ...] = ("*",)
    status: Literal["active", "disabled", "expired"] = "active"


class RecordSpec(_Strict):
    type: str = "A"
    name: str  # relative to the zone ("www", "@") or fully qualified
    content: str
    proxied: bool = False
    ttl: int = 1
    id: str | None = None


class AnalyticsSpec(_Strict):
    """One hourly bucket of a zone's 5xx traffic, as the GraphQL Analytics API reports it.

    Hours are relative to the current hour so a scenario keeps meaning "errors in the last day"
    whenever it runs; a fixed date would fall out of every audit window a week later.
    """

    edge_status: int  # what the visitor got: 500-599
    origin_status: int = 0  # what the origin answered; 0: it never answered (e.g. 522)
    count: int = Field(ge=1)
    hours_ago: int = Field(default=0, ge=0)  # 0 = the current hour, 1 = the hour before, ...

    @field_validator("edge_status")
    @classmethod
    def _edge_5xx(cls, status: int) -> int:
        if not 500 <= status <= 599:
            raise ValueError(f"edge_status {status} is not a 5xx status (500-599)")
        return status

    @field_validator("origin_status")
    @classmethod
    def _origin_status(cls, status: int) -> int:
        if status != 0 and not 100 <= status <= 599:
            raise ValueError(f"origin_status {status} is neither 0 (no answer) nor 100-599")
        return status


class ZoneSpec(_Strict):
    name: str
    id: str | None = None
    plan: str = "free"
    account: str = "acc00000000000000000000000000001"
    status: str = "active"
    settings: dict[str, Any] = Field(default_factory=dict)
    records: tuple[RecordSpec, ...] = ()
    # Extra DNS-only TXT records, for load tests and benchmarks.
    generate_records: int = 0
    # 5xx traffic the GraphQL Analytics API reports for this zone.
    analytics: tuple[AnalyticsSpec, ...] = ()
    # When set, GraphQL answers this zone with this error message instead of data (the other
    # zones of the same query are still answered: GraphQL's partial data).
    graphql_error: str | None = None

    @field_validator("plan")
    @classmethod
    def _known_plan(cls, plan: str) -> str:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; expected one of {', '.join(PLANS)}")
        return plan

    @property
    def zone_id(self) -> str:
        return self.id or stable_id("zone", self.name)


class OriginSpec(_Strict):
    """A real server the sandbox starts on loopback to stand in for an origin address."""

    address: str  # the address DNS records name; probes reach it via --connect-to or a netns
    hostnames: tuple[str, ...] = ()  # names its certificate is issued for
    https: HttpsBehaviour = "valid"
    http: HttpBehaviour = "ok"
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    h2: H2Behaviour = "ok"
    # Seconds each HTTP response waits before being sent (a slow endpoint).
    delay_seconds: float = 0.0

    @field_validator("address")
    @classmethod
    def _ip(cls, address: str) -> str:
        return str(ipaddress.ip_address(address))


class FaultSpec(_Strict):
    """A fault the API injects: deterministic under the sandbox seed."""

    kind: Literal["429", "500", "403", "reset"]
    rate: float = Field(default=1.0, ge=0.0, le=1.0)  # probability per matching request
    count: int | None = None  # stop after injecting this many
    method: str | None = None  # only requests with this method ("GET", "PATCH", ...)
    path: str | None = None  # only paths matching this regular expression
    retry_after: float = 1.0  # seconds, for 429


class EdgeSpec(_Strict):
    """What Cloudflare's edge answers for one proxied hostname (what `cfremedy diagnose` sees).

    The article tells Cloudflare's own error pages from the origin's by the word "cloudflare" in
    the body; `branded` picks which of the two the sandbox edge serves.
    """

    hostname: str
    status: int = 200
    branded: bool = True  # a Cloudflare error page (mentions "cloudflare", shows the Ray ID)
    error_1xxx: int | None = None  # for 530: the 1xxx error the page names (e.g. 1016)
    body: str = ""  # the origin's own page when not branded (default: a plain nginx page)
    colo: str = "SJC"
    set_cookie: str = ""  # a Set-Cookie header to send (it must never reach a bundle)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, hostname: str) -> str:
        name = hostname.strip().lower().rstrip(".")
        if not name or any(c.isspace() or c in ":/[]" for c in name):
            raise ValueError(f"{hostname!r} is not a hostname")
        return name

    @field_validator("status")
    @classmethod
    def _status(cls, status: int) -> int:
        if not 200 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP status the edge answers (200-599)")
        return status

    @field_validator("error_1xxx")
    @classmethod
    def _error_1xxx(cls, code: int | None) -> int | None:
        if code is not None and not 1000 <= code <= 1999:
            raise ValueError(f"error_1xxx {code} is not a Cloudflare 1xxx error (1000-1999)")
        return code

    @field_validator("colo")
    @classmethod
    def _colo(cls, colo: str) -> str:
        if not colo.isalnum():  # it ends up in a header and in the trace, unquoted
            raise ValueError(f"colo {colo!r} must be letters and digits (e.g. SJC)")
        return colo

    @field_validator("set_cookie")
    @classmethod
    def _one_header_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("set_cookie must be a single header line")
        return value


class SandboxOptions(_Strict):
    latency_ms: float = 0.0
    seed: int = 0
    faults: tuple[FaultSpec, ...] = ()
    # Server-side limit: more than `requests` in `window` seconds per token answers 429.
    rate_limit_requests: int | None = None
    rate_limit_window: float = 300.0


class Scenario(_Strict):
    description: str = ""
    tokens: tuple[TokenSpec, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()
    origins: tuple[OriginSpec, ...] = ()
    sandbox: SandboxOptions = SandboxOptions()
    # Hostnames the sandbox edge answers for, over plain HTTP (see `sandbox/edge.py`).
    edge: tuple[EdgeSpec, ...] = ()
    # An inventory file (DESIGN §6) that goes with the scenario; a relative path is relative to
    # the scenario file, and `load_scenario` makes it absolute.
    inventory: str | None = None

    @field_validator("edge")
    @classmethod
    def _unique_edge_hostnames(cls, edge: tuple[EdgeSpec, ...]) -> tuple[EdgeSpec, ...]:
        """The edge picks a page by Host header: two specs for one name would be a coin toss."""
        seen: set[str] = set()
        for spec in edge:
            if spec.hostname in seen:
                raise ValueError(f"edge hostnames must be unique: {spec.hostname} appears twice")
            seen.add(spec.hostname)
        return edge

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        names = [z.name for z in self.zones]
        if len(names) != len(set(names)):
            raise ValueError("zone names must be unique")
        addresses = [o.address for o in self.origins]
        if len(addresses) != len(set(addresses)):
            raise ValueError("origin addresses must be unique")
        return self


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


def stable_id(*parts: str) -> str:
    """A 32-hex identifier derived from its parts, so scenario ids are the same on every run."""
    return hashlib.md5("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def builtin_scenarios() -> list[str]:
    files = resources.files("cfremedy.sandbox") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario from a TOML file path, or a built-in one by name (e.g. "demo")."""
    path = Path(source)
    if not path.suffix and str(source) in builtin_scenarios():
        # Installed packages are plain directories, so the resource is a real file path.
        path = Path(str(resources.files("cfremedy.sandbox") / "scenarios" / f"{source}.toml"))
        text = path.read_text(encoding="utf-8")
        label = f"built-in scenario {source!r}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
        label = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: invalid TOML: {exc}") from None
    if isinstance(data.get("inventory"), str):
        inventory = path.parent / data["inventory"]
        if not inventory.is_file():
            raise ScenarioError(f"{label}: inventory: {inventory} does not exist")
        data["inventory"] = str(inventory.resolve())
    return parse_scenario(data, label)


def parse_scenario(data: dict[str, Any], label: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ScenarioError(f"{label}: {where}: {first['msg']}") from None
