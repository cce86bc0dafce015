"""A name that reads as a link is shown nowhere in mail: not in the greeting, not beside the
address in To, not as the invitation's attendee name. Also in notices composed by the mail
merge for many people at once, and in announcements."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import icalendar

from klynge_rsvp import announcements, lifecycle, rsvp
from klynge_rsvp.models import Audience
from tests.conftest import NOW, person, registration_request
from tests.lifecycle_helpers import organiser, queued

LINK_NAME = "Win a prize at evil.example"


def shows_no_link(row) -> None:
    message = message_from_bytes(row.message, policy=policy.default)
    assert "evil" not in str(message["To"]).lower()
    for part in message.walk():
        if part.is_multipart():
            continue
        content = part.get_payload(decode=True)
        assert b"evil.example" not in content, (row.kind, part.get_content_type())
        if part.get_content_type() == "text/calendar":
            [event] = icalendar.Calendar.from_ical(content).walk("VEVENT")
            assert "CN" not in event["ATTENDEE"].params


def test_a_link_like_name_is_shown_in_no_mail(ctx, make_gathering):
    gathering = make_gathering()
    for n in range(1, 5):  # enough for the mail merge to compose the notices
        rsvp.register(gathering, registration_request(n), now=NOW)
    [outcome] = rsvp.register(gathering, registration_request(
        9, person=person(9, name=LINK_NAME)), now=NOW)
    by = organiser()
    starts = gathering.starts_at + timedelta(hours=1)
    lifecycle.move(gathering, starts_at=starts, ends_at=starts + timedelta(hours=2),
                   venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                   message="", now=NOW, by=by)
    announcement = announcements.create(gathering=gathering, audience=Audience.CONFIRMED,
                                        subject="Hei", body="Velkommen", by=by, now=NOW)
    announcements.send(announcement, by=by, now=NOW)
    mine = [row for row in queued() if row.registration_id == outcome.registration.id]
    assert {row.kind for row in mine} == {"confirmation", "gathering_moved", "announcement"}
    for row in mine:
        shows_no_link(row)
    others = [row for row in queued(kind="gathering_moved") if row not in mine]
    assert all(b"Deltaker" in row.message for row in others)  # the others keep their names
