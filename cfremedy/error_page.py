"""Reading an error page's own structure: which kind of page it is and which hop it blames.

The article's shortcut — "cloudflare" in the body means Cloudflare generated the page — is not
enough for 502 and 504: when the origin itself answers 502/504, Cloudflare still serves its
branded page, which then names Cloudflare all over while the fault is the host's. Cloudflare's
5xx pages say which hop failed in their own markup: three status boxes (browser, Cloudflare,
host), one of them marked as the error source. Its 1xxx pages name their error code in the
heading instead. A bare server page signed "cloudflare" (or "cloudflare-nginx") is what
Cloudflare's own proxy answers when it fails itself, without the boxes.

Pure: a body goes in, an `ErrorPage` comes out. Classes are read before words, because the
words are translated for the visitor's language and the classes are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

from cfremedy.models import frozen_mapping
from cfremedy.redaction import without_url_credentials

# The three status boxes of Cloudflare's 5xx pages, by element id, and the hop each stands for.
HOP_BOXES = {"cf-browser-status": "browser", "cf-cloudflare-status": "cloudflare", "cf-host-status": "host"}
HOPS = ("browser", "cloudflare", "host")
# A box is the failing hop when it carries one of these classes (the current template marks the
# box `cf-error-source`, older ones `cf-error-status`) or holds the error icon.
_ERROR_BOX_CLASSES = frozenset({"cf-error-source", "cf-error-status"})
_ERROR_ICON_CLASS = "cf-icon-error"
# The status line of a box ("Working", "Error"): the class says which, whatever the language.
_STATUS_CLASSES = {"text-red-error": "Error", "text-green-success": "Working", "cf-status-label": ""}
# Markers of Cloudflare's error templates (5xx and 1xxx alike).
_TEMPLATE_IDS = frozenset({"cf-error-details", "cf-wrapper"})
_CODE_CLASS = "cf-error-code"
# Every pattern run on a body is linear in it: a tag is read up to the next `<` as well as `>`,
# so an unclosed one is not read to the end of the body again from each `<` (1 MiB of
# `Ray ID: <` took hours), and the title's end is looked for once (`_title`), not from each
# `<title>`.
_TITLE_START = re.compile(r"<title[^<>]*>", re.I)
_TITLE_END = re.compile(r"</title>", re.I)
PARSED_LIMIT = 32 * 1024  # characters of a page handed to the HTML parser (see `read_page`)
TITLE_LIMIT = 512  # characters of the title kept; a longer one is cut and ends in TITLE_CUT
TITLE_CUT = "…"
_1XXX_TEXT = re.compile(r"\berror\s*(?:code\s*)?(1\d{3})\b", re.I)
_1XXX = re.compile(r"^\s*(1\d{3})\s*$")
_RAY = re.compile(r"Ray ID:\s*(?:<[^<>]+>\s*)*([0-9a-f]{16})\b", re.I)
# The bare page nginx (and Cloudflare's proxy, built on it) answers, signed below a rule.
_BARE_SIGNATURE = re.compile(r"<hr\s*/?>\s*<center>\s*(cloudflare(?:-nginx)?)\s*</center>", re.I)
_WORD = re.compile(r"cloudflare", re.I)
# Elements without an end tag: they are never open.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass(frozen=True)
class ErrorPage:
    """What an error page says about itself.

    `kind` is "cloudflare" (Cloudflare's error template: the status boxes or a 1xxx heading),
    "cloudflare_bare" (a bare server page signed "cloudflare"/"cloudflare-nginx") or "other"
    (anything else: the origin's own page, a custom page, a proxy's page).
    """

    kind: str = "other"
    mentions_cloudflare: bool = False  # the article's test, kept for comparison
    failing_hop: str | None = None  # "browser", "cloudflare" or "host": the box marked as the error
    hops: Mapping[str, str] = field(default_factory=frozen_mapping)  # each box's status as shown
    error_1xxx: int | None = None
    title: str = ""
    ray: str = ""  # the Ray ID printed on the page (16 hex digits)


@dataclass
class _Box:
    hop: str
    element: int  # the box element's place on the open-element stack (see `_Reader._open`)
    failing: bool
    status: str = ""
    status_class: str | None = None  # the status span being read, by its class


class _Reader(HTMLParser):
    """Walks the page once, tracking which status box (if any) the parser is inside.

    Where a box ends is read from a stack of open elements, as a browser reads it rather than by
    counting tags: HTML lets `<p>` and friends go unclosed, so a count of start and end tags drifts
    and keeps a box open past its end, and a later box's error icon then marks the wrong hop. An
    end tag closes the innermost open element of its name and everything opened inside it (an
    unclosed `<p>` in a box ends with the box's `</div>`); an end tag with no open element of its
    name is ignored, as browsers ignore it. A box never holds another box (in every template the
    three are siblings), so a box start also ends the box still open.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.template = False
        self.boxes: dict[str, _Box] = {}
        self.code_texts: list[str] = []
        self._open: list[str] = []  # tag names of the open elements, outermost first
        self._box: _Box | None = None
        self._in_code = False

    def _close_to(self, depth: int) -> None:
        """Close every element from stack position `depth` outwards, and the box if it is one of them."""
        del self._open[depth:]
        if self._box is not None and self._box.element >= depth:
            self._box.status_class = None
            self._box = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        classes = set(values.get("class", "").split())
        element_id = values.get("id", "")
        if element_id in _TEMPLATE_IDS:
            self.template = True
        if element_id in HOP_BOXES:
            if self._box is not None:
                self._close_to(self._box.element)
            if tag not in _VOID:
                self._open.append(tag)
            self._box = _Box(HOP_BOXES[element_id], len(self._open) - 1, failing=bool(classes & _ERROR_BOX_CLASSES))
            self.boxes[self._box.hop] = self._box
            if tag in _VOID:  # an empty box: nothing inside it to read
                self._box = None
            return
        if tag not in _VOID:
            self._open.append(tag)
        if self._box is not None:
            if _ERROR_ICON_CLASS in classes:
                self._box.failing = True
            marked = next((c for c in _STATUS_CLASSES if c in classes), None)
            if marked is not None:
                self._box.status_class = marked
        if _CODE_CLASS in classes:
            self._in_code = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """`<span ... />`: HTML ignores the slash on a non-void element, and so does this reader."""
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        self._in_code = False
        if self._box is not None:
            self._box.status_class = None
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth] == tag:
                self._close_to(depth)
                return
        # no open element of that name: a stray end tag, which changes nothing

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text:
            return
        if self._in_code:
            self.code_texts.append(text)
        box = self._box
        if box is not None and box.status_class is not None:
            box.status = _STATUS_CLASSES[box.status_class] or text
            if box.status.lower() == "error":
                box.failing = True


def _title(body: str) -> str:
    """The first `<title>`'s text, white space collapsed, without credentials in its URLs (cut
    before the text is, so a cut never leaves half a password) and at most TITLE_LIMIT long."""
    start = _TITLE_START.search(body)
    end = _TITLE_END.search(body, start.end()) if start else None
    if start is None or end is None:  # no later `<title>` has an end either
        return ""
    title = without_url_credentials(" ".join(body[start.end() : end.start()].split()))
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - len(TITLE_CUT)] + TITLE_CUT


