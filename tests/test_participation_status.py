"""What each personal calendar message says about the registrant (docs/calendar.md).

A message that asks for an answer says the person has not answered (PARTSTAT=NEEDS-ACTION,
RSVP=TRUE); one that sends the same invitation again repeats the answer their calendar gave
(RSVP=FALSE), so it is not reset; a CANCEL asks for nothing (RSVP=FALSE) and claims a decline
only when the person declined. Read from the queued raw mail by icalendar and by vobject.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from klynge_rsvp import lifecycle, reminders, rsvp
from klynge_rsvp.extensions import db
from klynge_rsvp.models import OutboxMessage
from tests.conftest import NOW, registration_request
from tests.lifecycle_helpers import organiser, queued

ASKS = ("NEEDS-ACTION", "TRUE")


def attendee(row) -> tuple[str, str | None, str]:
    """(METHOD, PARTSTAT or None, RSVP) of the mail's one ATTENDEE, as both engines read it."""
    message = message_from_bytes(row.message, policy=policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    cal = icalendar.Calendar.from_ical(data)
    [event] = cal.walk("VEVENT")
    params = event["ATTENDEE"].params
    read = (str(cal["METHOD"]), params.get("PARTSTAT"), params["RSVP"])
    vevent = vobject.readOne(data.decode()).vevent
    vparams = vevent.attendee.params
    assert (vobject.readOne(data.decode()).method.value, vparams.get("PARTSTAT", [None])[0],
            vparams["RSVP"][0]) == read
    return read


def last(kind: str, registration):
    return [row for row in queued(kind=kind) if row.registration_id == registration.id][-1]


@pytest.fixture
def gathering(ctx, make_gathering):
    return make_gathering(capacity=2, reminder_days_before=2)


def register(gathering, n):
    [outcome] = rsvp.register(gathering, registration_request(n), now=NOW)
    return outcome.registration


def test_a_new_seat_asks_for_an_answer(gathering):
    first, second, third = (register(gathering, n) for n in (1, 2, 3))
    assert attendee(last("confirmation", first)) == ("REQUEST", *ASKS)
    rsvp.cancel(first, now=NOW)
    assert attendee(last("cancellation", first)) == ("CANCEL", "DECLINED", "FALSE")
    assert attendee(last("promotion", third)) == ("REQUEST", *ASKS)
    assert second.status.value == "confirmed"


def test_the_same_invitation_again_repeats_the_persons_answer(gathering):
    person = register(gathering, 1)
    reminders.send_reminders(gathering, now=gathering.starts_at - timedelta(days=1))
    assert attendee(last("reminder", person)) == ("REQUEST", *ASKS)  # no answer yet: still asks

    person.calendar_partstat = "TENTATIVE"  # what replies.py records from their calendar
    rsvp.register(gathering, registration_request(1), now=NOW + timedelta(minutes=5))
    assert attendee(last("already_registered", person)) == ("REQUEST", "TENTATIVE", "FALSE")

    person.calendar_partstat = "ACCEPTED"
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    reminders.send_reminders(gathering, now=gathering.starts_at - timedelta(days=1))
    assert attendee(last("reminder", person)) == ("REQUEST", "ACCEPTED", "FALSE")


def test_a_new_time_asks_again_and_forgets_the_old_answer(gathering):
    person = register(gathering, 1)
    person.calendar_partstat = "ACCEPTED"
    starts = gathering.starts_at + timedelta(hours=2)
    lifecycle.move(gathering, starts_at=starts, ends_at=starts + timedelta(hours=2),
                   venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                   message="", now=NOW, by=organiser())
    assert attendee(last("gathering_moved", person)) == ("REQUEST", *ASKS)
    db.session.refresh(person)
    assert person.calendar_partstat is None
    reminders.send_reminders(gathering, now=starts - timedelta(days=1))
    assert attendee(last("reminder", person)) == ("REQUEST", *ASKS)


def test_postponed_rescheduled_and_cancelled(gathering):
    person = register(gathering, 1)
    person.calendar_partstat = "ACCEPTED"
    by = organiser()
    lifecycle.postpone(gathering, message="", now=NOW, by=by)
    assert attendee(last("gathering_postponed", person)) == ("CANCEL", None, "FALSE")
    starts = gathering.starts_at + timedelta(days=14)
    lifecycle.reschedule(gathering, starts_at=starts, ends_at=starts + timedelta(hours=2),
                         venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                         reconfirm_deadline=starts - timedelta(days=7), message="", now=NOW, by=by)
    assert attendee(last("gathering_rescheduled", person)) == ("REQUEST", *ASKS)  # "still coming?"
    reminders.send_reconfirm_reminders(gathering, now=starts - timedelta(days=6))
    assert attendee(last("reconfirm_reminder", person)) == ("REQUEST", *ASKS)
    lifecycle.cancel(gathering, message="", now=NOW, by=by)
    assert attendee(last("gathering_cancelled", person)) == ("CANCEL", None, "FALSE")
