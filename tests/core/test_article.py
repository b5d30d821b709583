"""The article as data (`cfremedy/article.py`): what each section tells people to do."""

from __future__ import annotations

from cfremedy.article import SECTIONS


def test_527_says_railgun_is_retired_and_what_the_older_revisions_ask_for() -> None:
    section = SECTIONS[527]
    text = " ".join((*section.causes, *section.checks, *section.for_support, *section.to_collect))
    assert "retired" in section.causes[0] and "newest revision" in section.causes[0]
    # the older revisions' four failures, their checks, and what support wants from the listener
    for fragment in ("rg-listener", "lan.timeout", "nc -vz", "listener's IP", "SAN or Common Name"):
        assert fragment in text, fragment
    assert {"the full railgun.conf of the Railgun listener", "the full railgun-nat.conf"} <= set(section.for_support)
    # no advice the article never gave
    assert "Remove any Railgun configuration" not in text


def test_every_section_links_to_its_anchor_in_the_article() -> None:
    for code, section in SECTIONS.items():
        assert section.code == code and section.url.endswith(section.anchor) and section.anchor.startswith("#error-")
