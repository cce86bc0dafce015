"""The rsvp service, called directly: seats, the waiting list, duplicates, deadlines."""

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from klynge_rsvp import form_mail, rsvp
from klynge_rsvp.errors import DomainError, RegistrationClosed
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    FormMailSuppression,
    GatheringStatus,
    Organisation,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Sector,
)
from tests.conftest import NOW, person, registration_request


def outbox_kinds(registration=None):
    query = sa.select(OutboxMessage.kind).order_by(OutboxMessage.id)
    if registration is not None:
        query = query.where(OutboxMessage.registration_id == registration.id)
    return list(db.session.scalars(query))


def test_register_confirms_and_queues_invitation(ctx, make_gathering):
    gathering = make_gathering()
    [outcome] = rsvp.register(gathering, registration_request(1), now=NOW)
    registration = outcome.registration
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.consented_at == NOW
    assert len(registration.token) >= 40
    assert outbox_kinds(registration) == ["confirmation"]


def test_registration_without_consent_is_refused(ctx, make_gathering):
    gathering = make_gathering()
    with pytest.raises(DomainError):
        rsvp.register(gathering, registration_request(1, consent=False), now=NOW)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_capacity_fills_then_waiting_list_in_arrival_order(ctx, make_gathering):
    gathering = make_gathering(capacity=2)
    statuses = []
    for n in range(1, 6):
        [outcome] = rsvp.register(gathering, registration_request(n),
                                  now=NOW + timedelta(seconds=n))
        statuses.append(outcome.registration.status)
    assert statuses == [RegistrationStatus.CONFIRMED] * 2 + [RegistrationStatus.WAITING] * 3
    waiting = [r for r in gathering.registrations if r.status == RegistrationStatus.WAITING]
    assert [rsvp.waiting_position(r) for r in waiting] == [1, 2, 3]
    assert outbox_kinds(waiting[0]) == ["waiting_list"]
    assert rsvp.seats_left(gathering) == 0


