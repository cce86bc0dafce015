"""Checking people in at the door, and the signed link their QR code carries."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime

import segno
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from . import history, webhooks
from .errors import DomainError
from .extensions import db
from .links import absolute_url
from .models import Organiser, Registration, RegistrationStatus

# The QR code carries only a signed registration id, never the manage token: anyone who sees
# the code (a photo of a phone at the door) must not be able to cancel the registration.
_SALT = "checkin"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def sign(registration_id: int) -> str:
    """The registration id, signed for the check-in link."""
    return _serializer().dumps(registration_id)


def registration_id_from(signed: str) -> int | None:
    """The registration id in a check-in link, or None if it was not signed by us."""
    if not signed or len(signed) > 200:
        return None
    try:
        value = _serializer().loads(signed)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scan_url(registration: Registration) -> str:
    """The absolute link a participant's QR code opens (for a logged-in organiser)."""
    return absolute_url("admin.checkin_scan", signed=sign(registration.id))


def qr_png(data: str) -> bytes:
    """`data` as a QR code, a PNG small enough for an email and easy for a phone to read."""
    # A fixed mask: trying all eight (segno's default) was a third of a registration's time,
    # and any mask scans the same.
    return _png(segno.make(data, error="m", micro=False, mask=2).matrix, scale=5, border=4)


def _png(matrix, *, scale: int, border: int) -> bytes:
    """The PNG segno writes for `matrix` (`save(kind="png", scale=…, border=…)`), byte for byte,
    built a row at a time: segno's writer packs each pixel's bit through Python calls, and was
    a third of composing a confirmation (docs/performance.md, issue 20)."""
    width = (len(matrix) + 2 * border) * scale
    row_bytes = (width + 7) // 8
    padding = "0" * (row_bytes * 8 - width)
    light, dark = "1" * scale, "0" * scale  # greyscale, 1 bit: black is 0
    edge = light * border

    def scanline(bits: str) -> bytes:  # filter type 0 (none), then the packed row
        return b"\0" + int(bits + padding, 2).to_bytes(row_bytes, "big")

    same_as_above = (b"\2" + bytes(row_bytes)) * (scale - 1)  # filter "Up" over zeros
    quiet = scanline("1" * width) * (border * scale)
    image = [quiet]
    for row in matrix:
        image.append(scanline(edge + "".join(dark if module else light for module in row) + edge))
        image.append(same_as_above)
    image.append(quiet)

    def chunk(name: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + name + body
                + struct.pack(">I", zlib.crc32(name + body)))

    header = struct.pack(">2I5B", width, width, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(image), 9)) + chunk(b"IEND", b""))


def check_in(registration: Registration, *, now: datetime, by: Organiser | None) -> Registration:
    """Mark the person as arrived; checking in twice changes nothing."""
    if registration.status != RegistrationStatus.CONFIRMED:
        raise DomainError(_("%(name)s har ikke plass på samlingen og kan ikke sjekkes inn. "
                            "Gi personen plass først.", name=registration.name))
    if registration.checked_in_at is None:
        registration.checked_in_at = now
        registration.updated_at = now
        history.record(registration, "checked_in", now=now, by=by)
        db.session.flush()
        webhooks.enqueue("registration.checked_in", webhooks.registration_data(registration),
                         now=now)
    return registration


def undo(registration: Registration, *, now: datetime, by: Organiser | None) -> Registration:
    """Take back a check-in (a wrong tap); undoing twice changes nothing."""
    if registration.checked_in_at is not None:
        registration.checked_in_at = None
        registration.updated_at = now
        history.record(registration, "check_in_undone", now=now, by=by)
        db.session.flush()
    return registration

