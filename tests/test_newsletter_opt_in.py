"""The newsletter box on the registration form: unticked, and a tick signs the person's own
address up exactly as the list's own page does (a confirmation link through the outbox, at most
one an hour, nothing for an address already on the list, nothing for a colleague)."""

import re
from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import mailing_list
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import FormMailSuppression, OutboxMessage, Subscriber
from tests.overview_helpers import deliver, links, part, path_of, to_address, token
from tests.pages import post_form, text

URL = "/samlinger/frokost"


def open_gathering(app, make_gathering):
    with app.app_context():
        now = utcnow()
        make_gathering(starts_at=now + timedelta(days=30), now=now, slug="frokost")
        db.session.commit()


def newsletter_box(html: str) -> str:
    [tag] = re.findall(r'<input[^>]*name="newsletter"[^>]*>', html)
    assert 'type="checkbox"' in tag
    return tag


def kinds(app, recipient=None) -> list[str]:
    with app.app_context():
        query = sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)
        if recipient:
            query = query.where(sa.func.lower(OutboxMessage.recipient) == recipient)
        return list(db.session.scalars(query))


def subscribers(app) -> list[tuple[str, bool]]:
    with app.app_context():
        return [(s.email_key, s.is_subscribed)
                for s in db.session.scalars(sa.select(Subscriber).order_by(Subscriber.id))]


def test_the_box_is_there_unticked_and_an_unticked_form_signs_nobody_up(app, client,
                                                                        make_gathering):
    open_gathering(app, make_gathering)
    page = client.get(URL)
    assert "checked" not in newsletter_box(page.text)
    assert post_form(client, URL).status_code == 303
    assert subscribers(app) == []
    assert kinds(app) == ["confirmation"]


def test_a_tick_sends_one_confirmation_through_smtp_and_the_link_puts_them_on_the_list(
        smtp_config, app, client, make_gathering, smtp_server):
    open_gathering(app, make_gathering)
    response = post_form(client, URL, newsletter="y",
                         **{"colleagues-0-name": "Ola Nordmann",
                            "colleagues-0-email": "ola@example.no"})
    assert response.status_code == 303
    receipt = text(client.get(response.headers["Location"]).text)
    assert "Du ba også om nyhetsbrevet" in receipt
    # The person's own address only, pending until confirmed; the colleague is not signed up.
    assert subscribers(app) == [("kari@example.no", False)]

    with app.app_context():  # one person's mail goes in order: a pass each
        delivered = deliver(smtp_server) + deliver(smtp_server)
    assert sorted(to_address(m) for m in delivered) == [
        "kari@example.no", "kari@example.no", "ola@example.no"]
    [confirmation] = [m for m in delivered if "/nyhetsbrev/bekreft/" in part(m, "plain")]
    assert to_address(confirmation) == "kari@example.no"
    [confirm_url] = [u for u in links(part(confirmation, "plain")) if "/bekreft/" in u]

    # Ticking it again (a second registration, a double submit): no second mail.
    assert post_form(client, URL, newsletter="y").status_code == 303
    assert kinds(app, "kari@example.no").count("mailing_list_confirm") == 1
    assert subscribers(app) == [("kari@example.no", False)]

    page = client.get(path_of(confirm_url))
    done = client.post(path_of(confirm_url), data={"csrf_token": token(page.text)})
    assert done.status_code == 200
    assert subscribers(app) == [("kari@example.no", True)]

    # On the list already: ticking it sends nothing about the list.
    assert post_form(app.test_client(), URL, newsletter="y").status_code == 303
    assert kinds(app, "kari@example.no").count("mailing_list_confirm") == 1


def test_a_refused_form_signs_nobody_up(app, client, make_gathering):
    open_gathering(app, make_gathering)
    response = post_form(client, URL, newsletter="y", consent=None)
    assert response.status_code == 422
    assert subscribers(app) == [] and kinds(app) == []
    # What was typed is kept, the tick too.
    assert "checked" in newsletter_box(response.text)


def test_no_sign_up_for_an_address_whose_owner_said_not_me(app, client, make_gathering):
    open_gathering(app, make_gathering)
    with app.app_context():
        db.session.add(FormMailSuppression(email_key="kari@example.no", created_at=utcnow()))
        db.session.commit()
    assert post_form(client, URL, newsletter="y").status_code == 303
    assert subscribers(app) == []
    assert "mailing_list_confirm" not in kinds(app)
    # The same form for an address nobody refused does sign up.
    assert post_form(app.test_client(), URL, newsletter="y",
                     email="per@example.no").status_code == 303
    assert subscribers(app) == [("per@example.no", False)]


def test_a_tick_after_leaving_the_list_asks_to_confirm_again(app, client, make_gathering):
    open_gathering(app, make_gathering)
    with app.app_context():
        subscriber = mailing_list.sign_up("kari@example.no", now=utcnow() - timedelta(days=3))
        mailing_list.confirm(subscriber, now=utcnow() - timedelta(days=3))
        mailing_list.unsubscribe(subscriber, now=utcnow() - timedelta(days=2))
        db.session.commit()
    assert post_form(client, URL, newsletter="y").status_code == 303
    assert subscribers(app) == [("kari@example.no", False)]
    assert kinds(app, "kari@example.no").count("mailing_list_confirm") == 2
