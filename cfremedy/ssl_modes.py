"""The SSL/TLS mode Cloudflare really uses for a hostname: the zone setting, then the rules.

A zone in Full (strict) can still reach one hostname's origin in Flexible because a Page Rule
or a Configuration Rule says so, and judging that origin against the zone-wide setting gives
the wrong verdict both ways. Precedence, as Cloudflare documents it: the zone setting, replaced
by the first Page Rule whose URL pattern matches (Page Rules are listed highest priority first,
only one applies), replaced by every matching Configuration Rule in order (the last one wins;
Rules take precedence over Page Rules).

Rule expressions are Cloudflare's Rules language. Only the part that decides *which hostnames*
a rule covers is evaluated here; a rule that also tests the path, method, country... applies to
some of a hostname's requests and is reported as `partial`, and an expression outside the
understood subset is `unknown`: both are shown to the user rather than guessed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from cfremedy.models import SslRule, ZoneSnapshot, normalise_name

MODE_NAMES = {"off": "Off", "flexible": "Flexible", "full": "Full", "strict": "Full (strict)"}


class Match(enum.Enum):
    NO = 0
    PARTIAL = 1  # some requests of the hostname (a path, a method...), not all
    FULL = 2


class Unsupported(ValueError):
    """An expression outside the subset this module evaluates."""


@dataclass(frozen=True)
class EffectiveMode:
    hostname: str
    mode: str
    rule: SslRule | None = None  # the rule that set `mode`; None: the zone setting did
    partial: tuple[SslRule, ...] = ()  # rules that set another mode for part of the traffic
    unknown: tuple[SslRule, ...] = ()  # rules cfremedy could not evaluate for this hostname

    @property
    def source(self) -> str:
        return describe_rule(self.rule) if self.rule is not None else "the zone setting"

    @property
    def overridden(self) -> bool:
        return self.rule is not None


def describe_rule(rule: SslRule) -> str:
    if rule.source == "page_rule":
        return f"Page Rule {rule.url_pattern!r}"
    label = f" {rule.description!r}" if rule.description else f" {rule.id}"
    return f"Configuration Rule{label}"


def mode_name(mode: object) -> str:
    return MODE_NAMES.get(str(mode), repr(mode))


# -- Page Rule URL patterns --------------------------------------------------------------------


def match_url_pattern(pattern: str, hostname: str) -> Match:
    """Whether a Page Rule target (`[scheme://]host[/path]`, `*` wildcards) covers a hostname."""
    rest = pattern.strip().lower()
    scheme = ""
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
    host, slash, path = rest.partition("/")
    host = host.split(":", 1)[0]
    if not fnmatchcase(hostname, host):
        return Match.NO
    whole_host = (not slash or path in ("", "*")) and scheme in ("", "*")
    return Match.FULL if whole_host else Match.PARTIAL


# -- Configuration Rule expressions ------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|&&|\|\||[(){},!])|(?P<word>[A-Za-z0-9_.\-*/:]+))'
)
_HOST_FIELDS = ("http.host", "lower(http.host)")


def _tokens(expression: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = expression.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise Unsupported(f"cannot read the expression at {text[position : position + 20]!r}")
        tokens.append(found.group(found.lastgroup or "word"))
        position = found.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


class _Parser:
    """Recursive descent over `or` / `and` / `not` / parentheses / comparisons."""

    def __init__(self, expression: str, hostname: str) -> None:
        self.tokens = _tokens(expression)
        self.i = 0
        self.hostname = hostname

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'more'} in the expression")
        self.i += 1
        return token

    def parse(self) -> Match:
        result = self.disjunction()
        if self.peek() is not None:
            raise Unsupported(f"unexpected {self.peek()!r} in the expression")
        return result

    def disjunction(self) -> Match:
        result = self.conjunction()
        while self.peek() in ("or", "||", "xor", "^^"):
            if self.take() in ("xor", "^^"):
                raise Unsupported("xor is not evaluated")
            result = max(result, self.conjunction(), key=lambda m: m.value)
        return result

    def conjunction(self) -> Match:
        result = self.negation()
        while self.peek() in ("and", "&&"):
            self.take()
            result = min(result, self.negation(), key=lambda m: m.value)
        return result

    def negation(self) -> Match:
        if self.peek() in ("not", "!"):
            self.take()
            inner = self.negation()
            return {Match.NO: Match.FULL, Match.FULL: Match.NO}.get(inner, Match.PARTIAL)
        if self.peek() == "(":
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Match:
        token = self.take()
        if token == "true":
            return Match.FULL
        if token == "false":
            return Match.NO
        if token in ("lower", "ends_with", "starts_with", "len", "upper", "concat", "regex_replace"):
            return self.function(token)
        return self.field_test(token)

    def function(self, name: str) -> Match:
        self.take("(")
        subject = self.take()
        if name == "lower":
            self.take(")")
            return self.field_test(f"lower({subject})")
        if name in ("ends_with", "starts_with"):
            self.take(",")
            value = _unquote(self.take())
            self.take(")")
            if subject != "http.host":
                return Match.PARTIAL
            test = str.endswith if name == "ends_with" else str.startswith
            return _yes(test(self.hostname, value.lower()))
        raise Unsupported(f"function {name}() is not evaluated")

    def field_test(self, field: str) -> Match:
        operator = self.take()
        if operator in ("not", "!"):
            raise Unsupported("negated operators are not evaluated")
        if operator == "strict":
            self.take("wildcard")
            operator = "wildcard"
        values = self.values() if operator == "in" else [_unquote(self.take())]
        if field not in _HOST_FIELDS:
            return Match.PARTIAL  # a condition on something else: true for some requests
        host = self.hostname
        if operator in ("eq", "=="):
            return _yes(host == values[0].lower())
        if operator in ("ne", "!="):
            return _yes(host != values[0].lower())
        if operator == "in":
            return _yes(host in {v.lower() for v in values})
        if operator == "contains":
            return _yes(values[0].lower() in host)
        if operator == "wildcard":
            return _yes(fnmatchcase(host, values[0].lower()))
        if operator in ("matches", "~"):
            try:
                return _yes(re.search(values[0], host) is not None)
            except re.error as exc:
                raise Unsupported(f"regular expression: {exc}") from None
        raise Unsupported(f"operator {operator!r} is not evaluated for http.host")

    def values(self) -> list[str]:
        self.take("{")
        found = []
        while self.peek() not in ("}", None):
            token = self.take()
            if token != ",":
                found.append(_unquote(token))
        self.take("}")
        return found


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token.startswith("$"):
        raise Unsupported(f"named list {token} is not evaluated")
    return token


def _yes(value: bool) -> Match:
    return Match.FULL if value else Match.NO


def match_expression(expression: str, hostname: str) -> Match:
    """How much of a hostname's traffic a Configuration Rule expression selects.

    Raises `Unsupported` for expressions outside the evaluated subset.
    """
    return _Parser(expression, normalise_name(hostname)).parse()


def rule_match(rule: SslRule, hostname: str) -> Match:
    if rule.source == "page_rule":
        return match_url_pattern(rule.url_pattern, normalise_name(hostname))
    return match_expression(rule.expression, hostname)


# -- the effective mode -------------------------------------------------------------------------


def effective_mode(zone_mode: object, rules: Sequence[SslRule] | None, hostname: str) -> EffectiveMode:
    hostname = normalise_name(hostname)
    mode, setter = str(zone_mode), None
    partial: list[SslRule] = []
    unknown: list[SslRule] = []
    active = [r for r in (rules or ()) if r.enabled]
    page_rules = sorted((r for r in active if r.source == "page_rule"), key=lambda r: r.position)
    config_rules = sorted((r for r in active if r.source != "page_rule"), key=lambda r: r.position)
    for rule in page_rules:
        found = rule_match(rule, hostname)
        if found is Match.FULL:
            mode, setter = rule.mode, rule
            break  # one Page Rule per request: the highest priority match
        if found is Match.PARTIAL:
            partial.append(rule)
    for rule in config_rules:
        try:
            found = rule_match(rule, hostname)
        except Unsupported:
            unknown.append(rule)
            continue
        if found is Match.FULL:
            mode, setter = rule.mode, rule
        elif found is Match.PARTIAL:
            partial.append(rule)
    return EffectiveMode(hostname, mode, setter, tuple(r for r in partial if r.mode != mode), tuple(unknown))


def effective_modes(snapshot: ZoneSnapshot, hostnames: Sequence[str]) -> dict[str, EffectiveMode]:
    zone_mode = snapshot.setting("ssl")
    return {h: effective_mode(zone_mode, snapshot.ssl_rules, h) for h in dict.fromkeys(hostnames)}
