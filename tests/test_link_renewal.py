"""A manage link can be revoked: the old one stops working, the person gets a new one."""

from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import Registration
from tests.conftest import registration_request
from tests.pages import csrf_token


def test_organiser_revokes_a_link_and_the_person_gets_a_new_one(smtp_config, app, smtp_server,
                                                                organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=4))
        [outcome] = rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
        old_token, registration_id = outcome.registration.token, outcome.registration.id
        delivery.deliver_due()
    client = app.test_client()
    assert client.get(f"/pamelding/{old_token}").status_code == 200

    page = organiser_client.get(f"/arrangor/pameldinger/{registration_id}")
    response = organiser_client.post(f"/arrangor/pameldinger/{registration_id}/ny-lenke",
                                     data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303

    assert client.get(f"/pamelding/{old_token}").status_code == 404
    with app.app_context():
        new_token = db.session.scalar(
            sa.select(Registration.token).where(Registration.id == registration_id))
        assert new_token != old_token
        delivery.deliver_due()
    assert client.get(f"/pamelding/{new_token}").status_code == 200
    last = smtp_server.handler.parsed()[-1]
    assert str(last["Subject"]).startswith("Ny lenke til påmeldingen")
    text = last.get_body(("plain",)).get_content()
    assert f"/pamelding/{new_token}" in text and old_token not in text
    history = organiser_client.get(f"/arrangor/pameldinger/{registration_id}").text
    assert "Ny lenke sendt" in history
