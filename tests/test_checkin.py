"""Check-in at the door: the services, the phone page (with and without JS), the QR code in
the confirmation email and the page it opens, and the printable list and badges."""

import io
import re
from urllib.parse import urlsplit

import pytest
import segno

from klynge_rsvp import checkin, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import RegistrationStatus
from tests.admin_helpers import button_token, outbox, parsed, register, registration, upcoming_gathering
from tests.conftest import NOW, registration_request
from tests.pages import text


def test_check_in_and_undo_are_idempotent_and_recorded(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    [seated] = rsvp.register(gathering, registration_request(1), now=NOW)
    [waiting] = rsvp.register(gathering, registration_request(2), now=NOW)
    seated, waiting = seated.registration, waiting.registration

    checkin.check_in(seated, now=NOW, by=None)
    checkin.check_in(seated, now=NOW.replace(hour=10), by=None)
    assert seated.checked_in_at == NOW
    checkin.undo(seated, now=NOW, by=None)
    checkin.undo(seated, now=NOW, by=None)
    assert seated.checked_in_at is None
    assert [e.kind for e in seated.events] == ["registered", "checked_in", "check_in_undone"]
    with pytest.raises(DomainError, match="har ikke plass"):
        checkin.check_in(waiting, now=NOW, by=None)

    signed = checkin.sign(42)
    assert checkin.registration_id_from(signed) == 42
    payload, signature = signed.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    assert checkin.registration_id_from(f"{payload}.{flipped}") is None
    assert checkin.registration_id_from(f"NDM.{signature}") is None  # another id, same signature
    assert checkin.registration_id_from("x") is None
    assert checkin.registration_id_from("") is None


@pytest.fixture
def door(app, make_gathering):
    """A gathering tomorrow with two seated people and one on the waiting list."""
    gathering_id = upcoming_gathering(app, make_gathering, days=1, capacity=2)
    ids = register(app, gathering_id, 1, 2, 3)
    with app.app_context():
        registration(ids[1]).name = "Øystein Åsheim"
        db.session.commit()
    return gathering_id, ids


def test_checkin_page_lists_seated_people_and_searches_without_js(app, organiser_client, door):
    gathering_id, (first, second, waiting) = door
    url = f"/arrangor/samlinger/{gathering_id}/innsjekk"
    response = organiser_client.get(url)
    assert response.status_code == 200
    html = response.text
    assert f'id="p{first}"' in html and f'id="p{second}"' in html
    assert f'id="p{waiting}"' not in html  # the waiting list has no seat to check in to
    assert '<script src="/static/js/checkin.js" defer></script>' in html
    assert "<script>" not in html and 'style="' not in html
    assert "0 av 2 med plass er sjekket inn." in text(html)
    assert 'data-search="øystein åsheim deltaker2@example.no bergen kommune"' in html

    searched = organiser_client.get(f"{url}?q=ØYSTEIN").text
    assert f'id="p{second}"' in searched and f'id="p{first}"' not in searched
    assert "1 treff på «ØYSTEIN»." in text(searched)

    script = organiser_client.get("/static/js/checkin.js")
    assert script.status_code == 200
    assert "data-checkin-search" in script.text and "application/json" in script.text
    script.close()


def test_check_in_and_undo_without_js(app, organiser_client, door):
    gathering_id, (first, *_) = door
    url = f"/arrangor/samlinger/{gathering_id}/innsjekk"
    token = button_token(organiser_client.get(url).text)

    response = organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk",
                                     data={"csrf_token": token, "back": "list", "q": "deltaker"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{url}?q=deltaker#p{first}"
    page = text(organiser_client.get(url).text)
    assert "Deltaker 1 er sjekket inn." in page and "1 av 2 med plass er sjekket inn." in page
    assert "Angre innsjekkingen av Deltaker 1" in page
    with app.app_context():
        assert registration(first).checked_in_at is not None
        assert registration(first).events[-1].organiser.email == "arrangor@bergen.kommune.no"

    undone = organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk/angre",
                                   data={"csrf_token": token, "back": "list"})
    assert undone.headers["Location"] == f"{url}#p{first}"
    assert "Innsjekkingen av Deltaker 1 er angret." in text(organiser_client.get(url).text)
    with app.app_context():
        assert registration(first).checked_in_at is None

    assert organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk").status_code == 400


def test_check_in_with_fetch_answers_json_with_the_new_row(app, organiser_client, door):
    _, (first, _, waiting) = door
    token = button_token(organiser_client.get(f"/arrangor/pameldinger/{first}").text)
    headers = {"Accept": "application/json"}

    response = organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk",
                                     data={"csrf_token": token, "back": "list"}, headers=headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["checked_in"] is True and data["attended"] == 1 and data["confirmed"] == 2
    assert data["message"] == "Deltaker 1 er sjekket inn."
    assert f'id="p{first}"' in data["row"] and "Angre" in data["row"]
    assert f'action="/arrangor/pameldinger/{first}/innsjekk/angre"' in data["row"]

    undo = organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk/angre",
                                 data={"csrf_token": token}, headers=headers).get_json()
    assert undo["checked_in"] is False and undo["attended"] == 0 and "Sjekk inn" in undo["row"]

    refused = organiser_client.post(f"/arrangor/pameldinger/{waiting}/innsjekk",
                                    data={"csrf_token": token}, headers=headers)
    assert refused.status_code == 409
    assert "har ikke plass" in refused.get_json()["error"]