def test_cancel_promotes_first_on_waiting_list_in_same_transaction(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    [first] = rsvp.register(gathering, registration_request(1), now=NOW)
    [second] = rsvp.register(gathering, registration_request(2), now=NOW + timedelta(seconds=1))
    [third] = rsvp.register(gathering, registration_request(3), now=NOW + timedelta(seconds=2))

    promoted = rsvp.cancel(first.registration, now=NOW + timedelta(hours=1))

    assert promoted == [second.registration]
    assert first.registration.status == RegistrationStatus.CANCELLED
    assert second.registration.status == RegistrationStatus.CONFIRMED
    assert third.registration.status == RegistrationStatus.WAITING
    assert rsvp.waiting_position(third.registration) == 1
    assert outbox_kinds(first.registration) == ["confirmation", "cancellation"]
    assert outbox_kinds(second.registration) == ["waiting_list", "promotion"]


def test_cancel_is_idempotent(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    [first] = rsvp.register(gathering, registration_request(1), now=NOW)
    rsvp.register(gathering, registration_request(2), now=NOW)
    rsvp.cancel(first.registration, now=NOW)
    assert rsvp.cancel(first.registration, now=NOW) == []
    assert outbox_kinds(first.registration) == ["confirmation", "cancellation"]


def test_cancelling_a_waiting_place_promotes_nobody(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    rsvp.register(gathering, registration_request(1), now=NOW)
    [waiting] = rsvp.register(gathering, registration_request(2), now=NOW)
    [later] = rsvp.register(gathering, registration_request(3), now=NOW + timedelta(seconds=1))
    assert rsvp.cancel(waiting.registration, now=NOW) == []
    assert rsvp.waiting_position(later.registration) == 1


def test_cancellation_sequence_outranks_invitation(ctx, make_gathering):
    gathering = make_gathering()
    [outcome] = rsvp.register(gathering, registration_request(1), now=NOW)
    invited_at = outcome.registration.ical_sequence
    rsvp.cancel(outcome.registration, now=NOW)
    cancelled_at = outcome.registration.ical_sequence
    [again] = rsvp.register(gathering, registration_request(1), now=NOW + timedelta(minutes=5))
    assert again.registration.id == outcome.registration.id
    assert invited_at < cancelled_at < again.registration.ical_sequence
    assert again.registration.status == RegistrationStatus.CONFIRMED


def test_same_email_twice_makes_no_second_registration(ctx, make_gathering):
    gathering = make_gathering()
    [first] = rsvp.register(gathering, registration_request(1), now=NOW)
    [second] = rsvp.register(
        gathering, registration_request(1, person=person(1, email=" Deltaker1@Example.NO ")),
        now=NOW + timedelta(minutes=3),
    )
    assert second.already_registered
    assert second.registration.id == first.registration.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1
    assert outbox_kinds(first.registration) == ["confirmation", "already_registered"]


def test_double_submit_within_a_minute_sends_the_link_once(ctx, make_gathering):
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(1), now=NOW)
    for _ in range(2):
        rsvp.register(gathering, registration_request(1), now=NOW + timedelta(seconds=70))
    assert outbox_kinds().count("already_registered") == 1


def test_group_registration_gives_each_person_their_own(ctx, make_gathering):
    gathering = make_gathering(capacity=2)
    outcomes = rsvp.register(
        gathering, registration_request(1, colleagues=[person(2), person(3)]), now=NOW
    )
    registrations = [o.registration for o in outcomes]
    assert [r.status for r in registrations] == [
        RegistrationStatus.CONFIRMED, RegistrationStatus.CONFIRMED, RegistrationStatus.WAITING]
    assert len({r.token for r in registrations}) == 3
    assert registrations[1].registered_by == registrations[0]
    assert {r.organisation.id for r in registrations} == {registrations[0].organisation.id}
    assert [outbox_kinds(r) for r in registrations] == [
        ["confirmation"], ["confirmation"], ["waiting_list"]]


def test_group_with_repeated_address_is_refused(ctx, make_gathering):
    gathering = make_gathering()
    with pytest.raises(DomainError, match="flere ganger"):
        rsvp.register(gathering, registration_request(
            1, colleagues=[person(2, email="DELTAKER1@example.no")]), now=NOW)


def test_group_member_already_registered_is_told_and_others_register(ctx, make_gathering):
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(2), now=NOW)
    outcomes = rsvp.register(gathering, registration_request(1, colleagues=[person(2)]), now=NOW)
    assert [o.already_registered for o in outcomes] == [False, True]


@pytest.mark.parametrize("change", [
    {"registration_deadline": NOW - timedelta(minutes=1)},
    {"status": GatheringStatus.DRAFT},
    {"status": GatheringStatus.POSTPONED},
    {"status": GatheringStatus.CANCELLED},
    {"starts_at": NOW - timedelta(hours=1), "ends_at": NOW + timedelta(hours=1)},
])
def test_closed_gathering_refuses_registration(ctx, make_gathering, change):
    gathering = make_gathering(**change)
    with pytest.raises(RegistrationClosed):
        rsvp.register(gathering, registration_request(1), now=NOW)


def test_deadline_is_exclusive(ctx, make_gathering):
    gathering = make_gathering(registration_deadline=NOW + timedelta(seconds=1))
    rsvp.register(gathering, registration_request(1), now=NOW)
    with pytest.raises(RegistrationClosed):
        rsvp.register(gathering, registration_request(2), now=NOW + timedelta(seconds=1))


def test_organisation_spelled_differently_is_one(ctx, make_gathering):
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(
        1, organisation_name="Bergen Røde Kors", sector=Sector.VOLUNTEER), now=NOW)
    rsvp.register(gathering, registration_request(
        2, organisation_name="  bergen røde   kors ", sector=Sector.VOLUNTEER), now=NOW)
    organisations = db.session.scalars(sa.select(Organisation)).all()
    assert [(o.name, o.sector) for o in organisations] == [("Bergen Røde Kors", Sector.VOLUNTEER)]


def test_organisation_number_identifies_and_is_filled_in(ctx, make_gathering):
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(1, organisation_name="Brreg"), now=NOW)
    rsvp.register(gathering, registration_request(
        2, organisation_name="brreg", org_number="974760673"), now=NOW)
    rsvp.register(gathering, registration_request(
        3, organisation_name="Brønnøysundregistrene", org_number="974760673"), now=NOW)
    organisations = db.session.scalars(sa.select(Organisation)).all()
    assert [(o.name, o.org_number) for o in organisations] == [("Brreg", "974760673")]


def test_unlimited_capacity_never_waitlists(ctx, make_gathering):
    gathering = make_gathering(capacity=None)
    outcomes = rsvp.register(
        gathering, registration_request(1, colleagues=[person(n) for n in range(2, 12)]), now=NOW)
    assert {o.registration.status for o in outcomes} == {RegistrationStatus.CONFIRMED}
    assert rsvp.seats_left(gathering) is None


