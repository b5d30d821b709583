"""Secrets never leave the process: every sink passes its text through `redact`.

The token is a `SecretStr` everywhere it travels, but a library can still echo it back: an
exception quoting an illegal header (a token read from a CRLF file ends in `\\r`), a debug log
of a request, a URL it was pasted into. So the token is registered here the moment it is read,
in every form a library might write it (as given, stripped, escaped as `\\r`, percent-encoded,
JSON-escaped), and stderr, stdout reports, written files and the journal all replace any of
them with a mask. This is the last line of defence, not the first: the first is that a token
with control characters is refused before it is ever sent.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "********"
MIN_LENGTH = 4  # shorter values would mask innocent words; no real secret is this short

_lock = threading.Lock()
_forms: tuple[str, ...] = ()  # longest first, so a form containing another is masked whole

# Header values no log line should show, whatever logged them (the SDK's `Headers({...})`,
# httpcore's `(b'Set-Cookie', b'...')` at -vvv): cookies are session secrets too.
_SENSITIVE_HEADER = re.compile(
    r"(?i)(['\"]?\b(?:set-cookie|cookie|authorization|x-auth-key)\b['\"]?\s*[:=,]\s*b?['\"]?)([^'\"\n]+)"
)

# `scheme://user:password@`: a URL's userinfo, in any text (a page's title, a header, a log line
# of the raw headers a server sent). Up to the authority's last `@`, as a URL parser reads it.
# The userinfo is anything but what ends the authority (`/?#`, white space) and what RFC 3986
# never allows in a URL and markup and logs put around one (`<>"`): all it allows (unreserved,
# pct-encoded, sub-delims including `'`, `:`) and more, as parsers take more (non-ASCII). Linear:
# the search looks for `://` (a literal, found fast), then only at the one character before it
# (a scheme's last), never for a scheme at every word; no userinfo reaches past the next `/`, so
# no character is read from more than one `://`. A match from every word boundary, the scheme
# read forward, was quadratic: 160 KB of `a.a.a.` took 13 s, the 1 MiB of a page minutes.
_URL_USERINFO = re.compile(r"://(?<=[A-Za-z0-9+.-]://)[^\s/?#<>\"]*@")


def without_url_credentials(text: str) -> str:
    """`text` with `user:password@` cut from every `scheme://` URL in it (an e-mail address stays)."""
    return _URL_USERINFO.sub("://", text)


def _forms_of(value: str) -> set[str]:
    forms = {value, value.strip()}
    for form in list(forms):
        forms |= {
            form.encode("unicode_escape").decode("ascii"),
            repr(form)[1:-1],
            json.dumps(form)[1:-1],
            quote(form, safe=""),
            quote_plus(form, safe=""),
        }
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register_secret(value: str | None) -> None:
    """From now on, `value` in any of its forms is masked in everything `redact` sees."""
    global _forms
    if not value or len(value.strip()) < MIN_LENGTH:
        return
    with _lock:
        _forms = tuple(sorted(set(_forms) | _forms_of(value), key=len, reverse=True))


def redact(text: str) -> str:
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def redact_headers(text: str) -> str:
    """Mask the values of cookie and credential headers in a logged line."""
    return _SENSITIVE_HEADER.sub(lambda m: m.group(1) + MASK, text)
