"""The registration form's mail: who gets it, what it says, and how much one client can cause.

Through the real form (test client, CSRF on). The limits are counted in the app's limit store:
memory:// in most tests, a real Redis server where processes must share them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import PROJECT_ROOT
from klynge_rsvp.clock import utcnow
from klynge_rsvp.config import FORM_LIMITS, from_environment
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import FormMailSuppression, OutboxMessage, Registration
from klynge_rsvp.names import looks_like_a_link
from tests.pages import csrf_token, form_data, post_form, text

URL = "/samlinger/frokost"


@pytest.fixture
def gatherings(app, make_gathering):
    """Three open gatherings without a seat limit: frokost, lunsj, middag."""
    with app.app_context():
        now = utcnow()
        for slug in ("frokost", "lunsj", "middag"):
            make_gathering(starts_at=now + timedelta(days=30), now=now, slug=slug, capacity=None)
        db.session.commit()


def colleagues(*people: tuple[str, str]) -> dict:
    fields = {}
    for n, (name, email) in enumerate(people):
        fields[f"colleagues-{n}-name"] = name
        fields[f"colleagues-{n}-email"] = email
    return fields


def mail_to(app, address: str) -> list[OutboxMessage]:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.recipient == address).order_by(OutboxMessage.id)).all()


def people(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(Registration.email).order_by(Registration.id)).all()


# --- what a colleague's mail says -----------------------------------------------------------


def test_a_colleagues_mail_says_who_registered_them_and_offers_not_me(smtp_config, app, client,
                                                                      gatherings, smtp_server):
    response = post_form(client, URL, **colleagues(("Ola Nordmann", "ola@example.no")))
    assert response.status_code == 303
    with app.app_context():
        report = delivery.deliver_due()
        assert report.failed == [] and len(report.sent) == 2
        tokens = dict(db.session.execute(sa.select(Registration.email, Registration.token)).all())
    delivered = {m["To"].addresses[0].addr_spec: m for m in smtp_server.handler.parsed()}

    ola = delivered["ola@example.no"]
    for body in (ola.get_body(("plain",)).get_content(), ola.get_body(("html",)).get_content()):
        assert "Hei Ola Nordmann," in body
        assert "Kari Nordmann (kari@example.no) har meldt deg på, og du har fått plass." in body
        assert f"https://rsvp.test/pamelding/{tokens['ola@example.no']}/ikke-meg" in body
        assert "påmeldingsskjemaet sender ikke flere e-poster til denne adressen" in body
        assert tokens["kari@example.no"] not in body
    kari = delivered["kari@example.no"].get_body(("plain",)).get_content()
    assert "Du er påmeldt og har fått plass." in kari and "har meldt deg på" not in kari
    assert f"https://rsvp.test/pamelding/{tokens['kari@example.no']}/ikke-meg" in kari


@pytest.mark.parametrize("name", [
    "Win a prize at evil.example", "www.premie.no", "https://evil.example/x", "vinn@evil.example",
    "Premie på bit.ly", "Premie på 203.0.113.7", "Gevinst på premie。example", "PREMIE.NO"])
def test_names_that_read_as_links(name):
    assert looks_like_a_link(name)


@pytest.mark.parametrize("name", [
    "Kari Nordmann", "J.R.R. Tolkien", "Dr. Ola Hansen", "Åse Ærlig-Østby", "Олег Петров",
    "O'Brien", "Anne-Marie St. Clair", "Kari (Beredskap)"])
def test_names_that_do_not(name):
    assert not looks_like_a_link(name)


def test_a_name_like_a_link_is_never_in_a_greeting(smtp_config, app, client, gatherings,
                                                   smtp_server):
    response = post_form(client, URL, name="Vinn en premie på evil.example",
                         **colleagues(("Gratis premie: www.premie.example", "ola@example.no")))
    assert response.status_code == 303
    with app.app_context():
        assert len(delivery.deliver_due().sent) == 2
    for message in smtp_server.handler.parsed():
        for body in (message.get_body(("plain",)).get_content(),
                     message.get_body(("html",)).get_content()):
            assert "evil.example" not in body and "premie" not in body.lower()
            assert body.startswith("Hei,\r\n") or "<p>Hei,</p>" in body
    ola = next(m for m in smtp_server.handler.parsed() if m["To"].addresses[0].addr_spec
               == "ola@example.no").get_body(("plain",)).get_content()
    assert "kari@example.no har meldt deg på, og du har fått plass." in ola


# --- limits: an office gets through, a stranger gets one mail --------------------------------


def test_an_address_someone_else_typed_gets_one_mail_a_day(app, client, gatherings):
    assert post_form(client, URL, **colleagues(("Ola", "ola@example.no"))).status_code == 303
    other = app.test_client()
    again = post_form(other, "/samlinger/lunsj", name="Per Hansen", email="per@example.no",
                      **colleagues(("Ola N.", "OLA@example.no")))
    assert again.status_code == 429
    assert 'id="colleagues-0-email-error"' in again.text
    assert "på vegne av andre akkurat nå" in text(again.text)
    assert "Påmeldingen ble ikke sendt Rett opp feltene som er merket nedenfor." in text(again.text)
    assert "Retry-After" not in again.headers  # when someone else used it is not ours to tell
    # What was typed is all there.
    for typed in ('value="Per Hansen"', 'value="per@example.no"', 'value="Ola N."'):
        assert typed in again.text
    assert people(app) == ["kari@example.no", "ola@example.no"]
    assert len(mail_to(app, "ola@example.no")) == 1
    assert app.config["UNSOLICITED_MAIL_RATE_LIMIT"] == "1 per day"


def test_a_colleague_already_registered_uses_their_day_and_gets_nothing(app, client, gatherings):
    """Typing a registered colleague sends them nothing, and counts as typing them: whether they
    were registered cannot be read from what the form does next."""
    assert post_form(client, URL, name="Ola", email="ola@example.no").status_code == 303
    assert post_form(app.test_client(), URL,
                     **colleagues(("Ola", "ola@example.no"))).status_code == 303
    assert [m.kind for m in mail_to(app, "ola@example.no")] == ["confirmation"]
    stopped = post_form(app.test_client(), "/samlinger/lunsj", name="Per", email="per@example.no",
                        **colleagues(("Ola", "ola@example.no")))
    assert stopped.status_code == 429


def test_the_link_goes_again_at_most_once_an_hour(app, client, gatherings, monkeypatch):
    import klynge_rsvp.public.views as views

    start = utcnow()
    for minutes in (0, 5, 10, 15):
        monkeypatch.setattr(views, "utcnow", lambda m=minutes: start + timedelta(minutes=m))
        assert post_form(app.test_client(), URL, name="Noen", email="kari@example.no",
                         **colleagues(("Ola", f"ola{minutes}@example.no"))).status_code == 303
    assert [m.kind for m in mail_to(app, "kari@example.no")] == ["confirmation",
                                                                "already_registered"]
    assert app.config["LINK_RESEND_RATE_LIMIT"] == "1 per hour;3 per day"


def test_sixty_people_behind_one_address_all_get_through(app, gatherings):
    """An office behind one address (NAT): one after another through the real form, each in their
    own browser, some adding a colleague row first."""
    statuses = []
    for n in range(60):
        browser = app.test_client()
        page = browser.get(URL)
        data = {"csrf_token": csrf_token(page.text),
                **form_data(name=f"Person {n}", email=f"person{n}@bergen.kommune.no")}
        if n % 10 == 0:  # without JavaScript, "add a colleague" is a POST of its own
            assert browser.post(URL, data={**data, "add_colleague": "Legg til en kollega"}
                                ).status_code == 200
        statuses.append(browser.post(URL, data=data).status_code)
    assert statuses == [303] * 60
    assert len(people(app)) == 60


def test_adding_colleague_rows_counts_nothing(app_config, make_app, make_gathering):
    app_config["REGISTRATION_RATE_LIMIT"] = "2 per hour"
    application = make_app(app_config)
    with application.app_context():
        make_gathering(slug="frokost", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    browser = application.test_client()
    data = {"csrf_token": csrf_token(browser.get(URL).text), **form_data()}
    for n in range(20):
        response = browser.post(URL, data={**data, "add_colleague": "Legg til en kollega"})
        assert response.status_code == 200
        assert f'name="colleagues-{n}-name"' in response.text
        data.update(colleagues(*[(f"Kollega {c}", f"kollega{c}@example.no") for c in range(n + 1)]))
    assert browser.post(URL, data=data).status_code == 303
    assert len(people(application)) == 21


def test_a_limit_gives_the_form_back_as_typed(app_config, make_app, make_gathering):
    app_config["REGISTRATION_RATE_LIMIT"] = "1 per hour"
    application = make_app(app_config)
    with application.app_context():
        make_gathering(slug="frokost", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    assert post_form(application.test_client(), URL).status_code == 303
    stopped = post_form(application.test_client(), URL, name="Åse Ærlig", email="ase@example.no",
                        comment="Jeg kommer litt seint.", **colleagues(("Ola", "ola@example.no")))
    assert stopped.status_code == 429
    assert 3500 <= int(stopped.headers["Retry-After"]) <= 3600
    page = text(stopped.text)
    assert "Påmeldingen ble ikke sendt For mange forsøk fra nettverket ditt." in page
    assert "Prøv igjen om 60 minutter." in page
    for typed in ('value="Åse Ærlig"', 'value="ase@example.no"', "Jeg kommer litt seint.",
                  'value="ola@example.no"', '<input checked id="consent"'):
        assert typed in stopped.text
    assert people(application) == ["kari@example.no"]


def test_one_address_registering_again_and_again_is_stopped(app, gatherings):
    statuses = [post_form(app.test_client(), URL, name=f"Kari {n}").status_code for n in range(11)]
    assert statuses == [303] * 10 + [429]
    assert app.config["REGISTRATION_ADDRESS_RATE_LIMIT"] == "10 per hour"


def test_one_client_address_is_stopped_at_its_ceiling(app_config, make_app, make_gathering):
    app_config["REGISTRATION_RATE_LIMIT"] = "5 per hour"
    application = make_app(app_config)
    with application.app_context():
        make_gathering(slug="frokost", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    statuses = [post_form(application.test_client(), URL, email=f"p{n}@example.no").status_code
                for n in range(6)]
    assert statuses == [303] * 5 + [429]
    assert FORM_LIMITS["REGISTRATION_RATE_LIMIT"] == "200 per hour"


def test_one_gathering_takes_so_many_people_an_hour(app_config, make_app, make_gathering):
    app_config["REGISTRATION_GATHERING_RATE_LIMIT"] = "3 per hour"
    application = make_app(app_config)
    with application.app_context():
        for slug in ("frokost", "lunsj"):
            make_gathering(slug=slug, now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    four = colleagues(*[(f"K {n}", f"k{n}@example.no") for n in range(3)])
    too_many = post_form(application.test_client(), URL, **four)
    assert too_many.status_code == 429
    assert "svært mange påmeldinger til denne samlingen" in text(too_many.text)
    assert post_form(application.test_client(), URL, **colleagues(("A", "a@example.no"),
                                                                  ("B", "b@example.no"))
                     ).status_code == 303
    assert post_form(application.test_client(), URL, email="x@example.no").status_code == 429
    assert post_form(application.test_client(), "/samlinger/lunsj",
                     email="x@example.no").status_code == 303


def test_colleagues_are_limited_per_address_and_per_client(app_config, make_app, make_gathering):
    app_config.update({"COLLEAGUE_RATE_LIMIT": "2 per day", "COLLEAGUE_CLIENT_RATE_LIMIT":
                       "3 per hour"})
    application = make_app(app_config)
    with application.app_context():
        for slug in ("frokost", "lunsj"):
            make_gathering(slug=slug, now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()

    def post(slug, email, *addresses):
        return post_form(application.test_client(), f"/samlinger/{slug}", email=email,
                         **colleagues(*[("K", a) for a in addresses]))

    assert post("frokost", "kari@example.no", "a@example.no", "b@example.no").status_code == 303
    by_kari = post("lunsj", "kari@example.no", "c@example.no")
    assert by_kari.status_code == 429
    assert "Du har meldt på mange kolleger det siste døgnet." in text(by_kari.text)
    assert post("lunsj", "kari@example.no").status_code == 303  # herself: no colleague
    assert post("lunsj", "per@example.no", "c@example.no").status_code == 303
    from_here = post("lunsj", "liv@example.no", "d@example.no")
    assert from_here.status_code == 429
    assert "mange kolleger fra nettverket ditt" in text(from_here.text)


def test_limits_are_shared_by_every_process(app_config, make_app, make_gathering, redis_url,
                                            tmp_path):
    """Two app processes on one database and one Redis: a colleague typed in one cannot be
    typed again in the other (with memory:// each process would count alone)."""
    app_config["RATELIMIT_STORAGE_URI"] = redis_url
    application = make_app(app_config)
    with application.app_context():
        make_gathering(slug="frokost", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    other_process = subprocess.run(
        [sys.executable, "-c", _POST_IN_ANOTHER_PROCESS, repr(app_config)], cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert other_process.stdout.strip().splitlines()[-1:] == ["303"], other_process.stderr
    here = post_form(application.test_client(), URL, name="Per", email="per@example.no",
                     **colleagues(("Ola", "ola@example.no")))
    assert here.status_code == 429
    assert people(application) == ["kari@example.no", "ola@example.no"]


_POST_IN_ANOTHER_PROCESS = """
import ast, sys
from klynge_rsvp import create_app
from tests.pages import post_form
app = create_app(ast.literal_eval(sys.argv[1]))
response = post_form(app.test_client(), "/samlinger/frokost", **{
    "colleagues-0-name": "Ola", "colleagues-0-email": "ola@example.no"})
print(response.status_code)
"""


def test_a_dead_limit_store_keeps_the_form_and_sends_nothing(app_config, make_app, make_gathering,
                                                              migrated_sqlite, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        shutil.copyfile(migrated_sqlite, app_config["SQLALCHEMY_DATABASE_URI"][10:])
    else:
        make_app(app_config)  # an empty migrated PostgreSQL database
    application = make_app({**app_config, "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{port}/0"},
                           migrate=False)
    with application.app_context():
        make_gathering(slug="frokost", now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
    response = post_form(application.test_client(), URL, name="Åse", email="ase@example.no")
    assert response.status_code == 503
    assert "Vi kan ikke ta imot påmeldinger akkurat nå." in text(response.text)
    assert 'value="Åse"' in response.text and 'value="ase@example.no"' in response.text
    assert people(application) == []
    with application.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_the_limits_can_be_set_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UNSOLICITED_MAIL_RATE_LIMIT", "1 per 2 days")
    config = from_environment(str(tmp_path))
    assert config["UNSOLICITED_MAIL_RATE_LIMIT"] == "1 per 2 days"
    assert config["REGISTRATION_RATE_LIMIT"] == "200 per hour"


# --- "not me" from the form's side ------------------------------------------------------------


def test_an_address_that_said_not_me_cannot_be_typed_by_others(app, client, gatherings):
    with app.app_context():
        db.session.add(FormMailSuppression(email_key="ola@example.no", created_at=utcnow()))
        db.session.commit()
    stopped = post_form(client, URL, **colleagues(("Ola", "Ola@Example.no")))
    assert stopped.status_code == 429
    # The same words as for an address typed lately: the page does not tell which.
    assert "på vegne av andre akkurat nå: adressen har nylig fått en påmelding fra noen andre, " \
           "eller eieren har bedt om å slippe slik e-post." in text(stopped.text)
    assert people(app) == []
    # The owner registers themselves: that lifts it (and counts as the one unsolicited mail of
    # the day, since whoever types it now may not be them).
    assert post_form(client, URL, name="Ola", email="ola@example.no").status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FormMailSuppression)) == 0
    assert [m.kind for m in mail_to(app, "ola@example.no")] == ["confirmation"]
    assert post_form(app.test_client(), "/samlinger/lunsj", email="per@example.no",
                     **colleagues(("Ola", "ola@example.no"))).status_code == 429
