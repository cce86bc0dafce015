"""Names people type, as mail and calendar programs may show them.

Anyone can type anything as a colleague's name, and mail programs turn text that reads as a
link into one: a name like "Win a prize at evil.example" would carry a stranger's link into our
mail (the greeting, the To header, the invitation's attendee). Such a name is never shown there.
"""

from __future__ import annotations

import re
import unicodedata

# What makes a typed name read as a link, an address or a domain: a scheme, an @, "www", a dot
# (or a full stop IDNA reads as one) joining a word to two or more letters ("evil.example",
# "prize.xn--p1ai"), or an IPv4 address. A real name rarely looks like this; when one does
# ("Anne St.Clair"), the mail greets with "Hei," alone and writes no display name.
_LINK_LIKE = re.compile(r"://|@|\bwww\b|[\w-][.\uff0e\u3002\uff61][^\W\d_]{2,}|\d+\.\d+\.\d+\.\d+",
                        re.IGNORECASE)


def looks_like_a_link(text: str) -> bool:
    """Whether a typed name reads as a link, an address or a domain (never shown in mail)."""
    return bool(_LINK_LIKE.search(text or ""))


def shown_name(name: str) -> str:
    """The name to greet with and to show beside the address: as typed, or "" when it looks
    like a link."""
    return "" if looks_like_a_link(name) else name


# æ, ø and å after z: the three characters that follow z in ASCII.
_NORWEGIAN_LAST = str.maketrans({"æ": "{", "ø": "|", "å": "}"})


def sort_key(text: str) -> str:
    """Norwegian alphabetical order (… x y z æ ø å), the same on every database.

    Stored with each registration (Registration.sort_name) so the database sorts a long list
    by it, compared as code points: SQLite's BINARY collation, PostgreSQL's "C".
    """
    folded = text.casefold().translate(_NORWEGIAN_LAST)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
