"""Host names a user wrote (the inventory, `history --zone`): checked and put in the form the API uses.

Cloudflare lists names in their ASCII form (`xn--caf-dma.example`), so an inventory that says
`café.example` must mean the same zone, not silently match nothing. A name with a control
character, a space or an empty label is a typo to report, not a host to look for.
"""

from __future__ import annotations

import re

import idna

MAX_NAME = 253  # RFC 1035, without the root's dot
MAX_LABEL = 63
_ASCII_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)$")


def ascii_hostname(name: str) -> str:
    """The lower-case ASCII form of `name`, or ValueError saying what is wrong with it.

    Underscores are allowed (`_dmarc`, service names), and `*` as a whole label.
    """
    if any(ord(c) < 0x20 or c.isspace() or ord(c) == 0x7F for c in name):
        raise ValueError(f"{name!r} contains a space or a control character")
    text = name.rstrip(".")
    if not text:
        raise ValueError("an empty host name")
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"{name!r} is not a valid internationalised host name ({exc})") from None
    text = text.lower()
    if len(text) > MAX_NAME:
        raise ValueError(f"{name[:40]!r}... is {len(text)} characters long (at most {MAX_NAME})")
    for label in text.split("."):
        if not label:
            raise ValueError(f"{name!r} has an empty label")
        if len(label) > MAX_LABEL:
            raise ValueError(f"{name!r} has a label longer than {MAX_LABEL} characters")
        if not _ASCII_LABEL.match(label):
            raise ValueError(f"{name!r}: {label!r} is not a host name label (letters, digits, '-', '_')")
    return text
