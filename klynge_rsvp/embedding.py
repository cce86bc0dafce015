"""The registration form shown in a frame on the network's own site (KLYNGE_EMBED_ORIGINS).

A browser keeps (or partitions) a framed page's cookies away from a third-party site, so the
framed form carries no session and no session CSRF token. In their place
(docs/decisions/0029-embedded-registration-form.md):

- a form token: signed with SECRET_KEY, naming the gathering and a random nonce, stamped with
  the time it was made, refused after TOKEN_SECONDS;
- the POST's `Origin` (or, without one, `Sec-Fetch-Site`) must be our own origin or a listed
  site.

Pure functions of their arguments (the secret, the time and the headers are passed in).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

# How long a form may be left open in the frame before it must be sent again (with what was
# typed kept). Long enough for a form left over lunch or a meeting.
TOKEN_SECONDS = 12 * 3600
_SALT = "klynge-embedded-registration-form"


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def new_token(secret: str, gathering_id: int) -> str:
    """A token for one form for one gathering, with a nonce of its own."""
    return _serializer(secret).dumps({"g": gathering_id, "n": secrets.token_urlsafe(16)})


def token_is_valid(secret: str, token: str | None, gathering_id: int, *, now: datetime) -> bool:
    """Whether `token` was made by us for this gathering, less than TOKEN_SECONDS before `now`
    (and not after it)."""
    if not token or len(token) > 500:
        return False
    try:
        payload, made = _serializer(secret).loads(token, return_timestamp=True)
    except BadData:
        return False
    if not isinstance(payload, dict) or payload.get("g") != gathering_id or not payload.get("n"):
        return False
    age = (now - made).total_seconds()
    return -60 <= age <= TOKEN_SECONDS


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as a browser writes it in `Origin`."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port not in (None, default) else "")


def post_comes_from_allowed_page(origin: str | None, fetch_site: str | None, *,
                                 own: set[str], listed: tuple[str, ...]) -> bool:
    """Whether a POST to the framed form comes from a page allowed to send it: our own (the
    form in its frame posts with our origin) or a listed site. `Origin: null` (a sandboxed
    frame, a redirect across sites, a file) is refused. A browser that sends no `Origin` is
    judged by `Sec-Fetch-Site`; one that sends neither (very old ones) by the token alone."""
    if origin is not None:
        return origin in own or origin in listed
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return True