def read_page(body: str) -> ErrorPage:
    """What `body` (HTML, or anything else) says about the error it shows."""
    title = _title(body)
    mentions = bool(_WORD.search(body))
    reader = _Reader()
    try:
        # Only the page's beginning is parsed: Python's HTMLParser takes time quadratic in some
        # malformed markup (an unclosed `<` repeated: 64 KiB took 9 s on 3.11.7, CVE-2025-6069),
        # and Cloudflare's templates, whose boxes and 1xxx heading are what is read, are a few KiB.
        reader.feed(body[:PARSED_LIMIT])
        reader.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read so far
        pass
    code = next((int(m.group(1)) for t in reader.code_texts if (m := _1XXX.match(t))), None)
    structured = reader.template or bool(reader.boxes) or code is not None
    if code is None and (structured or mentions):
        found = _1XXX_TEXT.search(body)
        code = int(found.group(1)) if found else None
    ray = _RAY.search(body)
    failing = [hop for hop in HOPS if hop in reader.boxes and reader.boxes[hop].failing]
    if structured:
        kind = "cloudflare"
    elif _BARE_SIGNATURE.search(body):
        kind = "cloudflare_bare"
    else:
        kind = "other"
    return ErrorPage(
        kind=kind,
        mentions_cloudflare=mentions,
        # A page marking two hops (never seen) names none rather than guessing.
        failing_hop=failing[0] if len(failing) == 1 else None,
        hops=frozen_mapping({hop: box.status or ("Error" if box.failing else "") for hop, box in reader.boxes.items()}),
        error_1xxx=code,
        title=title,
        ray=ray.group(1) if ray and kind == "cloudflare" else "",
    )
