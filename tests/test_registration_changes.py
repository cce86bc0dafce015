"""Changing a registration (issue 15): the details, an organiser's address correction, and
registering again after cancelling. The mail each sends is read as received: the raw header
block by tests/mail_checks.py, the calendar part by icalendar and by vobject."""

from __future__ import annotations

import threading
from datetime import timedelta
from email import message_from_bytes, policy

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import history, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError, RegistrationClosed
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    AuditEntry,
    Gathering,
    OutboxMessage,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    Sector,
)
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, registration_request
from tests.lifecycle_helpers import organiser, queued
from tests.mail_checks import check_raw, readings

LATER = NOW + timedelta(hours=1)


@pytest.fixture
def gathering(ctx, make_gathering):
    return make_gathering(capacity=2)


def register(gathering, n, **overrides):
    [outcome] = rsvp.register(gathering, registration_request(n, **overrides), now=NOW)
    return outcome.registration


def details(registration, **changes) -> rsvp.Details:
    values = {"name": registration.name, "job_title": registration.job_title,
              "organisation_name": registration.organisation.name,
              "sector": registration.organisation.sector, "needs": registration.needs}
    return rsvp.Details(**{**values, **changes})


def calendar_of(raw: bytes) -> dict:
    """The calendar part as icalendar and vobject both read it (asserted to agree)."""
    message = message_from_bytes(raw, policy=policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    cal = icalendar.Calendar.from_ical(data)
    [event] = cal.walk("VEVENT")
    attendee = event["ATTENDEE"]
    read = {"method": str(cal["METHOD"]), "uid": str(event["UID"]),
            "sequence": int(event["SEQUENCE"]), "attendee": str(attendee).lower(),
            "cn": attendee.params.get("CN"), "partstat": attendee.params.get("PARTSTAT"),
            "rsvp": attendee.params.get("RSVP"), "status": str(event.get("STATUS")),
            "content_method": part.get_param("method")}
    vcal = vobject.readOne(data.decode())
    vevent = vcal.vevent
    assert {"method": vcal.method.value, "uid": vevent.uid.value,
            "sequence": int(vevent.sequence.value), "attendee": vevent.attendee.value.lower(),
            "cn": vevent.attendee.params.get("CN", [None])[0],
            "partstat": vevent.attendee.params.get("PARTSTAT", [None])[0],
            "rsvp": vevent.attendee.params.get("RSVP", [None])[0],
            "status": vevent.status.value, "content_method": read["content_method"]} == read
    return read


def text_of(raw: bytes) -> tuple[str, str]:
    message = message_from_bytes(raw, policy=policy.default)
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def received_as(row: OutboxMessage) -> tuple[str, str]:
    """(display name, address) of To, the same for every decoder; the header block clean."""
    assert check_raw(row.message) == []
    found = {reading.to[0] for reading in readings(row.message).values()}
    assert len(found) == 1, found
    return found.pop()


def events(registration) -> list[tuple[str, str]]:
    return [(e.kind, " ".join(history.changed_fields(e)) or shown(e, "note")) for e in db.session.scalars(
        sa.select(RegistrationEvent).where(RegistrationEvent.registration_id == registration.id)
        .order_by(RegistrationEvent.id))]


# --- the details --------------------------------------------------------------------------------


def test_a_new_name_sends_the_invitation_again_at_a_higher_sequence(gathering):
    person = register(gathering, 1)
    [confirmation] = queued(kind="confirmation")
    before = calendar_of(confirmation.message)

    changed = rsvp.change_details(person, details(person, name="Åse Ødegård-Nilsen"), now=LATER)

    assert changed == ["name"]
    [mail] = queued(kind="details_changed")
    assert mail.registration_id == person.id and mail.recipient == "deltaker1@example.no"
    assert received_as(mail) == ("Åse Ødegård-Nilsen", "deltaker1@example.no")
    after = calendar_of(mail.message)
    assert after["method"] == after["content_method"] == "REQUEST"
    assert after["uid"] == before["uid"]
    assert after["sequence"] == before["sequence"] + 1
    assert after["cn"] == "Åse Ødegård-Nilsen" and after["status"] == "CONFIRMED"
    assert (after["partstat"], after["rsvp"]) == ("NEEDS-ACTION", "TRUE")  # nothing answered yet
    assert events(person)[-1] == ("details_changed", "name")


def test_a_new_name_repeats_the_answer_the_calendar_gave(gathering):
    person = register(gathering, 1)
    person.calendar_partstat = "ACCEPTED"  # replies.py records it from their calendar
    rsvp.change_details(person, details(person, name="Deltaker Én"), now=LATER)
    [mail] = queued(kind="details_changed")
    read = calendar_of(mail.message)
    assert (read["partstat"], read["rsvp"]) == ("ACCEPTED", "FALSE")
    assert person.calendar_partstat == "ACCEPTED"


def test_job_title_organisation_and_needs_send_nothing(gathering):
    person = register(gathering, 1)
    sequence, rows = person.ical_sequence, len(queued())

    changed = rsvp.change_details(person, details(
        person, job_title="Seniorrådgiver", organisation_name="Vestland fylkeskommune",
        needs="Glutenfritt"), now=LATER)

    assert changed == ["job_title", "organisation", "needs"]
    assert len(queued()) == rows  # not shown in the invitation: no mail
    assert person.ical_sequence == sequence
    assert (person.job_title, person.organisation.name, person.needs) == (
        "Seniorrådgiver", "Vestland fylkeskommune", "Glutenfritt")
    assert events(person)[-1] == ("details_changed", "job_title organisation needs")


def test_nothing_changed_writes_and_sends_nothing(gathering):
    person = register(gathering, 1)
    rows, history = len(queued()), events(person)
    assert rsvp.change_details(person, details(person), now=LATER) == []
    assert len(queued()) == rows and events(person) == history


def test_a_new_name_on_the_waiting_list_sends_nothing(gathering):
    register(gathering, 1), register(gathering, 2)
    waiting = register(gathering, 3)
    rows = len(queued())
    assert rsvp.change_details(waiting, details(waiting, name="Ny Navnesen"), now=LATER) == ["name"]
    assert len(queued()) == rows  # no invitation to update


def test_a_cancelled_person_cannot_change_their_details(gathering):
    person = register(gathering, 1)
    rsvp.cancel(person, now=NOW)
    with pytest.raises(DomainError):
        rsvp.change_details(person, details(person, name="Ny"), now=LATER)
    assert person.name == "Deltaker 1"


def test_an_organisers_change_is_audited(gathering):
    person = register(gathering, 1)
    by = organiser()
    rsvp.change_details(person, details(person, needs="Rullestol"), now=LATER, by=by)
    [event] = [e for e in person.events if e.kind == "details_changed"]
    assert event.organiser == by and history.changed_fields(event) == ["needs"]
    assert db.session.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) \
        == "change_registration"


