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

    kind: Literal["429", "500", "reset"]
    rate: float = Field(default=1.0, ge=0.0, le=1.0)  # probability per matching request
    count: int | None = None  # stop after injecting this many
    method: str | None = None  # only requests with this method ("GET", "PATCH", ...)
    path: str | None = None  # only paths matching this regular expression
    retry_after: float = 1.0  # seconds, for 429


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
    # An inventory file (DESIGN §6) that goes with the scenario; a relative path is relative to
    # the scenario file, and `load_scenario` makes it absolute.
    inventory: str | None = None

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
