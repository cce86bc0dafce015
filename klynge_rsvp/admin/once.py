"""Forms whose answer shows a secret once (a new API key, a new webhook's secret) answer the
POST itself: a reload of that page posts the form again, and the session's CSRF token still
fits, so a second key or endpoint would be made. Each such form carries a random value; once a
form with that value has made its thing, the session remembers it, and the same form again
leads to the list with a word about what happened, instead of a copy."""

from __future__ import annotations

import secrets

from flask import session
from wtforms import HiddenField

_DONE = "forms_done"
_KEEP = 20  # the last forms done in this session


def once_field() -> HiddenField:
    return HiddenField(default=lambda: secrets.token_urlsafe(16))


def done_before(value: str | None) -> bool:
    """Whether a form with this value already made its thing in this session."""
    return bool(value) and value in (session.get(_DONE) or [])


def remember_done(value: str | None) -> None:
    """The form with this value made its thing (call after the commit)."""
    if value:
        session[_DONE] = [*(session.get(_DONE) or []), value][-_KEEP:]
