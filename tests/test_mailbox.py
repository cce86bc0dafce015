"""The development mailbox shows what was "sent", inline images included."""

from datetime import timedelta

import pytest

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from tests.conftest import registration_request


def test_mailbox_lists_and_shows_mail_with_calendar_and_inline_qr(app, client, make_gathering):
    app.debug = True  # the mailbox is open without login only in debug mode
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
        assert delivery.deliver_due().sent
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


# --- who may ask: in debug mode, only this machine by its own name (no DNS rebinding) ----------


def _debug_mailbox_with_one_message(app, make_gathering):
    app.debug = True
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:5000", "localhost", "LOCALHOST:5000",
                                  "localhost:8080", "[::1]", "[::1]:5000"])
def test_debug_mailbox_answers_this_machine(app, client, make_gathering, host):
    _debug_mailbox_with_one_message(app, make_gathering)
    for path in ("/e-post/", "/e-post/1", "/e-post/1/html", "/e-post/1.eml"):
        assert client.get(path, headers={"Host": host}).status_code == 200, (host, path)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "rebind.evil.example:5000",
                                  "127.0.0.1.evil.example", "localhost.evil.example:5000",
                                  "localhost.", "127.0.0.2:5000", "0.0.0.0:5000", "192.168.1.10:5000",
                                  "localhost:5000@evil.example", "127.0.0.1:5000:80", "[::1]x"])
def test_debug_mailbox_is_404_for_any_other_host(app, client, make_gathering, host):
    _debug_mailbox_with_one_message(app, make_gathering)
    for path in ("/e-post/", "/e-post/1", "/e-post/1/html", "/e-post/1.eml"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 404, (host, path)
        assert b"deltaker1@example.no" not in response.data
    assert client.get("/", headers={"Host": host}).status_code == 200  # the rest of the site answers


def test_debug_mailbox_over_real_http_refuses_a_rebound_name(app, make_gathering):
    import http.client
    from urllib.parse import urlsplit

    from tests.live_server import serving

    _debug_mailbox_with_one_message(app, make_gathering)
    with serving(app) as base_url:
        address = urlsplit(base_url)
        answers = {}
        for host in ("evil.example:" + str(address.port), address.netloc,
                     f"localhost:{address.port}"):
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            connection.request("GET", "/e-post/", headers={"Host": host})
            response = connection.getresponse()
            answers[host.split(":")[0]] = (response.status, b"deltaker1@example.no" in response.read())
            connection.close()
    assert answers == {"evil.example": (404, False), "127.0.0.1": (200, True),
                       "localhost": (200, True)}


def test_mailbox_outside_debug_still_needs_a_login_whatever_the_host(app, client, make_gathering):
    _debug_mailbox_with_one_message(app, make_gathering)
    app.debug = False
    for host in ("localhost", "evil.example"):
        response = client.get("/e-post/", headers={"Host": host})
        assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]
