"""The development mailbox shows what was "sent", inline images included."""

from datetime import timedelta

from klynge_rsvp import rsvp, sender
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.conftest import registration_request


def test_mailbox_lists_and_shows_mail_with_calendar_and_inline_qr(app, client, make_gathering):
    app.debug = True  # the mailbox is open without login only in debug mode
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
        assert sender.deliver_due().sent
    index = client.get("/e-post/")
    assert "Påmeldt: Frokostmøte om beredskap" in index.text
    assert "sendt" in index.text
    page = client.get("/e-post/1")
    assert "METHOD:REQUEST" in page.text
    html = client.get("/e-post/1/html")
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert "data:image/png;base64," in html.text and "cid:" not in html.text
    raw = client.get("/e-post/1.eml")
    assert raw.mimetype == "message/rfc822"
    assert b"BEGIN:VCALENDAR" in raw.data or b"text/calendar" in raw.data