# --- the QR code in the confirmation email -------------------------------------------------------


def _parts(message):
    """The children of multipart/alternative, checking the shape on the way."""
    assert message.get_content_type() == "multipart/mixed"
    [alternative] = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    return alternative.get_payload()


@pytest.mark.parametrize("data", [
    "x",
    "https://rsvp.test/arrangor/innsjekk/MTIz.AbCdEfGhIjKlMnOpQrStUvWxYz0",
    "https://rsvp.example.kommune.no/arrangor/innsjekk/" + "Zz9-_" * 60,  # a large version
    "Påmelding æøå ÆØÅ",
])
def test_the_check_in_qr_png_is_the_one_segno_writes(data):
    """qr_png packs the image itself (segno's PNG writer was a third of composing a
    confirmation); the image must stay segno's, byte for byte, whatever the code's size."""
    code = segno.make(data, error="m", micro=False, mask=2)
    written = io.BytesIO()
    code.save(written, kind="png", scale=5, border=4)
    assert checkin.qr_png(data) == written.getvalue()


def test_confirmation_carries_an_inline_qr_code_and_its_link(app, organiser_client, client, door):
    _, (first, *_) = door
    with app.app_context():
        [mail] = outbox(first)
        token = registration(first).token
        message = parsed(mail)
    plain, related, calendar = _parts(message)
    assert [plain.get_content_type(), related.get_content_type(), calendar.get_content_type()] == [
        "text/plain", "multipart/related", "text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get("Content-Disposition") is None
    html_part, image = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    content_id = image["Content-ID"].strip("<>")
    html = html_part.get_content()
    assert f'src="cid:{content_id}"' in html
    assert 'alt="QR-kode for innsjekking ved inngangen"' in html
    assert "Vis denne koden når du kommer" in html

    [link] = re.findall(r"https://rsvp\.test/arrangor/innsjekk/\S+", plain.get_content())
    assert token not in link  # never the manage token: seeing the code must not let anyone cancel
    path = urlsplit(link).path

    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert "/arrangor/innlogging" in anonymous.headers["Location"]

    opened = organiser_client.get(path)
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "no-store"
    assert "Sjekk inn Deltaker 1" in text(opened.text)
    with app.app_context():
        assert registration(first).checked_in_at is None  # opening is not checking in

    checked = organiser_client.post(f"/arrangor/pameldinger/{first}/innsjekk",
                                    data={"csrf_token": button_token(opened.text), "back": "scan"})
    assert checked.headers["Location"] == path
    after = text(organiser_client.get(path).text)
    assert "✓ Sjekket inn kl." in after and "Angre innsjekkingen" in after

    assert organiser_client.get(path[:-2] + "xx").status_code == 404


def test_promotion_mail_has_the_qr_code_too_and_waiting_people_cannot_check_in(app, organiser_client,
                                                                               door):
    _, (first, _, waiting) = door
    with app.app_context():
        rsvp.cancel(registration(first), now=utcnow())
        db.session.commit()
        promotion = outbox(waiting)[-1]
        assert promotion.kind == "promotion"
        _, related, calendar = _parts(parsed(promotion))
        assert related.get_content_type() == "multipart/related"
        assert calendar.get_param("method") == "REQUEST"
        html_part, image = related.get_payload()
        assert f"cid:{image['Content-ID'].strip('<>')}" in html_part.get_content()
        third = rsvp.register(registration(waiting).gathering, registration_request(4),
                              now=utcnow())[0].registration
        db.session.commit()
        assert third.status == RegistrationStatus.WAITING
        signed = checkin.sign(third.id)
    page = text(organiser_client.get(f"/arrangor/innsjekk/{signed}").text)
    assert "Står på ventelisten." in page and "Sjekk inn Deltaker 4" not in page



# --- printing ----------------------------------------------------------------------------------


def test_attendance_list_and_badges(app, organiser_client, door):
    gathering_id, _ = door
    attendance = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/deltakerliste")
    assert attendance.status_code == 200
    page = text(attendance.text)
    assert "Nr. Navn Virksomhet Signatur" in page
    assert "1 Deltaker 1 Bergen kommune" in page and "2 Øystein Åsheim Bergen kommune" in page
    assert "Deltaker 3" not in page
    badges = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/navneskilt")
    assert badges.status_code == 200
    assert badges.text.count('class="name-badge"') == 2
    assert '<p class="name-badge__name">Øystein Åsheim</p>' in badges.text
    css = organiser_client.get("/static/css/site.css")
    assert "@media print" in css.text and ".name-badges" in css.text and "@page" in css.text
    css.close()
