"""Copying a gathering into a new draft: the words and place come along; the date, the
registrations, the mail and the material stay with the original."""

from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import gatherings
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import local
from klynge_rsvp.models import AuditEntry, Gathering, GatheringStatus, OutboxMessage, Registration
from klynge_rsvp.stored_text import shown
from tests.admin_helpers import button_token, register, upcoming_gathering
from tests.conftest import NOW


def test_copy_keeps_the_content_and_leaves_date_registrations_and_mail(ctx, make_gathering):
    original = make_gathering(title="Frokostmøte om flom", theme="Vann", capacity=40,
                              reminder_days_before=3, starts_at=NOW - timedelta(days=10),
                              registration_deadline=NOW - timedelta(days=12))
    gatherings.add_link(original, label="Opptak", url="https://example.no/opptak", now=NOW,
                        by=None)
    db.session.flush()
    outbox_before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))

    copied = gatherings.copy(original, now=NOW, by=None)
    db.session.flush()

    assert copied.id != original.id and copied.status == GatheringStatus.DRAFT
    for name in gatherings.COPIED:
        assert getattr(copied, name) == getattr(original, name), name
    # Not the date: the same weekday and wall-clock time, at least a week from now.
    assert copied.starts_at >= NOW + timedelta(weeks=1)
    assert copied.starts_at != original.starts_at
    assert (copied.starts_at - original.starts_at) % timedelta(weeks=1) == timedelta(0)
    assert local(copied.starts_at).time() == local(original.starts_at).time()
    assert copied.ends_at - copied.starts_at == original.ends_at - original.starts_at
    assert copied.starts_at - copied.registration_deadline == timedelta(days=2)
    # Its own identity, no registrations, no mail, no material.
    assert copied.slug != original.slug and copied.ical_uid != original.ical_uid
    assert copied.registrations == [] and copied.links == []
    assert copied.published_at is None and copied.previous_starts_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) \
        == outbox_before
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.gathering_id == copied.id))
    assert entry.action == "create"
    assert shown(entry, "summary") == "Opprettet utkastet som en kopi av «Frokostmøte om flom»."


def test_copy_of_a_gathering_far_ahead_is_a_week_after_it(ctx, make_gathering):
    original = make_gathering(starts_at=NOW + timedelta(days=60))
    copied = gatherings.copy(original, now=NOW, by=None)
    assert copied.starts_at == original.starts_at + timedelta(weeks=1)


def test_copy_keeps_the_wall_clock_time_across_a_change_of_summer_time(ctx, make_gathering):
    # 08.00 in Oslo on a January morning (07.00 UTC); the copy lands in summer time.
    original = make_gathering(starts_at=NOW.replace(hour=7) - timedelta(days=1))
    copied = gatherings.copy(original, now=NOW + timedelta(days=100), by=None)
    assert local(copied.starts_at).hour == 8 and copied.starts_at.hour == 6


def test_organiser_copies_from_the_gathering_page_and_lands_on_the_edit_form(
        app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=25)
    [registration_id] = register(app, gathering_id, 1)
    page = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    assert "Kopier til en ny samling" in page.text

    response = organiser_client.post(f"/arrangor/samlinger/{gathering_id}/kopier",
                                     data={"csrf_token": button_token(page.text)})
    assert response.status_code == 303
    with app.app_context():
        copy_id = db.session.scalar(sa.select(sa.func.max(Gathering.id)))
        assert copy_id != gathering_id
        assert response.headers["Location"].endswith(f"/arrangor/samlinger/{copy_id}/endre")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)
                                 .where(Registration.gathering_id == copy_id)) == 0
        assert db.session.get(Registration, registration_id).gathering_id == gathering_id
        assert db.session.get(Gathering, copy_id).capacity == 25
    form = organiser_client.get(response.headers["Location"])
    assert form.status_code == 200
    assert "Dette er en kopi, lagret som utkast." in form.text
    assert 'value="Frokostmøte om beredskap"' in form.text


def test_copying_needs_the_form_token_and_a_real_gathering(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering)
    assert organiser_client.post(f"/arrangor/samlinger/{gathering_id}/kopier").status_code == 400
    page = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    assert organiser_client.post("/arrangor/samlinger/999999/kopier",
                                 data={"csrf_token": button_token(page.text)}).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)) == 1


def test_copying_needs_a_signed_in_organiser(app, client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering)
    response = client.post(f"/arrangor/samlinger/{gathering_id}/kopier")
    assert response.status_code in (302, 400, 401)
    assert "/endre" not in response.headers.get("Location", "")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)) == 1


def test_copy_takes_the_programme_to_the_same_times_of_its_new_day(ctx, make_gathering):
    from klynge_rsvp import programme

    # 08.00 in Oslo on a January morning; the copy lands in summer time, and items keep their
    # wall-clock times (08.00 and 08.15 local), not their distance in UTC.
    original = make_gathering(starts_at=NOW.replace(hour=7) - timedelta(days=1))
    start = original.starts_at
    programme.add_item(original, programme.ItemDetails(
        starts_at=start, ends_at=start + timedelta(minutes=15), title="Frokost"), now=NOW, by=None)
    programme.add_item(original, programme.ItemDetails(
        starts_at=start + timedelta(minutes=15), ends_at=None, title="Innledning",
        speakers="Kari Nordmann", organisation="Bergen kommune"), now=NOW, by=None)
    copied = gatherings.copy(original, now=NOW + timedelta(days=100), by=None)
    db.session.flush()
    assert [(local(item.starts_at).strftime("%H.%M"), item.title, item.speakers)
            for item in copied.programme] == [("08.00", "Frokost", ""),
                                              ("08.15", "Innledning", "Kari Nordmann")]
    assert local(copied.programme[0].ends_at).strftime("%H.%M") == "08.15"
    assert all(item.gathering_id == copied.id for item in copied.programme)
    assert len(original.programme) == 2  # the original keeps its own


def test_a_new_date_for_a_draft_takes_its_programme_along(ctx, make_gathering):
    from klynge_rsvp import programme

    draft = make_gathering(status=GatheringStatus.DRAFT, starts_at=NOW + timedelta(days=30))
    start = draft.starts_at
    programme.add_item(draft, programme.ItemDetails(
        starts_at=start + timedelta(minutes=30), ends_at=None, title="Innledning"), now=NOW, by=None)
    new_start = start + timedelta(days=7, hours=1)
    gatherings.update(draft, {"starts_at": new_start, "ends_at": new_start + timedelta(hours=2)},
                      now=NOW, by=None)
    assert draft.programme[0].starts_at == new_start + timedelta(minutes=30)
