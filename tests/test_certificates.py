"""The attendance certificate (deltakerbevis): the PDF as an independent reader (pypdf) sees it,
who may download it, and the verification page for genuine, made-up and erased certificates."""

import io
import json
import re
import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import zxingcpp
from pypdf import PdfReader
from sqlalchemy.orm import Session

from klynge_rsvp import certificates, checkin, privacy, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import when
from klynge_rsvp.models import Certificate, Registration
from tests.conftest import NOW, person, registration_request
from tests.pages import text
from tests.privacy_helpers import Person, places, scan

ASE = "Åse Ødegård-Ærø"


def _registration_id(app, make_gathering, *, name=ASE, language="nb", checked_in=True,
                     starts_at=None, now=NOW):
    """A person with a seat at a two-and-a-half-hour gathering (by default long over)."""
    with app.app_context():
        starts_at = starts_at or NOW + timedelta(days=30)
        gathering = make_gathering(title="Øvelse «Storm» på Ål", starts_at=starts_at, now=now,
                                   ends_at=starts_at + timedelta(hours=2, minutes=30))
        [outcome] = rsvp.register(gathering, registration_request(
            1, person=person(1, name=name), language=language,
            organisation_name="Sunnfjord sivilforsvar"), now=now)
        if checked_in:
            checkin.check_in(outcome.registration, now=now, by=None)
        db.session.commit()
        return outcome.registration.id


def _token(app, registration_id):
    with app.app_context():
        return db.session.get(Registration, registration_id).token


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _code(app, registration_id):
    with app.app_context():
        return db.session.scalar(sa.select(Certificate.code)
                                 .where(Certificate.registration_id == registration_id))


