"""The whole life of a gathering as the registrants' mailboxes and calendars see it.

Invite, move, postpone, new date, "still coming?" answered yes and no, cancel: every message
goes through a real SMTP server and is read back, its calendar part by icalendar and vobject.
The organiser's forms and the participant's pages are driven through the test client.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from klynge_rsvp import calendars, lifecycle
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import when
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import (
    AuditEntry,
    Gathering,
    GatheringStatus,
    OutboxMessage,
    Reconfirmation,
    Registration,
    RegistrationStatus,
)
from tests.lifecycle_helpers import html_body, read_invite, register, text_body
from tests.pages import csrf_token, text

SENDER = "mailto:klynge@rsvp.test"
TITLE = "Frokostmøte om beredskap"


@pytest.fixture
def smtp(smtp_config, app, smtp_server):
    """An app context of an app that delivers to the live test SMTP server."""
    with app.app_context():
        yield smtp_server
        db.session.rollback()


def deliver(smtp_server) -> list[EmailMessage]:
    """Commit, run one delivery pass, and return what the server accepted, parsed."""
    db.session.commit()
    seen = len(smtp_server.handler.messages)
    report = delivery.deliver_due()
    assert report.retrying == [] and report.failed == [], report
    arrived = smtp_server.handler.parsed()[seen:]
    assert len(arrived) == len(report.sent)
    return arrived


def recipient(message: EmailMessage) -> str:
    [address] = message["To"].addresses
    return address.addr_spec


def person_of(n: int) -> str:
    return f"deltaker{n}@example.no"


def link(pattern: str, message: EmailMessage) -> str:
    """The path of the first link in the plain text that matches `pattern`."""
    match = re.search(pattern, text_body(message))
    assert match, pattern
    url = urlsplit(match.group(0))
    return f"{url.path}?{url.query}" if url.query else url.path


def test_the_whole_story_reaches_every_mailbox_and_calendar(smtp, client, make_gathering):
    start = utcnow().replace(microsecond=0) + timedelta(days=30)
    gathering = make_gathering(now=utcnow(), starts_at=start, capacity=2)
    gathering_id = gathering.id
    register(gathering, 1, 2, 3, now=utcnow())  # 3 on the waiting list
    mailbox: dict[str, list[tuple[str, EmailMessage]]] = {}

    def step(name: str, expected: set[str]) -> dict[str, EmailMessage]:
        arrived = deliver(smtp)
        found = {recipient(m): m for m in arrived}
        assert len(found) == len(arrived), f"{name}: two messages to one person"
        assert set(found) == expected, name
        for address, message in found.items():
            mailbox.setdefault(address, []).append((name, message))
        return found

    step("invite", {person_of(1), person_of(2), person_of(3)})
    first_uid = gathering.ical_uid

    # --- moved to a known new date and place --------------------------------------------
    old_when = when(gathering.starts_at, gathering.ends_at)
    new_start = start + timedelta(days=7, hours=1)
    lifecycle.move(gathering, starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                   venue_name="Bergen rådhus", venue_address="Rådhusgaten 10, 5014 Bergen",
                   message="Salen var dobbeltbooket.", now=utcnow(), by=None)
    moved = step("move", {person_of(1), person_of(2), person_of(3)})
    body = text_body(moved[person_of(1)])
    assert f"Før: {old_when}" in body
    assert f"Nå:  {when(new_start, new_start + timedelta(hours=2))}" in body
    assert "Nå:  Bergen rådhus, Rådhusgaten 10, 5014 Bergen" in body
    assert "Salen var dobbeltbooket." in html_body(moved[person_of(1)])

    # --- postponed indefinitely ---------------------------------------------------------
    lifecycle.postpone(gathering, message="Foredragsholderen er syk.", now=utcnow(), by=None)
    postponed = step("postpone", {person_of(1), person_of(2), person_of(3)})
    body = text_body(postponed[person_of(1)])
    assert "utsatt på ubestemt tid" in body
    assert "en kalender ikke kan vise en samling uten dato" in body
    assert "får du en ny kalenderinvitasjon" in body
    page = client.get(f"/samlinger/{gathering.slug}")
    assert "Utsatt på ubestemt tid" in text(page.text)
    assert "Foredragsholderen er syk." in text(page.text)
    assert 'name="csrf_token"' not in page.text  # no registration form

    # --- given a new date: a new calendar identity ---------------------------------------
    third_start = start + timedelta(days=60)
    lifecycle.reschedule(gathering, starts_at=third_start, ends_at=third_start + timedelta(hours=3),
                         venue_name="Bergen rådhus", venue_address="Rådhusgaten 10, 5014 Bergen",
                         reconfirm_deadline=third_start - timedelta(days=10), message="",
                         now=utcnow(), by=None)
    second_uid = gathering.ical_uid
    assert second_uid == calendars.uid_for_generation(first_uid, 2) != first_uid
    rescheduled = step("reschedule", {person_of(1), person_of(2), person_of(3)})

    # --- person 1 says yes from the link in their mail: GET shows, POST records ---------
    yes_path = link(r"https://rsvp\.test/pamelding/[^/\s]+/ny-dato\?svar=ja",
                    rescheduled[person_of(1)])
    page = client.get(yes_path)
    assert page.status_code == 200
    assert re.search(r'<input[^>]*checked[^>]*value="ja"|<input[^>]*value="ja"[^>]*checked',
                     page.text)
    db.session.expire_all()
    one = db.session.scalar(sa.select(Registration).where(Registration.email == person_of(1)))
    assert one.reconfirmation == Reconfirmation.PENDING  # a GET never changes anything
    answer = client.post(urlsplit(yes_path).path,
                         data={"csrf_token": csrf_token(page.text), "answer": "ja"})
    assert answer.status_code == 303
    db.session.expire_all()
    assert one.reconfirmation == Reconfirmation.YES
    step("yes", set())  # a yes sends nothing

    # --- person 2 says no: seat freed, 3 promoted ---------------------------------------
    no_path = link(r"https://rsvp\.test/pamelding/[^/\s]+/ny-dato\?svar=nei",
                   rescheduled[person_of(2)])
    page = client.get(no_path)
    assert re.search(r'<input[^>]*checked[^>]*value="nei"|<input[^>]*value="nei"[^>]*checked',
                     page.text)
    client.post(urlsplit(no_path).path, data={"csrf_token": csrf_token(page.text), "answer": "nei"})
    answered = step("no", {person_of(2), person_of(3)})
    assert answered[person_of(2)]["Subject"] == f"Avmeldt: {TITLE}"
    assert answered[person_of(3)]["Subject"] == f"Du har fått plass: {TITLE}"

    # --- cancelled by the organisers ------------------------------------------------------
    gathering = db.session.get(Gathering, gathering_id)
    lifecycle.cancel(gathering, message="For få påmeldte.", now=utcnow(), by=None)
    step("cancel", {person_of(1), person_of(3)})
    page = client.get(f"/samlinger/{gathering.slug}")
    assert "Avlyst" in text(page.text) and "For få påmeldte." in text(page.text)

    # --- what each person received, against docs/calendar.md's table ---------------------
    U1, U2 = first_uid, second_uid
    expected = {
        person_of(1): [("invite", "REQUEST", U1, "CONFIRMED"), ("move", "REQUEST", U1, "CONFIRMED"),
                       ("postpone", "CANCEL", U1, "CANCELLED"),
                       ("reschedule", "REQUEST", U2, "CONFIRMED"),
                       ("cancel", "CANCEL", U2, "CANCELLED")],
        person_of(2): [("invite", "REQUEST", U1, "CONFIRMED"), ("move", "REQUEST", U1, "CONFIRMED"),
                       ("postpone", "CANCEL", U1, "CANCELLED"),
                       ("reschedule", "REQUEST", U2, "CONFIRMED"),
                       ("no", "CANCEL", U2, "CANCELLED")],
        person_of(3): [("invite", None, None, None), ("move", None, None, None),
                       ("postpone", None, None, None), ("reschedule", None, None, None),
                       ("no", "REQUEST", U2, "CONFIRMED"), ("cancel", "CANCEL", U2, "CANCELLED")],
    }
    for address, received in mailbox.items():
        seen = []
        for name, message in received:
            invite = read_invite(message)
            if invite is None:
                seen.append((name, None, None, None))
                continue
            seen.append((name, invite.method, invite.uid, invite.status))
            assert invite.mime_method == invite.method  # MIME method= equals METHOD inside
            assert invite.attendees == [f"mailto:{address}"]
            received_at = message["Date"].datetime
            assert abs(invite.dtstamp - received_at) < timedelta(minutes=1)  # fresh
        assert seen == expected[address], address

        invites = [(read_invite(m), name) for name, m in received if read_invite(m)]
        for (earlier, _), (later, name) in itertools.pairwise(invites):
            assert later.dtstamp >= earlier.dtstamp, (address, name)
            if later.uid == earlier.uid:
                assert later.sequence > earlier.sequence, (address, name)  # strictly increasing
        postponement = next(i for i, name in invites if name == "postpone") if address != \
            person_of(3) else None
        if postponement:
            assert postponement.summary == f"Utsatt: {TITLE}" and postponement.sequence == 2
        new_invite = next((i for i, name in invites if i.uid == U2), None)
        assert new_invite.sequence == 0 and new_invite.start == third_start


def test_double_submitted_organiser_forms_send_each_person_one_notice(
        smtp, organiser_client, make_gathering):
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=20))
    register(gathering, 1, 2, now=utcnow())
    deliver(smtp)
    url = f"/arrangor/samlinger/{gathering.id}"

    # Postpone: the form, the preview (which sends nothing), then the confirming button twice.
    form = organiser_client.get(f"{url}/utsett")
    assert form.status_code == 200
    data = {"csrf_token": csrf_token(form.text), "message": "Foredragsholderen er syk."}
    preview = organiser_client.post(f"{url}/utsett", data={**data, "preview": "1"})
    assert preview.status_code == 200
    assert "Foredragsholderen er syk." in text(preview.text)
    assert deliver(smtp) == []
    db.session.expire_all()
    assert db.session.get(Gathering, gathering.id).status == GatheringStatus.PUBLISHED
    for _ in range(2):
        done = organiser_client.post(f"{url}/utsett", data={**data, "confirm": "1"})
        assert done.status_code == 303
    assert sorted(recipient(m) for m in deliver(smtp)) == [person_of(1), person_of(2)]

    # Give it a new date, twice.
    start = utcnow() + timedelta(days=40)
    local = start.astimezone(calendars.local_zone("Europe/Oslo"))
    data = {"csrf_token": csrf_token(organiser_client.get(f"{url}/ny-dato").text),
            "start_date": f"{local:%Y-%m-%d}", "start_time": "09:00", "end_time": "11:00",
            "venue_name": "Bergen rådhus", "venue_address": "",
            "deadline_date": f"{local - timedelta(days=7):%Y-%m-%d}", "message": "",
            "confirm": "1"}
    for _ in range(2):
        assert organiser_client.post(f"{url}/ny-dato", data=data).status_code == 303
    arrived = deliver(smtp)
    assert sorted(recipient(m) for m in arrived) == [person_of(1), person_of(2)]
    assert {read_invite(m).uid for m in arrived} == {
        calendars.uid_for_generation(gathering.ical_uid, 2)}

    # Move, twice; then cancel, twice.
    data.update(start_time="10:00", end_time="12:00")
    del data["deadline_date"]
    for _ in range(2):
        assert organiser_client.post(f"{url}/flytt", data=data).status_code == 303
    assert len(deliver(smtp)) == 2
    cancel = {"csrf_token": data["csrf_token"], "message": "Avlyst.", "confirm": "1"}
    for _ in range(2):
        assert organiser_client.post(f"{url}/avlys", data=cancel).status_code == 303
    assert len(deliver(smtp)) == 2
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in actions if a in {"move", "postpone", "reschedule", "cancel"}] == [
        "postpone", "reschedule", "move", "cancel"]


def test_the_preview_shows_the_notice_as_it_arrives_escaped_and_sandboxed(
        app, organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=20),
                                   capacity=1)
        register(gathering, 1, 2, now=utcnow())
        db.session.commit()
        url = f"/arrangor/samlinger/{gathering.id}/avlys"
    form = organiser_client.get(url)
    message = 'Beklager <script>alert("x")</script>'
    preview = organiser_client.post(url, data={"csrf_token": csrf_token(form.text),
                                               "message": message, "preview": "1"})
    assert preview.status_code == 200
    assert "<script>alert" not in preview.text
    assert "Til dem som har plass" in preview.text and "Til dem på ventelisten" in preview.text
    assert preview.text.count("<iframe") == 2
    assert re.search(r'<iframe[^>]*\bsandbox\b[^>]*srcdoc="', preview.text)
    assert "METHOD:CANCEL" in preview.text  # the calendar part, shown as text
    assert "får 2 personer varselet" in text(preview.text)
    policy = preview.headers["Content-Security-Policy"]
    assert "'unsafe-hashes'" in policy and "'sha256-" in policy
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2
        assert db.session.get(Gathering, gathering.id).status == GatheringStatus.PUBLISHED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_the_forms_refuse_what_cannot_be_done(app, organiser_client, make_gathering):
    with app.app_context():
        # A morning: from 22.00 Oslo time a two-hour gathering would end after midnight, a
        # time the form (one date, a start and an end time) cannot say.
        start = (utcnow() + timedelta(days=20)).replace(hour=8, minute=0, second=0, microsecond=0)
        gathering = make_gathering(now=utcnow(), starts_at=start)
        db.session.commit()
        url = f"/arrangor/samlinger/{gathering.id}"
    token = csrf_token(organiser_client.get(f"{url}/utsett").text)
    empty = organiser_client.post(f"{url}/utsett", data={"csrf_token": token, "preview": "1"})
    assert empty.status_code == 422 and "Skriv en beskjed til de påmeldte." in text(empty.text)
    unchanged = organiser_client.get(f"{url}/flytt")  # filled with the current time and place
    names = "start_date|start_time|end_time|venue_name|venue_address"
    fields = dict(re.findall(rf'name="({names})"[^>]*value="([^"]*)"', unchanged.text))
    same = organiser_client.post(f"{url}/flytt", data={"csrf_token": token, **fields,
                                                       "preview": "1"})
    assert same.status_code == 422 and "Tid og sted er de samme som nå." in text(same.text)
    not_postponed = organiser_client.post(f"{url}/ny-dato", data={
        "csrf_token": token, **fields, "deadline_date": fields["start_date"], "preview": "1"})
    assert not_postponed.status_code == 422
    assert "Bare en samling som er utsatt" in text(not_postponed.text)
    assert organiser_client.get("/arrangor/samlinger/9999/avlys").status_code == 404


def test_manage_page_asks_and_answers_with_one_click(smtp, client, make_gathering):
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=10))
    [one] = register(gathering, 1, now=utcnow())
    lifecycle.postpone(gathering, message="Syk.", now=utcnow(), by=None)
    start = utcnow() + timedelta(days=30)
    lifecycle.reschedule(gathering, starts_at=start, ends_at=start + timedelta(hours=2),
                         venue_name="Bergen rådhus", venue_address="", reconfirm_deadline=None,
                         message="", now=utcnow(), by=None)
    db.session.commit()
    page = client.get(f"/pamelding/{one.token}")
    assert "Kan du fortsatt komme?" in text(page.text)
    assert 'name="answer" value="ja"' in page.text and 'name="answer" value="nei"' in page.text
    answered = client.post(f"/pamelding/{one.token}/ny-dato",
                           data={"csrf_token": csrf_token(page.text), "answer": "ja"})
    assert answered.status_code == 303
    assert "Du har svart at du kommer." in text(client.get(f"/pamelding/{one.token}").text)
    db.session.expire_all()
    assert one.reconfirmation == Reconfirmation.YES and one.status == RegistrationStatus.CONFIRMED


def test_a_reconfirm_link_without_a_csrf_token_changes_nothing(smtp, client, make_gathering):
    gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=10))
    [one] = register(gathering, 1, now=utcnow())
    lifecycle.postpone(gathering, message="Syk.", now=utcnow(), by=None)
    start = utcnow() + timedelta(days=30)
    lifecycle.reschedule(gathering, starts_at=start, ends_at=start + timedelta(hours=2),
                         venue_name="Rådhuset", venue_address="", reconfirm_deadline=None,
                         message="", now=utcnow(), by=None)
    db.session.commit()
    assert client.get(f"/pamelding/{one.token}/ny-dato?svar=nei").status_code == 200
    assert client.post(f"/pamelding/{one.token}/ny-dato", data={"answer": "nei"}).status_code in (
        400, 422)
    db.session.expire_all()
    assert one.status == RegistrationStatus.CONFIRMED
    assert one.reconfirmation == Reconfirmation.PENDING
