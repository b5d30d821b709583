"""The Rules-language evaluator (`cfremedy.rules_language`) on paths and on host-name case.

Origin Rules and Cache Rules that test the path decide the partial endpoints of a route and
the proxy read timeout of one slow endpoint; judged wrong, a probe hits the wrong port or a
524 is blamed on the wrong timeout. Path conditions are evaluated only when a path is given
(otherwise they are PARTIAL: true for some of the hostname's requests), and host names compare
case-insensitively while regular expressions keep their own case.
"""

from __future__ import annotations

import pytest

from cfremedy.rules_language import Match, Unsupported, match_expression

HOST = "api.example.com"

PATH_EXPRESSIONS = [
    # (expression, path, result with that path)
    ('http.request.uri.path eq "/v2/users"', "/v2/users", Match.FULL),
    ('http.request.uri.path eq "/v2/users"', "/v2/users/1", Match.NO),
    ('http.request.uri.path eq "/Admin"', "/admin", Match.NO),  # paths compare with their case
    ('http.request.uri.path ne "/health"', "/health", Match.NO),
    ('starts_with(http.request.uri.path, "/v2/")', "/v2/users", Match.FULL),
    ('starts_with(http.request.uri.path, "/v2/")', "/v1/v2/", Match.NO),
    ('starts_with(http.request.uri.path, "/V2/")', "/v2/users", Match.NO),
    ('ends_with(http.request.uri.path, ".php")', "/wp-login.php", Match.FULL),
    ('ends_with(http.request.uri.path, ".php")', "/index.html", Match.NO),
    ('http.request.uri.path wildcard "/export/*"', "/export/2024/report.csv", Match.FULL),
    ('http.request.uri.path wildcard "/export/*"', "/EXPORT/x", Match.FULL),  # wildcard ignores case
    ('http.request.uri.path wildcard "/export/*"', "/imports/x", Match.NO),
    ('http.request.uri.path strict wildcard "/admin/*"', "/admin/users", Match.FULL),
    ('http.request.uri.path matches "^/v[0-9]+/"', "/v12/users", Match.FULL),
    ('http.request.uri.path matches "^/v[0-9]+/"', "/api/v1/", Match.NO),
    ('http.request.uri.path matches "/admin"', "/x/admin/y", Match.FULL),  # a search, not anchored
    ('http.request.uri.path in {"/a" "/b"}', "/b", Match.FULL),
    ('http.request.uri.path in {"/a", "/b"}', "/c", Match.NO),
    ('http.request.uri.path contains "/admin/"', "/x/admin/y", Match.FULL),
    ('raw.http.request.uri.path eq "/a%2Fb"', "/a%2Fb", Match.FULL),
    ('lower(http.request.uri.path) eq "/admin"', "/ADMIN", Match.FULL),
    ('not starts_with(http.request.uri.path, "/v2/")', "/v1/", Match.FULL),
    (f'http.host eq "{HOST}" and starts_with(http.request.uri.path, "/v2/")', "/v2/x", Match.FULL),
    (f'http.host eq "{HOST}" and starts_with(http.request.uri.path, "/v2/")', "/v1/x", Match.NO),
    ('http.host eq "www.example.com" and starts_with(http.request.uri.path, "/v2/")', "/v2/x", Match.NO),
    ('http.request.uri.path eq "/a" or http.request.uri.path eq "/b"', "/b", Match.FULL),
]


@pytest.mark.parametrize("expression, path, expected", PATH_EXPRESSIONS)
def test_path_conditions_are_evaluated_when_a_path_is_given(expression: str, path: str, expected: Match) -> None:
    assert match_expression(expression, HOST, path) is expected


