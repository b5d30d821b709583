"""Configuration from the environment and `.env` (the CLI contract (README, "Exit codes") "Environment").

Only the CLI constructs `Settings`; everything below it receives plain values, so no module deep
in the stack can read the token on its own.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cfremedy.redaction import register_secret
from cfremedy.suggest import did_you_mean

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
MIN_PLAN_KEY_LENGTH = 16
PREFIX = "CFREMEDY_"  # cfremedy's own variables; CLOUDFLARE_* are shared with other tools


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("cfremedy", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    # The name the official SDK, Terraform and wrangler use. A SecretStr: its repr and str are
    # masked, so it cannot end up in a log line or an error by accident.
    api_token: SecretStr | None = Field(default=None, validation_alias="CLOUDFLARE_API_TOKEN")
    base_url: str = Field(default=DEFAULT_BASE_URL, validation_alias="CLOUDFLARE_BASE_URL")
    # Seconds one API request may take, whole (and the retry budget when the network fails);
    # None: the transport's default (30 s).
    api_timeout: float | None = Field(default=None, gt=0, le=600, validation_alias="CFREMEDY_API_TIMEOUT")
    state_dir: Path = Field(default_factory=default_state_dir, validation_alias="CFREMEDY_STATE_DIR")
    inventory: Path | None = Field(default=None, validation_alias="CFREMEDY_INVENTORY")
    playbooks_dir: Path | None = Field(default=None, validation_alias="CFREMEDY_PLAYBOOKS_DIR")
    config: Path | None = Field(default=None, validation_alias="CFREMEDY_CONFIG")
    # Probe options settable for a whole shell session (what `cfremedy sandbox serve` prints).
    connect_to: str = Field(default="", validation_alias="CFREMEDY_CONNECT_TO")  # space-separated
    # Where `diagnose` sends the request for the URL (the edge); unset: CFREMEDY_CONNECT_TO.
    edge_connect_to: str = Field(default="", validation_alias="CFREMEDY_EDGE_CONNECT_TO")
    origin_ca: str = Field(default="", validation_alias="CFREMEDY_ORIGIN_CA")  # os.pathsep-separated
    connect_to_only: bool = Field(default=False, validation_alias="CFREMEDY_CONNECT_TO_ONLY")
    # The DNS resolver for origin host names ("IP" or "IP:PORT"); empty: the system's.
    resolver: str = Field(default="", validation_alias="CFREMEDY_RESOLVER")
    # Signs plan files (HMAC-SHA256): with it set, `plan` signs and `apply` accepts only plans
    # signed with the same key. A secret like the token: masked in reprs and redacted.
    plan_key: SecretStr | None = Field(default=None, validation_alias="CFREMEDY_PLAN_KEY")

    @property
    def connect_to_rules(self) -> list[str]:
        return self.connect_to.replace(",", " ").split()

    @property
    def edge_connect_to_rules(self) -> list[str]:
        return self.edge_connect_to.replace(",", " ").split()

    @property
    def origin_ca_files(self) -> list[Path]:
        return [Path(p) for p in self.origin_ca.split(os.pathsep) if p.strip()]

    @property
    def plan_key_bytes(self) -> bytes | None:
        return self.plan_key.get_secret_value().encode() if self.plan_key is not None else None

    @field_validator("api_token", mode="before")
    @classmethod
    def _usable_token(cls, value: object) -> object:
        """Surrounding whitespace (a CRLF file, a pasted newline) is dropped; a token with any
        other control or non-ASCII character is refused, without ever being echoed: sent as a
        header, it would be quoted back by the HTTP library in its error."""
        if not isinstance(value, str):
            return value
        register_secret(value)  # before anything can fail and print it
        token = value.strip()
        if not token:
            return None
        if not all(0x21 <= ord(c) <= 0x7E for c in token):
            raise ValueError(
                "the token contains a control, space or non-ASCII character; a Cloudflare API token"
                " is letters, digits, '-' and '_' only (was it copied with something else?)"
            )
        return token

    @field_validator("plan_key", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        """`$(cat key.txt)` of a CRLF file must sign like the same key typed by hand; a blank
        key is no key. A secret like the token: masked from the moment it is read."""
        if not isinstance(value, str):
            return value
        register_secret(value)
        return value.strip() or None

    @field_validator("plan_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        """A short key can be guessed offline from any plan it signed."""
        if value is not None and len(value.get_secret_value()) < MIN_PLAN_KEY_LENGTH:
            raise ValueError(
                f"CFREMEDY_PLAN_KEY must be at least {MIN_PLAN_KEY_LENGTH} characters"
                " (e.g. the output of `openssl rand -hex 32`)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _plain_api_url(cls, value: str) -> str:
        """An http(s) URL without credentials: the token goes in CLOUDFLARE_API_TOKEN only."""
        value = value.strip()
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError:
            raise ValueError("not a URL (expected e.g. https://api.cloudflare.com/client/v4)") from None
        if parts.username is not None or parts.password is not None:
            for secret in (parts.username, parts.password, parts.netloc.rpartition("@")[0]):
                register_secret(secret)
            raise ValueError(
                "a user name or password in the URL (user:password@host) is refused:"
                " put the token in CLOUDFLARE_API_TOKEN and leave it out of the URL"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL such as https://api.cloudflare.com/client/v4")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError(
                "http:// would send the token in clear text; use https://, or http:// on this machine"
                " only (127.0.0.1, ::1, localhost: `cfremedy sandbox serve`)"
            )
        if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
            raise ValueError("the URL contains a control, space or non-ASCII character")
        return value.rstrip("/")


def known_variables() -> frozenset[str]:
    """The variables `Settings` reads: each field's `validation_alias`."""
    return frozenset(str(f.validation_alias) for f in Settings.model_fields.values() if f.validation_alias)


def unknown_variables(names: Iterable[str], where: str) -> list[str]:
    """One warning per CFREMEDY_* name cfremedy does not read (compared as pydantic-settings
    compares them, ignoring case): a misspelt CFREMEDY_STAE_DIR would otherwise send history
    to the default directory without a word. Pure."""
    known = sorted(known_variables())
    return [
        f"{where}: {name} is not a cfremedy variable{did_you_mean(name.upper(), known)}; it is ignored"
        for name in sorted(set(names))
        if name.upper().startswith(PREFIX) and name.upper() not in known
    ]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
