"""Attendance certificates ("deltakerbevis"): who may have one, its verification code, and the PDF.

Three parts, in the house style:

- services (`available`, `issue`, `verify`): take `now`, flush but never commit;
- `content_for`: the words of one certificate, in the registrant's language;
- `render_pdf`: a pure builder, CertificateContent → PDF bytes (fpdf2, DejaVu Sans embedded so
  æøå and any script DejaVu covers come out right, the QR code a 1-bit PNG).

The code on the certificate is random and stored (`Certificate`), so it says nothing about the
person and cannot be guessed; the verification page (/bevis/<code>) reads what it shows from the
registration, and so stops confirming anything once the registration is erased or anonymised.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask_babel import gettext as _
from flask_babel import ngettext

from . import programme
from .checkin import qr_png
from .extensions import db
from .formatting import clock_time, when
from .models import Certificate, Registration, RegistrationStatus
from .notifications.message import in_language

# static/ sits beside the package in the repository and inside it in the wheel (as
# klynge_rsvp.RESOURCES decides; not imported from there, which would make an import cycle).
_PACKAGE_DIR = Path(__file__).resolve().parent
FONTS = (_PACKAGE_DIR if (_PACKAGE_DIR / "templates").is_dir() else _PACKAGE_DIR.parent) / "static" / "fonts"
CODE_BYTES = 24  # 192 random bits, 32 characters in the URL
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what token_urlsafe makes, with room


# --- who may have one, and its code ----------------------------------------------------------


def available(registration: Registration, *, now: datetime) -> bool:
    """Whether the person may download a certificate: checked in, still holding their seat,
    not erased, and the gathering has started."""
    return (registration.checked_in_at is not None
            and registration.status == RegistrationStatus.CONFIRMED
            and registration.anonymised_at is None
            and registration.gathering.starts_at <= now)


def issue(registration: Registration, *, now: datetime) -> Certificate:
    """The registration's certificate, made at the first download; later downloads reuse it."""
    certificate = db.session.scalar(
        sa.select(Certificate).where(Certificate.registration_id == registration.id))
    if certificate is None:
        certificate = Certificate(registration=registration,
                                  code=secrets.token_urlsafe(CODE_BYTES), issued_at=now)
        db.session.add(certificate)
        db.session.flush()
    return certificate


class Validity(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"  # was issued, but the registration was erased or the check-in undone
    UNKNOWN = "unknown"  # never issued by us (mistyped or made up)


@dataclass(frozen=True)
class Verification:
    validity: Validity
    registration: Registration | None = None  # only when valid: what the page may show


def verify(code: str, *, now: datetime) -> Verification:
    """What the verification page may say about `code`."""
    if not CODE_PATTERN.fullmatch(code):  # not one of ours; and PostgreSQL refuses a NUL
        return Verification(Validity.UNKNOWN)
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.code == code))
    if certificate is None:
        return Verification(Validity.UNKNOWN)
    if not available(certificate.registration, now=now):
        return Verification(Validity.REVOKED)
    return Verification(Validity.VALID, certificate.registration)


def hours(registration: Registration) -> float:
    """The gathering's length in hours, from its start and end."""
    gathering = registration.gathering
    return (gathering.ends_at - gathering.starts_at).total_seconds() / 3600


def hours_text(value: float, language: str) -> str:
    """E.g. "2 timer", "2,5 timer", "1 time" in the current language."""
    number = format_decimal(round(value, 1), format="#,##0.#", locale=language)
    return ngettext("%(hours)s time", "%(hours)s timer", 1 if value == 1 else 2, hours=number)


# --- the words ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateContent:
    """Everything printed on one certificate, already in words."""

    language: str
    heading: str
    intro: str
    name: str
    attended: str
    gathering: str
    facts: list[tuple[str, str]]
    issuer: str
    verify_text: str
    verify_url: str
    programme_heading: str = ""
    programme: list[str] = field(default_factory=list)
    document_title: str = ""


def content_for(registration: Registration, *, verify_url: str, network: str) -> CertificateContent:
    """The certificate's words in the language the person registered in."""
    gathering = registration.gathering
    with in_language(registration.language) as language:
        facts = [(_("Dato og tid"), when(gathering.starts_at, gathering.ends_at)),
                 (_("Varighet"), hours_text(hours(registration), language)),
                 (_("Sted"), gathering.venue_name)]
        return CertificateContent(
            language=language,
            heading=_("Deltakerbevis"),
            intro=_("Dette bekrefter at"),
            name=registration.name,
            attended=_("deltok på"),
            gathering=gathering.title,
            facts=facts,
            # The programme, one line per item ("08.00–08.30 Innledning – Kari Nordmann").
            programme_heading=_("Program") if gathering.programme else "",
            programme=programme.text_lines(gathering.programme, clock_time),
            issuer=_("Utstedt av %(network)s", network=network),
            verify_text=_("Kontroller beviset på"),
            verify_url=verify_url,
            document_title=_("Deltakerbevis: %(gathering)s", gathering=gathering.title),
        )


# --- the PDF ----------------------------------------------------------------------------------


def render_pdf(content: CertificateContent, *, created: datetime | None = None,
               fonts: Path = FONTS) -> bytes:
    """The certificate as an A4 PDF (pure: the same content gives the same bytes)."""
    from fpdf import FPDF  # imported here: only the download needs it

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(25, 25, 25)
    pdf.set_auto_page_break(auto=True, margin=25)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_lang(content.language)
    pdf.set_title(content.document_title or content.heading)
    pdf.set_creator(content.issuer)
    if created is not None:
        pdf.set_creation_date(created)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, *, size: float, bold: bool = False, gap: float = 4, align: str = "C"):
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.multi_cell(width, size * 0.5, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line(content.heading, size=28, bold=True, gap=12)
    line(content.intro, size=13)
    line(content.name, size=22, bold=True, gap=6)
    line(content.attended, size=13)
    line(content.gathering, size=17, bold=True, gap=10)
    for label, value in content.facts:
        line(f"{label}: {value}", size=12, gap=2)
    if content.programme:
        pdf.ln(6)
        line(content.programme_heading, size=13, bold=True, gap=2, align="L")
        for item in content.programme:
            line(item, size=11, gap=1, align="L")
    pdf.ln(8)
    line(content.issuer, size=12, gap=10)

    # The verification link, and the same link as a QR code: the 1-bit PNG check-in mails use,
    # placed at 40 mm (PDF viewers and printers scale it without smoothing).
    side = 40  # mm
    if pdf.get_y() + side + 22 > pdf.h - pdf.b_margin:  # a long programme: the code on a page of its own
        pdf.add_page()
    top = max(pdf.get_y(), pdf.h - pdf.b_margin - side - 22)
    pdf.image(io.BytesIO(qr_png(content.verify_url)), x=(pdf.w - side) / 2, y=top, w=side, h=side,
              alt_text=content.verify_url)
    pdf.set_y(top + side + 4)
    line(content.verify_text, size=10, gap=1)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(width, 5, content.verify_url, align="C", link=content.verify_url,
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
