"""curl's `--connect-to` rules: send a probe meant for one host:port somewhere else.

Tests and the sandbox need probes to reach loopback stand-ins while SNI and the Host header
keep the real hostname; operators need the same to audit an origin behind a load balancer.
We reuse curl's syntax so a rule copied from a curl command line means the same thing here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

_SYNTAX = "expected HOST:PORT:CONNECT_HOST:CONNECT_PORT (IPv6 addresses in brackets, empty fields allowed)"


@dataclass(frozen=True)
class ConnectTo:
    """One rule; an empty `host` or a None `port` matches anything, as in curl."""

    host: str
    port: int | None
    to_host: str
    to_port: int | None

    def matches(self, hostname: str, address: str, port: int) -> bool:
        return self._matches(_normalise_host(hostname), _normalise_host(address), port)

    def _matches(self, hostname: str, address: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return not self.host or self.host == hostname or self.host == address

    def __str__(self) -> str:
        def field(value: object) -> str:
            return "" if value is None else str(value)

        return ":".join((format_host(self.host), field(self.port), format_host(self.to_host), field(self.to_port)))


def _normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def format_host(host: str) -> str:
    """A host as it appears in a URL or a rule: IPv6 literals in brackets."""
    return f"[{host}]" if ":" in host else host


def _split(rule: str) -> list[str]:
    """Split on colons outside brackets, keeping the brackets so hosts can be checked."""
    fields: list[str] = []
    current = ""
    depth = 0
    for char in rule:
        if char == "[":
            if depth or current:
                raise ValueError(f"invalid --connect-to rule {rule!r}: unexpected '[' ({_SYNTAX})")
            depth = 1
        elif char == "]":
            if not depth:
                raise ValueError(f"invalid --connect-to rule {rule!r}: unexpected ']' ({_SYNTAX})")
            depth = 0
        elif char == ":" and not depth:
            fields.append(current)
            current = ""
            continue
        elif not depth and current.startswith("[") and current.endswith("]"):
            raise ValueError(f"invalid --connect-to rule {rule!r}: text after ']' ({_SYNTAX})")
        current += char
    if depth:
        raise ValueError(f"invalid --connect-to rule {rule!r}: unclosed '[' ({_SYNTAX})")
    fields.append(current)
    return fields


def _host(rule: str, text: str) -> str:
    if text.startswith("["):
        inner = text[1:-1]
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ValueError(f"invalid --connect-to rule {rule!r}: {text!r} is not an IPv6 address") from None
    if any(c.isspace() for c in text):
        raise ValueError(f"invalid --connect-to rule {rule!r}: host {text!r} contains whitespace")
    return _normalise_host(text) if text else ""


def _port(rule: str, text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid --connect-to rule {rule!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def parse_connect_to(rule: str) -> ConnectTo:
    """Parse "HOST:PORT:CONNECT_HOST:CONNECT_PORT"; ValueError names the rule and the problem."""
    fields = _split(rule.strip())
    if len(fields) != 4:
        hint = " (put IPv6 addresses in brackets)" if len(fields) > 4 else ""
        raise ValueError(f"invalid --connect-to rule {rule!r}: {len(fields)} fields, {_SYNTAX}{hint}")
    host, port, to_host, to_port = fields
    return ConnectTo(
        host=_host(rule, host),
        port=_port(rule, port),
        to_host=_host(rule, to_host),
        to_port=_port(rule, to_port),
    )


def find_rule(rules: Iterable[ConnectTo], hostname: str, address: str, port: int) -> ConnectTo | None:
    """The first rule covering a connection to `address:port` on behalf of `hostname`."""
    host, ip = _normalise_host(hostname), _normalise_host(address)  # once, not once per rule
    return next((rule for rule in rules if rule._matches(host, ip, port)), None)


def route(rules: Iterable[ConnectTo], hostname: str, address: str, port: int) -> tuple[str, int]:
    """Where a connection meant for `address:port` (on behalf of `hostname`) really goes."""
    rule = find_rule(rules, hostname, address, port)
    if rule is None:
        return (address, port)
    return (rule.to_host or address, rule.to_port or port)
