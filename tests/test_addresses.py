"""Addresses as people have them: an internationalised domain is delivered and recognised in
either form, a non-ASCII part before the @ is refused before anything is stored, and nobody
registers with the address the invitations come from."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import addresses, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import OutboxMessage, Registration
from tests.conftest import NOW, person, registration_request
from tests.mail_checks import check_raw, readings
from tests.pages import post_form, text


@pytest.mark.parametrize(("typed", "key"), [
    ("ola@bølle.no", "ola@xn--blle-gra.no"),
    ("Ola@BØLLE.NO", "ola@xn--blle-gra.no"),
    ("ola@xn--blle-gra.no", "ola@xn--blle-gra.no"),
    (" OLA@XN--BLLE-GRA.NO ", "ola@xn--blle-gra.no"),
    ("kari@example.no", "kari@example.no"),
])
def test_one_mailbox_one_key(typed, key):
    assert addresses.key(typed) == key == rsvp.email_key(typed)


def test_for_smtp_converts_only_the_domain():
    assert addresses.for_smtp("Ola@bølle.no") == "Ola@xn--blle-gra.no"
    assert addresses.for_smtp("øyvind@bølle.no") == "øyvind@xn--blle-gra.no"  # needs SMTPUTF8
    assert addresses.for_smtp("kari@example.no") == "kari@example.no"
    assert addresses.for_smtp("not an address ø") == "not an address ø"  # never raises


@pytest.fixture
def upcoming(app, make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + timedelta(days=30), now=utcnow(),
                                   capacity=10, slug="frokost")
        db.session.commit()
        return gathering.slug


def stored(app):
    with app.app_context():
        return (db.session.scalars(sa.select(Registration).order_by(Registration.id)).all(),
                db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_the_punycode_form_is_the_same_person(app, client, upcoming):
    first = post_form(client, f"/samlinger/{upcoming}", email="ola@bølle.no", name="Ola Bølle")
    assert first.status_code == 303
    again = post_form(client, f"/samlinger/{upcoming}", email="OLA@xn--blle-gra.no", name="Ola")
    assert again.status_code == 303
    [registration], mails = stored(app)
    assert registration.email == "ola@bølle.no"
    assert [m.kind for m in mails] == ["confirmation", "already_registered"]
    assert {m.recipient for m in mails} == {"ola@xn--blle-gra.no"}


@pytest.mark.parametrize("field", ["email", "colleagues-0-email"])
def test_a_non_ascii_local_part_is_refused_with_a_reason_and_nothing_stored(app, client, upcoming,
                                                                              field):
    fields = {field: "øyvind@example.org"}
    if field.startswith("colleagues"):
        fields["colleagues-0-name"] = "Øyvind"
    response = post_form(client, f"/samlinger/{upcoming}", **fields)
    assert response.status_code == 422
    page = text(response.text)
    assert "tegn som æ, ø eller å foran @" in page
    assert "øyvind@example.org" in response.text  # what they typed is still in the form
    assert stored(app) == ([], [])


def test_the_organisers_address_is_refused_at_the_form(app, client, upcoming):
    response = post_form(client, f"/samlinger/{upcoming}", email="KLYNGE@rsvp.test")
    assert response.status_code == 422
    assert "Dette er adressen invitasjonene sendes fra" in text(response.text)
    assert stored(app) == ([], [])


def test_the_organisers_address_is_refused_by_the_service(ctx, make_gathering):
    gathering = make_gathering()
    request = registration_request(1, colleagues=[person(2, email="klynge@RSVP.test")])
    with pytest.raises(DomainError, match="invitasjonene sendes fra"):
        rsvp.register(gathering, request, now=NOW)
    assert db.session.scalars(sa.select(Registration)).all() == []


def test_the_mailing_list_refuses_a_non_ascii_local_part(app, client):
    response = post_form(client, "/nyhetsbrev", email="øyvind@example.org", name="")
    assert response.status_code == 422
    assert "tegn som æ, ø eller å foran @" in text(response.text)
    assert stored(app) == ([], [])


def test_an_internationalised_domain_is_delivered_in_punycode(smtp_config, app, smtp_server,
                                                              make_gathering):
    """aiosmtpd without SMTPUTF8 (its default): the envelope and the To header in punycode."""
    with app.app_context():
        gathering = make_gathering()
        rsvp.register(gathering, registration_request(
            1, person=person(1, name="Ola Bølle", email="ola@bølle.no")), now=NOW)
        db.session.commit()
        report = delivery.deliver_due()
        assert report.sent and not report.failed and not report.retrying
    [envelope] = smtp_server.handler.messages
    assert envelope.rcpt_tos == ["ola@xn--blle-gra.no"]
    assert check_raw(envelope.original_content) == []
    for reading in readings(envelope.original_content).values():
        assert reading.to == [("Ola Bølle", "ola@xn--blle-gra.no")]
