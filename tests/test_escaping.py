"""What a person types is shown as text everywhere: pages, organiser pages, mail, calendar files
and exports. Nothing they type runs as HTML, script, a spreadsheet formula or a calendar line."""

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from icalendar import Calendar

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.rsvp import Person
from tests.conftest import registration_request

SCRIPT = "<script>alert('x')</script>"
NAMES = {
    "script": f"Ola {SCRIPT}",
    "formula": "=HYPERLINK(\"http://evil.example\",\"klikk\")",
    "scripts": "Ærlig Østby-Åsen 李小龍 Олег مرحبا 🙂",
}
COMMENT = "<b>fet</b> & \"sitat\"\nBEGIN:VEVENT\r\nSUMMARY:innsmett"


@pytest.fixture
def registered(smtp_config, app, make_gathering):
    with app.app_context():
        gathering = make_gathering(title=f"Samling {SCRIPT}", now=utcnow(),
                                   starts_at=utcnow() + timedelta(days=5))
        tokens = {}
        for n, (key, name) in enumerate(NAMES.items(), start=1):
            [outcome] = rsvp.register(gathering, registration_request(
                n, person=Person(name, f"p{n}@example.no", "@SUM(A1:A9)"),
                organisation_name=f"-Virksomhet {SCRIPT}", comment=COMMENT), now=utcnow())
            tokens[key] = outcome.registration
        db.session.commit()
        return gathering.id, gathering.slug, {k: (r.id, r.token) for k, r in tokens.items()}


def assert_escaped(html: str):
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


def test_public_and_manage_pages_escape(client, registered):
    _gathering_id, slug, tokens = registered
    assert_escaped(client.get(f"/samlinger/{slug}").text)
    page = client.get(f"/pamelding/{tokens['script'][1]}").text
    assert_escaped(page)
    assert "&lt;b&gt;fet&lt;/b&gt;" in page
    other = client.get(f"/pamelding/{tokens['scripts'][1]}").text
    assert "Ærlig Østby-Åsen 李小龍 Олег مرحبا 🙂" in other


def test_organiser_pages_escape(organiser_client, registered):
    gathering_id, _slug, tokens = registered
    assert_escaped(organiser_client.get(f"/arrangor/samlinger/{gathering_id}/pameldinger").text)
    assert_escaped(organiser_client.get(f"/arrangor/pameldinger/{tokens['script'][0]}").text)
    assert_escaped(organiser_client.get(f"/arrangor/samlinger/{gathering_id}").text)


def test_mail_escapes_html_and_keeps_calendar_lines_intact(registered, app, smtp_server):
    with app.app_context():
        while delivery.deliver_due().claimed:
            pass
    messages = smtp_server.handler.parsed()
    assert len(messages) == 3
    for message in messages:
        html = next(p for p in message.walk() if p.get_content_type() == "text/html")
        assert_escaped(html.get_content())
        calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        calendar = Calendar.from_ical(calendar_part.get_payload(decode=True))
        # One event, whatever the text tried to inject; the text comes back as typed.
        [event] = calendar.walk("VEVENT")
        assert SCRIPT in str(event["SUMMARY"])
        assert "SUMMARY:innsmett" not in calendar_part.get_payload(decode=True).decode()


def test_exports_neutralise_formulas(organiser_client, registered):
    gathering_id, _slug, _tokens = registered
    text = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/pameldinger.csv").data
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(\"http://evil.example\",\"klikk\")" in cells
    assert "'@SUM(A1:A9)" in cells
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in cells if cell)
    workbook = openpyxl.load_workbook(io.BytesIO(organiser_client.get(
        f"/arrangor/samlinger/{gathering_id}/pameldinger.xlsx").data))
    values = [c.value for row in workbook.active.iter_rows(min_row=2) for c in row]
    assert not any(isinstance(v, str) and v[:1] in ("=", "+", "-", "@") for v in values)
    assert any(isinstance(v, str) and v.startswith("'=HYPERLINK") for v in values)
