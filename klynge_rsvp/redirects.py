"""Where a redirect may lead when its address comes from the request: a path on this site.

`next` after logging in, `tilbake` after choosing a language, `next` after resending a mail: each
is read from the request, so each could be made to point elsewhere (an open redirect, used to
lend a phishing link this site's name). A check on the raw string is not enough: browsers drop
tabs and line breaks anywhere in an address and read a backslash as a slash, so `/\t/evil.example`
and `/\\evil.example` both lead to evil.example, and a line break would even split the header.
`same_site_path` reads the target the way a browser (or a proxy that decodes it, or normalises
Unicode) would, refuses it unless every reading is a path on this site, and hands back a rebuilt,
ASCII-only path; anything else gives the default.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MAX_LENGTH = 2000

# What the WHATWG URL parser removes before reading an address: ASCII tab and line breaks
# anywhere, C0 controls and spaces at either end.
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
# Characters a careless normaliser or a font turns into a slash (NFKC covers the full-width
# forms: U+FF0F → "/", U+FF3C → "\").
_SLASH_LOOKALIKES = str.maketrans(dict.fromkeys("\\\u2044\u2215\u2216\u29f5\u29f8\u29f9", "/"))
# Unicode categories no path of ours contains: controls, format characters (bidi overrides,
# zero-width spaces), surrogates, private use, unassigned, line and paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Kept as they are in the rebuilt path; everything else is percent-encoded (so no Unicode and
# no space reaches the Location header). "%" stays: the target's own escapes are kept.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def same_site_path(target: object, default: str) -> str:
    """`target` as a path on this site (`/…`, with its query), or `default` when it is not one
    whichever way it is read: raw, as a browser reads it, and after each round of decoding."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return default
    candidate = _as_a_browser_reads(target)
    if any(character.isspace() for character in candidate):
        return default  # a path of ours has none (its own are escaped): whatever this is, not ours
    layer = candidate
    while True:
        if not _is_same_site_path(layer):
            return default
        decoded = unquote(layer)
        if decoded == layer:
            break
        layer = decoded
    parts = urlsplit(candidate)
    return urlunsplit(("", "", quote(parts.path, safe=_PATH_SAFE),
                       quote(parts.query, safe=_QUERY_SAFE), quote(parts.fragment, safe=_QUERY_SAFE)))


def _as_a_browser_reads(text: str) -> str:
    return _TAB_OR_NEWLINE.sub("", text).strip(_C0_AND_SPACE).replace("\\", "/")


def _is_same_site_path(text: str) -> bool:
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in text):
        return False
    as_read = _as_a_browser_reads(text)
    normalised = unicodedata.normalize("NFKC", as_read).translate(_SLASH_LOOKALIKES)
    return all(_is_a_path(read) for read in (as_read, normalised))


def _is_a_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
