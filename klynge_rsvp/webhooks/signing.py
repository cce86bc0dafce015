"""The signature on each webhook delivery (pure: no app, no database).

`Klynge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`, as Stripe
does it: the time is signed with the body, so a receiver that refuses signatures older than
REPLAY_WINDOW_SECONDS cannot be made to accept a delivery someone recorded and sends again
later. docs/webhooks.md shows a receiver's check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# What receivers are told to allow between our clock and theirs, and the delivery's travel.
REPLAY_WINDOW_SECONDS = 300

SIGNATURE_HEADER = "Klynge-Signature"
EVENT_HEADER = "Klynge-Event"
DELIVERY_HEADER = "Klynge-Delivery"


def new_secret() -> str:
    """A signing secret: 256 random bits, with a prefix that says what it is."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` signed at `timestamp` (unix seconds)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float,
           tolerance: int = REPLAY_WINDOW_SECONDS) -> bool:
    """Whether `header` is a signature of `body` with `secret`, made within `tolerance`
    seconds of `now` (unix seconds). What a receiver does; the tests' server uses it."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