@pytest.mark.parametrize(("language", "heading", "hours"), [
    ("nb", "Deltakerbevis", "2,5 timer"),
    ("nn", "Deltakarbevis", "2,5 timar"),
    ("en", "Certificate of attendance", "2.5 hours"),
])
def test_the_pdf_says_who_attended_what_when_and_how_to_check_it(app, client, make_gathering,
                                                                language, heading, hours):
    registration_id = _registration_id(app, make_gathering, language=language)
    token = _token(app, registration_id)

    response = client.get(f"/pamelding/{token}/deltakerbevis.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    pdf = _pdf_text(response.data)
    code = _code(app, registration_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", code)
    with app.app_context():
        gathering = db.session.get(Registration, registration_id).gathering
        date = when(gathering.starts_at, gathering.ends_at, language)
    flat = " ".join(pdf.split())
    for expected in (heading, ASE, "Øvelse «Storm» på Ål", date, hours, "Ole Bull Scene",
                     "Beredskapsklyngen", f"https://rsvp.test/bevis/{code}"):
        assert " ".join(expected.split()) in flat, (expected, pdf)
    reader = PdfReader(io.BytesIO(response.data))
    assert heading in reader.metadata.title
    # The QR code, read from the image in the PDF by an independent decoder (zxing-cpp).
    [image] = reader.pages[0].images
    assert [found.text for found in zxingcpp.read_barcodes(image.image)] == [
        f"https://rsvp.test/bevis/{code}"]
    # A second download gives the same code: the certificate is issued once.
    assert client.get(f"/pamelding/{token}/deltakerbevis.pdf").status_code == 200
    assert _code(app, registration_id) == code


def test_the_certificate_lists_the_gatherings_programme(app, client, make_gathering):
    from klynge_rsvp import programme

    registration_id = _registration_id(app, make_gathering)
    with app.app_context():
        gathering = db.session.get(Registration, registration_id).gathering
        start = gathering.starts_at
        programme.add_item(gathering, programme.ItemDetails(
            starts_at=start + timedelta(minutes=15), ends_at=start + timedelta(minutes=45),
            title="Innledning om flom", speakers="Åse Ødegård", organisation="Bergen kommune"),
            now=NOW, by=None)
        db.session.commit()
    oslo = ZoneInfo("Europe/Oslo")
    times = "–".join((start + timedelta(minutes=m)).astimezone(oslo).strftime("%H.%M")
                     for m in (15, 45))
    pdf = " ".join(_pdf_text(client.get(
        f"/pamelding/{_token(app, registration_id)}/deltakerbevis.pdf").data).split())
    assert f"Program {times} Innledning om flom – Åse Ødegård (Bergen kommune)" in pdf


def test_the_builder_embeds_a_font_for_names_in_other_scripts():
    content = certificates.CertificateContent(
        language="nb", heading="Deltakerbevis", intro="Dette bekrefter at",
        name="Ægir Łukasz Σωκράτης Дмитрий", attended="deltok på", gathering="Samling",
        facts=[("Varighet", "2 timer")], issuer="Utstedt av Beredskapsklyngen",
        verify_text="Kontroller beviset på", verify_url="https://rsvp.test/bevis/abc",
        programme_heading="Program", programme=["09.00 Velkommen", "10.00 Øvelse"])

    body = certificates.render_pdf(content, created=NOW)

    pdf = _pdf_text(body)
    for expected in ("Ægir Łukasz Σωκράτης Дмитрий", "09.00 Velkommen", "10.00 Øvelse",
                     "https://rsvp.test/bevis/abc"):
        assert expected in pdf
    assert b"/FontFile2" in body  # the TrueType font travels inside the PDF
    assert certificates.render_pdf(content, created=NOW) == body  # pure


def test_the_manage_page_offers_the_certificate_only_once_checked_in(app, client, make_gathering):
    registration_id = _registration_id(app, make_gathering, checked_in=False)
    token = _token(app, registration_id)
    link = f"/pamelding/{token}/deltakerbevis.pdf"

    assert link not in client.get(f"/pamelding/{token}").text
    refused = client.get(link)
    assert refused.status_code == 403
    assert "Du har ikke deltakerbevis for denne samlingen" in text(refused.text)
    assert "sjekket inn" in text(refused.text)
    assert _code(app, registration_id) is None  # nothing issued

    with app.app_context():
        checkin.check_in(db.session.get(Registration, registration_id), now=NOW, by=None)
        db.session.commit()
    assert link in client.get(f"/pamelding/{token}").text
    assert client.get(link).status_code == 200


def test_no_certificate_before_the_gathering_starts(app, client, make_gathering):
    now = utcnow()
    registration_id = _registration_id(app, make_gathering, starts_at=now + timedelta(days=2),
                                       now=now)
    token = _token(app, registration_id)
    assert "deltakerbevis.pdf" not in client.get(f"/pamelding/{token}").text
    assert client.get(f"/pamelding/{token}/deltakerbevis.pdf").status_code == 403


def test_the_verification_page_confirms_what_the_certificate_shows_and_no_more(
        app, client, make_gathering):
    registration_id = _registration_id(app, make_gathering)
    token = _token(app, registration_id)
    client.get(f"/pamelding/{token}/deltakerbevis.pdf")
    code = _code(app, registration_id)

    page = client.get(f"/bevis/{code}")

    assert page.status_code == 200
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    shown = text(page.text)
    for expected in ("Gyldig.", ASE, "Øvelse «Storm» på Ål", "2,5 timer", "Ole Bull Scene"):
        assert expected in shown
    for private in ("deltaker1@example.no", "Rådgiver", "Sunnfjord sivilforsvar", token):
        assert private not in page.text

    english = client.get(f"/bevis/{code}", headers={"Accept-Language": "en"})
    assert "Valid." in text(english.text) and "2.5 hours" in text(english.text)


@pytest.mark.parametrize("code", [
    # A code shaped like a real one that no certificate has (fixed: pytest-xdist's workers
    # must collect the same test ids).
    "sFsmmIeINKSaZw07kYzaGJKn8YdmMTOz", "x", "A" * 65, "A" * 5000, "æøå", "%00", "..%2F..%2Fetc",
    "' OR 1=1 --", "<script>"])
def test_a_made_up_code_is_not_valid_and_never_a_500(app, client, make_gathering, code):
    registration_id = _registration_id(app, make_gathering)
    client.get(f"/pamelding/{_token(app, registration_id)}/deltakerbevis.pdf")

    page = client.get(f"/bevis/{code}")

    assert page.status_code == 404
    if "%" not in code:  # a NUL or a slash never reaches the route: the site's own 404 page
        assert "Ikke gyldig." in text(page.text)
    assert ASE not in page.text


def test_a_forged_code_one_character_off_is_not_valid(app, client, make_gathering):
    registration_id = _registration_id(app, make_gathering)
    client.get(f"/pamelding/{_token(app, registration_id)}/deltakerbevis.pdf")
    code = _code(app, registration_id)
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    page = client.get(f"/bevis/{forged}")
    assert page.status_code == 404
    assert ASE not in page.text


@pytest.mark.parametrize("how", ["erased", "purged", "check_in_undone"])
def test_an_erased_registrations_certificate_is_not_valid_any_more(app, client, make_gathering,
                                                                   how):
    registration_id = _registration_id(app, make_gathering)
    client.get(f"/pamelding/{_token(app, registration_id)}/deltakerbevis.pdf")
    code = _code(app, registration_id)

    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        if how == "erased":
            privacy.erase(registration, now=utcnow())
        elif how == "purged":
            privacy.purge_personal_data(now=utcnow() + timedelta(days=10 * 365))
        else:
            checkin.undo(registration, now=utcnow(), by=None)
        db.session.commit()

    if how != "check_in_undone":  # nothing of hers left in the registration or its certificate
        with app.app_context():
            assert {table for table, _column in places(scan(Person(ASE, "deltaker1@example.no")))
                    } <= {"outbox_messages"}  # the last mail goes once sent (test_erasure.py)
            assert db.session.scalar(sa.select(Certificate.code)) == code

    page = client.get(f"/bevis/{code}")
    assert page.status_code == 410
    assert "Ikke lenger gyldig." in text(page.text)
    assert ASE not in page.text
    assert "Øvelse" not in page.text  # not even which gathering they were at


def test_the_persons_export_mentions_the_certificate(app, client, make_gathering):
    registration_id = _registration_id(app, make_gathering)
    token = _token(app, registration_id)
    assert json.loads(client.get(f"/pamelding/{token}/mine-data.json").data)["deltakerbevis"] is None
    client.get(f"/pamelding/{token}/deltakerbevis.pdf")

    exported = json.loads(client.get(f"/pamelding/{token}/mine-data.json").data)["deltakerbevis"]

    assert exported["kontrollkode"] == _code(app, registration_id)
    assert exported["utstedt"]


def test_the_verification_page_is_rate_limited(app_config, make_app, make_gathering):
    app_config["CERTIFICATE_VERIFY_RATE_LIMIT"] = "3 per minute"
    app = make_app(app_config)
    client = app.test_client()
    statuses = [client.get(f"/bevis/{secrets.token_urlsafe(24)}").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_a_long_programme_keeps_the_qr_code_with_its_link():
    content = certificates.CertificateContent(
        language="nb", heading="Deltakerbevis", intro="Dette bekrefter at", name=ASE,
        attended="deltok på", gathering="Samling", facts=[("Varighet", "2 timer")],
        issuer="Utstedt av Beredskapsklyngen", verify_text="Kontroller beviset på",
        verify_url="https://rsvp.test/bevis/abc", programme_heading="Program",
        programme=[f"{hour:02}.00 Innlegg nummer {hour}" for hour in range(10)])

    pages = PdfReader(io.BytesIO(certificates.render_pdf(content))).pages

    last = pages[-1]
    assert "https://rsvp.test/bevis/abc" in last.extract_text()
    [image] = last.images
    assert [found.text for found in zxingcpp.read_barcodes(image.image)] == [
        "https://rsvp.test/bevis/abc"]
    assert "09.00 Innlegg nummer 9" in "".join(page.extract_text() for page in pages)


@pytest.mark.postgres
def test_two_first_downloads_at_once_share_one_code(app, client, make_gathering):
    """Another request issues the certificate between this one's look and its insert: this one
    gives the other's code instead of failing on the unique registration. (PostgreSQL only: on
    SQLite the request's write transaction keeps the other connection out, so no race.)"""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a race only PostgreSQL lets happen (set TEST_DATABASE_URL)")
    registration_id = _registration_id(app, make_gathering)
    raced = []

    def the_other_request_commits_first(session, _context, _instances):
        if raced or not any(isinstance(row, Certificate) for row in session.new):
            return
        raced.append(True)
        with db.engine.begin() as connection:  # a connection of its own, like another worker's
            connection.execute(sa.insert(Certificate.__table__).values(
                registration_id=registration_id, code="B" * 32, issued_at=NOW))

    sa.event.listen(Session, "before_flush", the_other_request_commits_first)
    try:
        response = client.get(f"/pamelding/{_token(app, registration_id)}/deltakerbevis.pdf")
    finally:
        sa.event.remove(Session, "before_flush", the_other_request_commits_first)

    assert raced
    assert response.status_code == 200
    assert f"https://rsvp.test/bevis/{'B' * 32}" in _pdf_text(response.data)