def test_find_by_token(ctx, make_gathering):
    gathering = make_gathering()
    [outcome] = rsvp.register(gathering, registration_request(1), now=NOW)
    assert rsvp.find_by_token(outcome.registration.token) is outcome.registration
    assert rsvp.find_by_token(outcome.registration.token[:-1] + "x") is None
    assert rsvp.find_by_token("") is None
    assert rsvp.find_by_token("a" * 500) is None


def test_an_already_registered_colleague_is_sent_nothing(ctx, make_gathering):
    gathering = make_gathering()
    [ola] = rsvp.register(gathering, registration_request(2), now=NOW)
    outcomes = rsvp.register(gathering, registration_request(1, colleagues=[person(2)]), now=NOW)
    assert [o.already_registered for o in outcomes] == [False, True]
    assert outbox_kinds(ola.registration) == ["confirmation"]


@pytest.mark.parametrize(("allowed", "kinds"), [(True, ["confirmation", "already_registered"]),
                                                (False, ["confirmation"])])
def test_the_link_goes_again_only_when_allowed(ctx, make_gathering, allowed, kinds):
    gathering = make_gathering()
    [first] = rsvp.register(gathering, registration_request(1), now=NOW)
    asked = []

    def may_resend_link(key):
        asked.append(key)
        return allowed

    [again] = rsvp.register(gathering, registration_request(1), now=NOW,
                            may_resend_link=may_resend_link)
    assert again.already_registered and asked == ["deltaker1@example.no"]
    assert outbox_kinds(first.registration) == kinds


def parsed(kind: str) -> EmailMessage:
    """The one queued mail of this kind, parsed as a mail program would."""
    raw = db.session.scalars(sa.select(OutboxMessage.message).where(OutboxMessage.kind == kind)).one()
    return message_from_bytes(raw, policy=policy.default)


def test_a_colleagues_mail_names_who_registered_them(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    rsvp.register(gathering, registration_request(
        1, person=person(1, name="Kari Nordmann"), colleagues=[person(2)]), now=NOW)
    text = parsed("waiting_list").get_body(("plain",)).get_content()
    assert "Kari Nordmann (deltaker1@example.no) har meldt deg på. Samlingen er full" in text


def test_form_mail_refuses_a_suppressed_colleague_and_lifts_ones_own(ctx, make_gathering):
    gathering = make_gathering()
    for n in (1, 2):
        db.session.add(FormMailSuppression(email_key=f"deltaker{n}@example.no", created_at=NOW))
    with pytest.raises(form_mail.AddressRefused):
        form_mail.register(gathering, registration_request(3, colleagues=[person(2)]), now=NOW)
    assert outbox_kinds() == []
    form_mail.register(gathering, registration_request(1), now=NOW)
    assert form_mail.suppressed(["deltaker1@example.no", "deltaker2@example.no"]) == {
        "deltaker2@example.no"}


def test_not_me_cancels_erases_and_suppresses(ctx, make_gathering):
    gathering = make_gathering(capacity=1)
    [seated, waiting] = rsvp.register(
        gathering, registration_request(1, colleagues=[person(2)]), now=NOW)
    [later] = rsvp.register(gathering, registration_request(3), now=NOW)

    form_mail.refuse(waiting.registration, now=NOW)
    assert outbox_kinds(waiting.registration) == ["waiting_list"]  # nothing in a calendar: no mail
    form_mail.refuse(seated.registration, now=NOW)
    form_mail.refuse(seated.registration, now=NOW)  # twice: nothing more

    assert seated.registration.status == RegistrationStatus.CANCELLED
    assert seated.registration.name == "Slettet deltaker"
    assert "deltaker1" not in seated.registration.email
    assert outbox_kinds(seated.registration) == ["confirmation", "cancellation"]
    cancel = parsed("cancellation")
    [calendar] = [part for part in cancel.walk() if part.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "CANCEL"
    assert "sender ikke flere e-poster til denne adressen" in cancel.get_body(("plain",)).get_content()
    assert "/pamelding/" not in cancel.get_body(("plain",)).get_content()  # the link is dead now
    assert later.registration.status == RegistrationStatus.CONFIRMED  # the seat went on
    assert form_mail.suppressed(["deltaker1@example.no", "deltaker2@example.no",
                                 "deltaker3@example.no"]) == {"deltaker1@example.no",
                                                              "deltaker2@example.no"}