@pytest.mark.parametrize(
    "expression, expected",
    [
        ('http.request.uri.path eq "/v2/users"', Match.PARTIAL),
        ('starts_with(http.request.uri.path, "/v2/")', Match.PARTIAL),
        ('ends_with(http.request.uri.path, ".php")', Match.PARTIAL),
        ('http.request.uri.path wildcard "/export/*"', Match.PARTIAL),
        ('http.request.uri.path matches "^/v[0-9]+/"', Match.PARTIAL),
        ('http.request.uri.path in {"/a" "/b"}', Match.PARTIAL),
        ('not starts_with(http.request.uri.path, "/v2/")', Match.PARTIAL),
        (f'http.host eq "{HOST}" and starts_with(http.request.uri.path, "/v2/")', Match.PARTIAL),
        # The host decides alone when it rules the hostname out, or in for every path.
        ('http.host eq "www.example.com" and starts_with(http.request.uri.path, "/v2/")', Match.NO),
        (f'http.host eq "{HOST}" or starts_with(http.request.uri.path, "/v2/")', Match.FULL),
    ],
)
def test_path_conditions_without_a_path_are_partial(expression: str, expected: Match) -> None:
    assert match_expression(expression, HOST) is expected


@pytest.mark.parametrize("path", [None, "/v2/"])
def test_conditions_on_other_fields_stay_partial_with_or_without_a_path(path: str | None) -> None:
    assert match_expression('http.request.method eq "POST"', HOST, path) is Match.PARTIAL
    assert match_expression(f'http.host eq "{HOST}" and ip.src.country eq "FR"', HOST, path) is Match.PARTIAL


@pytest.mark.parametrize(
    "expression",
    [
        'http.host eq "API.Example.COM"',
        'http.host == "API.EXAMPLE.COM"',
        'http.host in {"WWW.example.com" "API.EXAMPLE.COM"}',
        'http.host contains "EXAMPLE"',
        'http.host wildcard "*.EXAMPLE.com"',
        'ends_with(http.host, ".Example.COM")',
        'starts_with(http.host, "API.")',
        'lower(http.host) eq "API.example.com"',
    ],
)
def test_host_conditions_compare_without_case(expression: str) -> None:
    assert match_expression(expression, HOST) is Match.FULL


def test_the_hostname_itself_is_compared_without_case_or_trailing_dot() -> None:
    assert match_expression(f'http.host eq "{HOST}"', "API.Example.com.") is Match.FULL


@pytest.mark.parametrize(
    "expression, expected",
    [
        (r'http.host matches "^api\\.example\\.com$"', Match.FULL),
        (r'http.host matches "^API\\."', Match.NO),  # a regex keeps its case: "API" is not "api"
        # Lower-casing a regex would also change its meaning: \S (non-space) would become \s.
        (r'http.host matches "^\\S+$"', Match.FULL),
        (r'http.host matches "^\\D+$"', Match.FULL),
    ],
)
def test_host_regexes_are_not_lower_cased(expression: str, expected: Match) -> None:
    assert match_expression(expression, HOST) is expected


@pytest.mark.parametrize(
    "expression",
    [
        'http.request.uri.path matches "("',  # an invalid regex is said, not guessed
        "http.request.uri.path in $paths",
        'http.request.uri.path not eq "/x"',
        'http.request.uri.path eq "/a" xor http.host eq "b"',
    ],
)
def test_unsupported_path_expressions_raise(expression: str) -> None:
    with pytest.raises(Unsupported):
        match_expression(expression, HOST, "/x")


def test_strict_wildcard_on_a_path_is_case_sensitive() -> None:
    assert match_expression('http.request.uri.path strict wildcard "/Admin/*"', HOST, "/admin/users") is Match.NO


@pytest.mark.parametrize(
    "pattern, path",
    [
        ("/file?.txt", "/fileX.txt"),
        ("/[ab]/*", "/a/x"),
    ],
)
def test_wildcard_treats_question_marks_and_brackets_literally(pattern: str, path: str) -> None:
    assert match_expression(f'http.request.uri.path wildcard "{pattern}"', HOST, path) is Match.NO
