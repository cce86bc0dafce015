"""The organisers' "move" and "new date" forms with a time the clocks skip or repeat (Europe/Oslo,
2030: summer time begins 31 March at 02.00 and ends 27 October at 03.00)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, GatheringStatus
from tests.lifecycle_helpers import outbox_invite, queued, register
from tests.pages import csrf_token, text

START = datetime(2030, 10, 20, 7, 0, tzinfo=UTC)


def move_form(**fields) -> dict:
    data = {"start_date": "2030-10-27", "start_time": "02:30", "end_time": "04:00", "end_date": "",
            "venue_name": "Ole Bull Scene", "venue_address": "", "message": ""}
    data.update(fields)
    return data


def hidden_fields(html: str) -> dict[str, str]:
    """The preview's confirming form: every field it carries, as it will post them."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def published(app, make_gathering) -> int:
    with app.app_context():
        gathering = make_gathering(now=utcnow(), starts_at=START)
        register(gathering, 1, now=utcnow())
        db.session.commit()
        return gathering.id


def test_moving_to_a_repeated_time_asks_which_and_invites_for_that_instant(
        app, organiser_client, make_gathering):
    gathering_id = published(app, make_gathering)
    url = f"/arrangor/samlinger/{gathering_id}/flytt"
    token = csrf_token(organiser_client.get(url).text)
    with app.app_context():
        before = len(queued())

    asked = organiser_client.post(url, data={"csrf_token": token, **move_form(), "preview": "1"})
    assert asked.status_code == 422
    assert '<a href="#start_time_occurrence-0">' in asked.text
    assert "Kl. 02.30 finnes to ganger søndag 27. oktober 2030." in text(asked.text)
    assert "02.30 normaltid (UTC+1), den andre, én time senere" in text(asked.text)
    assert 'value="02:30"' in asked.text and 'value="2030-10-27"' in asked.text
    with app.app_context():
        assert db.session.get(Gathering, gathering_id).starts_at == START
        assert len(queued()) == before

    preview = organiser_client.post(url, data={"csrf_token": token, **move_form(),
                                               "start_time_occurrence": "second", "preview": "1"})
    assert preview.status_code == 200, text(preview.text)
    carried = hidden_fields(preview.text)
    assert carried["start_time_occurrence"] == "second"
    done = organiser_client.post(url, data={"csrf_token": token, **carried, "confirm": "1"})
    assert done.status_code == 303
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        assert gathering.starts_at == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
        [row] = queued(kind="gathering_moved")
        invite = outbox_invite(row)  # icalendar and vobject agree on it
        assert invite.start == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)
        assert invite.end == datetime(2030, 10, 27, 3, 0, tzinfo=UTC)

    # Moving it again starts from the choice made.
    again = organiser_client.get(url)
    assert '<input checked id="start_time_occurrence-1"' in again.text


def test_moving_to_a_skipped_time_is_done_only_once_confirmed(app, organiser_client,
                                                              make_gathering):
    gathering_id = published(app, make_gathering)
    url = f"/arrangor/samlinger/{gathering_id}/flytt"
    token = csrf_token(organiser_client.get(url).text)
    spring = move_form(start_date="2030-03-31")
    asked = organiser_client.post(url, data={"csrf_token": token, **spring, "preview": "1"})
    assert asked.status_code == 422 and '<a href="#start_time_gap">' in asked.text
    assert "Bekrefter du, blir tidspunktet lagret som kl. 03.30." in text(asked.text)
    # The confirming button without the confirmation changes nothing either.
    refused = organiser_client.post(url, data={"csrf_token": token, **spring, "confirm": "1"})
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.get(Gathering, gathering_id).starts_at == START

    preview = organiser_client.post(url, data={"csrf_token": token, **spring, "preview": "1",
                                               "start_time_gap": "2030-03-31T02:30"})
    assert preview.status_code == 200
    carried = hidden_fields(preview.text)
    assert carried["start_time_gap"] == "2030-03-31T02:30"
    assert organiser_client.post(url, data={"csrf_token": token, **carried, "confirm": "1"}
                                 ).status_code == 303
    with app.app_context():
        assert db.session.get(Gathering, gathering_id).starts_at == datetime(
            2030, 3, 31, 1, 30, tzinfo=UTC)


def test_a_new_date_after_postponement_asks_about_its_deadline_too(app, organiser_client,
                                                                   make_gathering):
    gathering_id = published(app, make_gathering)
    base = f"/arrangor/samlinger/{gathering_id}"
    token = csrf_token(organiser_client.get(f"{base}/utsett").text)
    assert organiser_client.post(f"{base}/utsett", data={
        "csrf_token": token, "message": "Syk.", "confirm": "1"}).status_code == 303
    form = {"csrf_token": token, **move_form(start_date="2030-11-05", start_time="09:00",
                                             end_time="11:00"),
            "deadline_date": "2030-10-27", "deadline_time": "02:30", "preview": "1"}
    asked = organiser_client.post(f"{base}/ny-dato", data=form)
    assert asked.status_code == 422 and '<a href="#deadline_time_occurrence-0">' in asked.text
    with app.app_context():
        assert db.session.get(Gathering, gathering_id).status == GatheringStatus.POSTPONED
    done = organiser_client.post(f"{base}/ny-dato", data={
        **form, "deadline_time_occurrence": "first", "preview": "", "confirm": "1"})
    assert done.status_code == 303
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        assert gathering.reconfirm_deadline == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)
        assert gathering.starts_at - START == timedelta(days=16, hours=1)  # 09.00 in winter time