# --- correcting an address --------------------------------------------------------------------


def test_a_corrected_address_gets_the_invitation_and_the_old_one_a_cancel(gathering):
    person = register(gathering, 1, person=registration_request(1).person.__class__(
        "Kari Nordmann", "kari@exampel.no", "Rådgiver"))
    old_token = person.token
    [confirmation] = queued(kind="confirmation")
    before = calendar_of(confirmation.message)
    by = organiser()

    rsvp.correct_address(person, "kari@example.no", now=LATER, by=by)

    assert (person.email, person.email_key) == ("kari@example.no", "kari@example.no")
    assert person.token != old_token
    assert rsvp.find_by_token(old_token) is None  # the old address's link stops working
    [withdrawn] = queued(kind="address_withdrawn")
    [corrected] = queued(kind="address_corrected")
    assert withdrawn.id < corrected.id  # the old entry goes before the new one comes

    assert withdrawn.recipient == "kari@exampel.no"
    assert received_as(withdrawn) == ("Kari Nordmann", "kari@exampel.no")
    cancel = calendar_of(withdrawn.message)
    assert cancel["method"] == cancel["content_method"] == "CANCEL"
    assert cancel["uid"] == before["uid"] and cancel["sequence"] == before["sequence"] + 1
    assert cancel["attendee"] == "mailto:kari@exampel.no"
    assert (cancel["partstat"], cancel["rsvp"], cancel["status"]) == (None, "FALSE", "CANCELLED")
    old_text, old_html = text_of(withdrawn.message)
    for body in (old_text, old_html):  # a stranger's address: no link into the registration
        assert old_token not in body and person.token not in body and "/pamelding/" not in body

    assert corrected.recipient == "kari@example.no"
    assert received_as(corrected) == ("Kari Nordmann", "kari@example.no")
    invitation = calendar_of(corrected.message)
    assert invitation["method"] == invitation["content_method"] == "REQUEST"
    assert invitation["uid"] == before["uid"] and invitation["sequence"] == before["sequence"] + 1
    assert invitation["attendee"] == "mailto:kari@example.no"
    assert (invitation["partstat"], invitation["rsvp"]) == ("NEEDS-ACTION", "TRUE")
    new_text, new_html = text_of(corrected.message)
    assert f"/pamelding/{person.token}" in new_text and f"/pamelding/{person.token}" in new_html

    assert events(person)[-1] == ("address_corrected", "email")
    audit = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert audit.action == "correct_address" and audit.organiser == by
    assert "kari@exampel.no → kari@example.no" in shown(audit, "summary")


