"""A small evaluator for the parts of Cloudflare's Rules language that decide where a request goes.

Configuration Rules, Origin Rules and Cache Rules select requests with expressions such as
`(http.host eq "api.example.com" and starts_with(http.request.uri.path, "/v2/"))`. cfremedy
only needs to know which hostnames (and, when it has one, which path) a rule covers:
conditions on the host are evaluated; conditions on the path are evaluated when a path is
given and are otherwise `PARTIAL` (true for some of the hostname's requests); conditions on
anything else (method, country, headers...) are `PARTIAL`; an expression outside the
understood subset raises `Unsupported`, and callers report it rather than guess.
"""

from __future__ import annotations

import enum
import re

from cfremedy.models import normalise_name


class Match(enum.Enum):
    NO = 0
    PARTIAL = 1  # some requests of the hostname (a path, a method...), not all
    FULL = 2


class Unsupported(ValueError):
    """An expression outside the subset this module evaluates."""


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|&&|\|\||[(){},!])|(?P<word>[A-Za-z0-9_.\-*/:]+))'
)
_HOST_FIELDS = ("http.host", "lower(http.host)")
_PATH_FIELDS = ("http.request.uri.path", "raw.http.request.uri.path", "lower(http.request.uri.path)")


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

    def __init__(self, expression: str, hostname: str, path: str | None = None) -> None:
        self.tokens = _tokens(expression)
        self.i = 0
        self.hostname = hostname
        self.path = path

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
            test = str.endswith if name == "ends_with" else str.startswith
            if subject == "http.host":
                if self.wildcard_suffix:
                    return Match.PARTIAL  # true for some of the names the wildcard stands for
                return _yes(test(self.hostname, value.lower()))
            if subject in _PATH_FIELDS and self.path is not None:
                return _yes(test(self.path, value))
            return Match.PARTIAL
        raise Unsupported(f"function {name}() is not evaluated")

    def field_test(self, field: str) -> Match:
        operator = self.take()
        if operator in ("not", "!"):
            raise Unsupported("negated operators are not evaluated")
        if operator == "strict":
            self.take("wildcard")
            operator = "strict wildcard"
        values = self.values() if operator == "in" else [_unquote(self.take())]
        if field in _HOST_FIELDS:  # host names compare case-insensitively (not a regex's syntax)
            lowered = values if operator in ("matches", "~") else [v.lower() for v in values]
            if self.wildcard_suffix:
                return self._wildcard_host(operator, lowered)
            return _compare(self.hostname, operator, lowered)
        if field in _PATH_FIELDS and self.path is not None:
            return _compare(self.path.lower() if field.startswith("lower(") else self.path, operator, values)
        return Match.PARTIAL  # a condition on something else: true for some requests

    @property
    def wildcard_suffix(self) -> str:
        """ ".example.com" for a wildcard record's `*.example.com`, which stands for many names."""
        return self.hostname[1:] if self.hostname.startswith("*.") else ""

    def _wildcard_host(self, operator: str, values: list[str]) -> Match:
        """A host condition against the names a wildcard record stands for: a condition naming
        some of them is true for part of its traffic, one naming none of them for none."""
        under = [v for v in values if v.endswith(self.wildcard_suffix)]
        if operator in ("eq", "==", "in"):
            return Match.PARTIAL if under else Match.NO
        if operator in ("ne", "!="):
            return Match.PARTIAL if under else Match.FULL
        return Match.PARTIAL

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


def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """The Rules language's wildcard: `*` matches any run of characters, nothing else is special."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _yes(value: bool) -> Match:
    return Match.FULL if value else Match.NO


def _compare(subject: str, operator: str, values: list[str]) -> Match:
    if operator in ("eq", "=="):
        return _yes(subject == values[0])
    if operator in ("ne", "!="):
        return _yes(subject != values[0])
    if operator == "in":
        return _yes(subject in set(values))
    if operator == "contains":
        return _yes(values[0] in subject)
    if operator == "wildcard":  # case-insensitive; only `*` is special
        return _yes(_wildcard(values[0], ignore_case=True).fullmatch(subject) is not None)
    if operator == "strict wildcard":
        return _yes(_wildcard(values[0], ignore_case=False).fullmatch(subject) is not None)
    if operator in ("matches", "~"):
        try:
            return _yes(re.search(values[0], subject) is not None)
        except re.error as exc:
            raise Unsupported(f"regular expression: {exc}") from None
    raise Unsupported(f"operator {operator!r} is not evaluated")


def match_expression(expression: str, hostname: str, path: str | None = None) -> Match:
    """How much of a hostname's traffic (or of one path's, when given) an expression selects.

    Raises `Unsupported` for expressions outside the evaluated subset.
    """
    return _Parser(expression, normalise_name(hostname), path).parse()
