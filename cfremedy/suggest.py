"""The closest known name to one a user typed: every typo warning and error names it.

A typo that is silently ignored makes a broken setup look healthy (a playbook still runs, an
inventory entry never applies), so cfremedy says so and offers what was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's default: close enough to be a typo, not just another word
# Names that share a long suffix (`shop.example`, `blog.example`) look alike to difflib; where a
# suggestion is the only reason to warn at all, it must be a near miss (`exmaple.com`).
NEAR_MISS = 0.85


def closest(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The known name most like `word`, or None when none is close."""
    matches = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str:
    """` (did you mean 'x'?)`, or nothing when no known name is close."""
    match = closest(word, known, cutoff)
    return f" (did you mean {match!r}?)" if match is not None else ""