def test_a_corrected_address_on_the_waiting_list_gets_its_place_and_no_calendar(gathering):
    register(gathering, 1), register(gathering, 2)
    waiting = register(gathering, 3)
    rsvp.correct_address(waiting, "ny3@example.no", now=LATER, by=organiser())
    assert queued(kind="address_withdrawn") == []  # the old address held no calendar entry
    [corrected] = queued(kind="address_corrected")
    message = message_from_bytes(corrected.message, policy=policy.default)
    assert not [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert "venteliste som nummer 1" in text_of(corrected.message)[0]


@pytest.mark.parametrize("address", ["deltaker1@EXAMPLE.no", "deltaker2@example.no",
                                     "invitasjoner@rsvp.test"])
def test_an_address_correction_that_cannot_be_is_refused_and_changes_nothing(gathering, app,
                                                                             address):
    app.config["MAIL_DEFAULT_SENDER"] = "Klynge <invitasjoner@rsvp.test>"
    person = register(gathering, 1)
    register(gathering, 2)
    db.session.commit()
    token, rows = person.token, len(queued())
    with pytest.raises(DomainError):
        rsvp.correct_address(person, address, now=LATER, by=organiser())
    db.session.rollback()
    person = db.session.get(Registration, person.id)
    assert (person.email, person.token) == ("deltaker1@example.no", token)
    assert len(queued()) == rows


# --- registering again ---------------------------------------------------------------------------


def test_registering_again_gives_a_seat_and_an_invitation_that_outranks_the_cancel(gathering):
    person = register(gathering, 1)
    rsvp.cancel(person, now=NOW)
    [cancellation] = queued(kind="cancellation")
    cancelled = calendar_of(cancellation.message)

    rsvp.register_again(person, now=LATER)

    assert person.status == RegistrationStatus.CONFIRMED and person.cancelled_at is None
    confirmation = queued(kind="confirmation")[-1]
    again = calendar_of(confirmation.message)
    assert again["method"] == "REQUEST" and again["uid"] == cancelled["uid"]
    assert again["sequence"] == cancelled["sequence"] + 1
    assert (again["partstat"], again["rsvp"]) == ("NEEDS-ACTION", "TRUE")
    assert events(person)[-1] == ("registered_again", "")


def test_registering_again_when_full_goes_last_on_the_waiting_list(gathering):
    person = register(gathering, 1)
    rsvp.cancel(person, now=NOW)
    register(gathering, 2), register(gathering, 3)
    fourth = register(gathering, 4)  # waiting, number 1
    rsvp.register_again(person, now=LATER)
    assert person.status == RegistrationStatus.WAITING
    assert (rsvp.waiting_position(fourth), rsvp.waiting_position(person)) == (1, 2)
    mail = queued(kind="waiting_list")[-1]
    assert mail.registration_id == person.id
    assert "venteliste som nummer 2" in text_of(mail.message)[0]
    assert events(person)[-1] == ("waiting_again", "")


def test_registering_again_after_the_deadline_is_refused(gathering):
    person = register(gathering, 1)
    rsvp.cancel(person, now=NOW)
    with pytest.raises(RegistrationClosed):
        rsvp.register_again(person, now=gathering.starts_at + timedelta(minutes=1))
    assert person.status == RegistrationStatus.CANCELLED


def test_registering_again_twice_changes_nothing_the_second_time(gathering):
    person = register(gathering, 1)
    rsvp.cancel(person, now=NOW)
    rsvp.register_again(person, now=LATER)
    rows = len(queued())
    rsvp.register_again(person, now=LATER + timedelta(seconds=1))
    assert len(queued()) == rows and person.status == RegistrationStatus.CONFIRMED


def test_registering_again_at_once_never_overbooks(app, make_gathering):
    """Six people who cancelled press "register again" at the same moment for two free seats:
    two get them, four go on the waiting list, each told their true place."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=2, now=now, starts_at=now + timedelta(days=5))
        people = [rsvp.register(gathering, registration_request(n), now=now)[0].registration
                  for n in range(8)]
        for registration in people:  # everyone cancels: both seats are free again
            rsvp.cancel(registration, now=now)
        db.session.commit()
        gathering_id, ids = gathering.id, [r.id for r in people[2:8]]

    barrier = threading.Barrier(len(ids))
    errors = []

    def again(registration_id):
        with app.app_context():
            try:
                barrier.wait()
                registration = db.session.get(Registration, registration_id)
                rsvp.register_again(registration, now=utcnow())
                db.session.commit()
            except Exception as error:  # asserted below
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=again, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        statuses = [db.session.get(Registration, i).status for i in ids]
        assert statuses.count(RegistrationStatus.CONFIRMED) == 2
        assert statuses.count(RegistrationStatus.WAITING) == 4
        assert rsvp.confirmed_count(gathering) == 2
        assert sorted(rsvp.waiting_positions(gathering).values()) == [1, 2, 3, 4]
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).where(
            OutboxMessage.registration_id.in_(ids), OutboxMessage.created_at > now)).all()
        assert kinds.count("confirmation") == 2 and kinds.count("waiting_list") == 4


def test_sector_is_kept_for_a_known_organisation(gathering):
    person = register(gathering, 1)
    rsvp.change_details(person, details(person, sector=Sector.PRIVATE), now=LATER)
    assert person.organisation.sector == Sector.PUBLIC  # organisations.find_or_create's rule


def test_a_corrected_address_at_a_postponed_gathering_keeps_the_seat_without_a_calendar(gathering):
    from klynge_rsvp import lifecycle

    person = register(gathering, 1)
    by = organiser()
    lifecycle.postpone(gathering, message="", now=NOW, by=by)  # the entry was cancelled then
    rsvp.correct_address(person, "ny1@example.no", now=LATER, by=by)
    assert queued(kind="address_withdrawn") == []
    [corrected] = queued(kind="address_corrected")
    message = message_from_bytes(corrected.message, policy=policy.default)
    assert not [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    plain = text_of(corrected.message)[0]
    assert "Du har plass på samlingen." in plain and "venteliste" not in plain
