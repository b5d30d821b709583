"""Configuration from the environment and `.env` (the CLI contract (README, "Exit codes") "Environment").

Only the CLI constructs `Settings`; everything below it receives plain values, so no module deep
in the stack can read the token on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
MIN_PLAN_KEY_LENGTH = 16


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("cfremedy", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    # The name the official SDK, Terraform and wrangler use. A SecretStr: its repr and str are
    # masked, so it cannot end up in a log line or an error by accident.
    api_token: SecretStr | None = Field(default=None, validation_alias="CLOUDFLARE_API_TOKEN")
    base_url: str = Field(default=DEFAULT_BASE_URL, validation_alias="CLOUDFLARE_BASE_URL")
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

    @field_validator("api_token", "plan_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("plan_key", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        """`$(cat key.txt)` of a CRLF file must sign like the same key typed by hand."""
        return value.strip() if isinstance(value, str) else value

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
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
