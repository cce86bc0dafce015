"""Many people registering at once over HTTP, through a live server and a real SMTP server."""

import re
import threading
import urllib.parse
import urllib.request
from collections import Counter
from datetime import timedelta
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import Registration, RegistrationStatus
from tests.live_server import serving

SEATS = 7
PEOPLE = 60


def told_place(message) -> int:
    """The waiting-list number in a delivered mail's text body (Bokmål)."""
    [number] = re.findall(r"venteliste som nummer (\d+)", message.get_body(("plain",)).get_content())
    return int(number)


def register_over_http(base_url: str, slug: str, n: int, barrier: threading.Barrier) -> int:
    """GET the form, wait for everyone, POST it; returns the final status code."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base_url}/samlinger/{slug}", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({
        "csrf_token": token, "name": f"Person {n}", "email": f"person{n}@example.no",
        "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y",
    }).encode()
    barrier.wait()
    with opener.open(f"{base_url}/samlinger/{slug}", data=data, timeout=60) as response:
        return response.status


@pytest.fixture
def live_config(smtp_config):
    """Served over plain http on 127.0.0.1: the session cookie may not be https-only here."""
    smtp_config.update({"SESSION_COOKIE_SECURE": False,
                        "REGISTRATION_RATE_LIMIT": "1000 per minute"})
    return smtp_config


def test_last_seats_over_http_never_overbook_and_everyone_gets_one_mail(
        live_config, app, smtp_server, make_gathering):
    with app.app_context():
        slug = make_gathering(capacity=SEATS, now=utcnow(),
                              starts_at=utcnow() + timedelta(days=5)).slug
        db.session.commit()

    barrier = threading.Barrier(PEOPLE)
    statuses: list[int] = []
    with serving(app) as base_url:
        threads = [threading.Thread(
            target=lambda n=n: statuses.append(register_over_http(base_url, slug, n, barrier)))
            for n in range(PEOPLE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == [200] * PEOPLE  # each followed the 303 to its receipt

    with app.app_context():
        while delivery.deliver_due().claimed:
            pass
        people = db.session.scalars(sa.select(Registration)).all()
        confirmed = [p for p in people if p.status == RegistrationStatus.CONFIRMED]
        waiting = sorted((p for p in people if p.status == RegistrationStatus.WAITING),
                         key=lambda p: (p.waiting_since, p.id))
        assert len(people) == PEOPLE
        assert len(confirmed) == SEATS
        # The waiting list is in arrival order: positions 1..n follow the time each joined.
        assert [rsvp.waiting_position(p) for p in waiting] == list(range(1, PEOPLE - SEATS + 1))

    received = Counter(e.rcpt_tos[0] for e in smtp_server.handler.messages)
    assert set(received.values()) == {1}
    assert len(received) == PEOPLE
    subjects = {m["To"].addresses[0].addr_spec: str(m["Subject"])
                for m in smtp_server.handler.parsed()}
    assert sorted(s.split(":")[0] for s in subjects.values()) == (
        ["Påmeldt"] * SEATS + ["Venteliste"] * (PEOPLE - SEATS))
    with app.app_context():
        for person in confirmed:
            assert subjects[person.email].startswith("Påmeldt")
        # Each person on the waiting list was mailed the place they really have.
        places = {p.email: place for p, place in zip(waiting, range(1, PEOPLE - SEATS + 1), strict=True)}
    told = {m["To"].addresses[0].addr_spec: told_place(m) for m in smtp_server.handler.parsed()
            if str(m["Subject"]).startswith("Venteliste")}
    assert told == places


def test_one_organisation_over_http_gets_no_more_than_its_cap_and_is_told_why(
        live_config, app, smtp_server, make_gathering):
    """Fair seats (issue 16): 8 people of one organisation race for 5 seats with a cap of 2."""
    from klynge_rsvp.seat_rule_changes import Change, change

    people = 8
    with app.app_context():
        gathering = make_gathering(capacity=5, now=utcnow(), starts_at=utcnow() + timedelta(days=5))
        change(gathering, Change(2), now=utcnow(), by=None)
        slug = gathering.slug
        db.session.commit()

    barrier = threading.Barrier(people)
    statuses: list[int] = []
    with serving(app) as base_url:
        threads = [threading.Thread(
            target=lambda n=n: statuses.append(register_over_http(base_url, slug, n, barrier)))
            for n in range(people)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == [200] * people

    with app.app_context():
        while delivery.deliver_due().claimed:
            pass
        found = db.session.scalars(sa.select(Registration.status)).all()
        assert found.count(RegistrationStatus.CONFIRMED) == 2
        assert found.count(RegistrationStatus.WAITING) == people - 2
    waiting_mail = [m for m in smtp_server.handler.parsed()
                    if str(m["Subject"]).startswith("Venteliste")]
    assert len(waiting_mail) == people - 2
    for message in waiting_mail:
        plain = " ".join(message.get_body(("plain",)).get_content().split())
        assert "Hver virksomhet kan få høyst 2 plasser, og virksomheten din har allerede fått dem." \
            in plain
    assert sorted(told_place(m) for m in waiting_mail) == list(range(1, people - 1))
