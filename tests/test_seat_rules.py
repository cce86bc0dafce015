"""Fair seats (issue 16): a cap per organisation and seats held for a sector, at registration,
on the waiting list, when a hold ends, in a copy, and in what people are told."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from klynge_rsvp import gatherings, rsvp, seat_rule_changes, seat_rules, worker
from klynge_rsvp.clock import from_local, utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import local
from klynge_rsvp.models import (
    AuditEntry,
    Gathering,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    SeatHold,
    SeatRule,
    Sector,
)
from klynge_rsvp.seat_rule_changes import Change
from klynge_rsvp.seat_rules import FULL, HELD, ORGANISATION_CAP, Hold, Reason, Rules, Tally
from klynge_rsvp.stored_text import shown
from tests.admin_helpers import post_page
from tests.conftest import NOW, person, registration_request
from tests.lifecycle_helpers import parse, text_body
from tests.mail_checks import check_raw
from tests.overview_helpers import deliver
from tests.pages import text
from tests.test_mail import body

CONFIRMED, WAITING = RegistrationStatus.CONFIRMED, RegistrationStatus.WAITING


def volunteer(n, **overrides):
    return registration_request(n, organisation_name="Bergen Røde Kors",
                                sector=Sector.VOLUNTEER, **overrides)


def from_org(n, name="Bergen kommune", sector=Sector.PUBLIC, **overrides):
    return registration_request(n, organisation_name=name, sector=sector, **overrides)


def one(gathering, request, *, now=NOW) -> Registration:
    [outcome] = rsvp.register(gathering, request, now=now)
    return outcome.registration


def set_rules(gathering, cap=None, *holds, now=NOW, by=None):
    return seat_rule_changes.change(gathering, Change(cap, tuple(holds)), now=now, by=by)


def waiting_mail(registration) -> str:
    raw = db.session.scalars(sa.select(OutboxMessage.message).where(
        OutboxMessage.registration_id == registration.id,
        OutboxMessage.kind == "waiting_list")).one()
    return text_body(parse(raw)).replace("\r\n", "\n")


# --- the rules alone (pure) ----------------------------------------------------------------------


def test_the_rules_decide_full_then_cap_then_held_seats():
    until = NOW + timedelta(days=5)
    rules = Rules(capacity=5, organisation_cap=2, holds=(Hold(Sector.VOLUNTEER, 2, until),))
    tally = Tally()
    for _n in range(2):
        tally.take(1, Sector.PUBLIC)
    assert seat_rules.decide(rules, tally, organisation_id=1, sector=Sector.PUBLIC,
                             now=NOW) == Reason(ORGANISATION_CAP, cap=2)
    tally.take(2, Sector.PUBLIC)
    # 5 seats, 3 taken, 2 held for volunteers: none left for the public sector ...
    assert seat_rules.decide(rules, tally, organisation_id=3, sector=Sector.PUBLIC, now=NOW) \
        == Reason(HELD, holds=(Hold(Sector.VOLUNTEER, 2, until),))
    # ... but a volunteer gets one, and once one volunteer is in, one seat is held, not two
    assert seat_rules.decide(rules, tally, organisation_id=4, sector=Sector.VOLUNTEER,
                             now=NOW) is None
    tally.take(4, Sector.VOLUNTEER)
    assert seat_rules.decide(rules, tally, organisation_id=3, sector=Sector.PUBLIC,
                             now=NOW) is not None
    # after the hold's date the seat is anyone's
    assert seat_rules.decide(rules, tally, organisation_id=3, sector=Sector.PUBLIC,
                             now=until) is None
    tally.take(3, Sector.PUBLIC)
    assert seat_rules.decide(rules, tally, organisation_id=5, sector=Sector.VOLUNTEER,
                             now=NOW) == Reason(FULL)


# --- registering -------------------------------------------------------------------------------


def test_colleagues_are_decided_in_order_against_the_organisations_cap(ctx, make_gathering):
    gathering = make_gathering(capacity=10)
    set_rules(gathering, 2)
    outcomes = rsvp.register(gathering, from_org(1, colleagues=[person(2), person(3)]), now=NOW)
    assert [o.registration.status for o in outcomes] == [CONFIRMED, CONFIRMED, WAITING]
    # typed another way, the same organisation: still at its cap
    late = one(gathering, from_org(4, name="  BERGEN   kommune "))
    assert late.status == WAITING
    assert late.organisation_id == outcomes[0].registration.organisation_id
    assert seat_rules.why_waiting(late, now=NOW) == Reason(ORGANISATION_CAP, cap=2)
    assert one(gathering, from_org(5, name="Stord kommune")).status == CONFIRMED


def test_seats_held_for_a_sector_count_as_taken_for_the_others(ctx, make_gathering):
    gathering = make_gathering(capacity=5)
    until = gathering.starts_at - timedelta(days=7)
    set_rules(gathering, None, Hold(Sector.VOLUNTEER, 2, until))
    statuses = [one(gathering, from_org(n, name=f"Kommune {n}")).status for n in range(1, 5)]
    assert statuses == [CONFIRMED] * 3 + [WAITING]
    assert one(gathering, volunteer(10)).status == CONFIRMED
    assert one(gathering, volunteer(11)).status == CONFIRMED
    assert one(gathering, volunteer(12)).status == WAITING  # full now
    assert rsvp.confirmed_count(gathering) == 5


def test_a_gathering_without_rules_fills_as_before(ctx, make_gathering):
    gathering = make_gathering(capacity=2)
    outcomes = rsvp.register(gathering, from_org(1, colleagues=[person(2), person(3)]), now=NOW)
    assert [o.registration.status for o in outcomes] == [CONFIRMED, CONFIRMED, WAITING]
    assert seat_rules.why_waiting(outcomes[2].registration, now=NOW) == Reason(FULL)


def test_registering_again_respects_the_cap(ctx, make_gathering):
    gathering = make_gathering(capacity=10, registration_deadline=None)
    first = one(gathering, from_org(1))
    one(gathering, from_org(2))
    rsvp.cancel(first, now=NOW)
    set_rules(gathering, 1)
    assert rsvp.register_again(first, now=NOW).status == WAITING


# --- the waiting list ----------------------------------------------------------------------------


def test_promotion_skips_those_still_blocked_and_keeps_their_place(ctx, make_gathering):
    gathering = make_gathering(capacity=3)
    set_rules(gathering, 2)
    a1, a2 = (one(gathering, from_org(n)) for n in (1, 2))
    b1 = one(gathering, from_org(3, name="Stord kommune"))
    a3 = one(gathering, from_org(4))            # waits: full (and at the cap)
    b2 = one(gathering, from_org(5, name="Stord kommune"))
    assert [a3.status, b2.status] == [WAITING, WAITING]
    promoted = rsvp.cancel(b1, now=NOW)  # a seat frees; a3 is first but Bergen is at its cap
    assert promoted == [b2]
    assert a3.status == WAITING and rsvp.waiting_position(a3) == 1
    assert seat_rules.why_waiting(a3, now=NOW) == Reason(FULL)
    rsvp.cancel(a1, now=NOW)  # Bergen under its cap again: a3's turn
    assert a3.status == CONFIRMED and a2.status == CONFIRMED


def test_raising_the_cap_gives_the_waiting_their_seats_and_is_audited(ctx, make_gathering,
                                                                       make_organiser):
    from klynge_rsvp.models import Organiser

    organiser = db.session.get(Organiser, make_organiser_id(make_organiser))
    gathering = make_gathering(capacity=5)
    set_rules(gathering, 1)
    _first, second = (one(gathering, from_org(n)) for n in (1, 2))
    assert second.status == WAITING
    promoted = set_rules(gathering, 2, by=organiser)
    assert promoted == [second] and second.status == CONFIRMED
    entry = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "seat_rules").order_by(AuditEntry.id.desc())).first()
    assert entry.organiser_id == organiser.id
    assert shown(entry, "summary") == "Plassregler: høyst 2 per virksomhet; holdt av: ingen."


def make_organiser_id(make_organiser) -> int:
    from klynge_rsvp.models import Organiser

    email = make_organiser("plass@bergen.kommune.no")
    return db.session.scalar(sa.select(Organiser.id).where(Organiser.email == email))


def test_an_organiser_may_promote_past_the_rules_only_when_confirmed(ctx, make_gathering,
                                                                      make_organiser):
    from klynge_rsvp.models import Organiser

    organiser = db.session.get(Organiser, make_organiser_id(make_organiser))
    gathering = make_gathering(capacity=5)
    set_rules(gathering, 1)
    one(gathering, from_org(1))
    waiting = one(gathering, from_org(2))
    with pytest.raises(rsvp.OverSeatRules, match="grensen på 1 plass per virksomhet"):
        rsvp.promote(waiting, now=NOW, by=organiser)
    assert waiting.status == WAITING
    rsvp.promote(waiting, now=NOW, by=organiser, over_rules=True)
    assert waiting.status == CONFIRMED
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "promote")).one()
    assert shown(entry, "summary") == ("Ga Deltaker 2 plass fra ventelisten "
                                       "(forbi grensen per virksomhet).")


# --- when a hold ends ------------------------------------------------------------------------------


def test_when_a_hold_ends_its_seats_go_to_the_line(ctx, make_gathering):
    gathering = make_gathering(capacity=3)
    until = NOW + timedelta(days=3)
    set_rules(gathering, None, Hold(Sector.VOLUNTEER, 2, until))
    one(gathering, from_org(1))
    waiting = [one(gathering, from_org(n, name=f"Kommune {n}")) for n in (2, 3)]
    assert [r.status for r in waiting] == [WAITING, WAITING]
    assert seat_rule_changes.with_expired_holds(now=until - timedelta(seconds=1)) == []
    assert seat_rule_changes.with_expired_holds(now=until) == [gathering.id]
    promoted = seat_rule_changes.open_expired_holds(gathering, now=until)
    assert promoted == waiting
    assert seat_rule_changes.with_expired_holds(now=until) == []  # nobody waiting: done


def test_the_worker_job_opens_ended_holds(app, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=2, now=now, starts_at=now + timedelta(days=10))
        set_rules(gathering, None, Hold(Sector.VOLUNTEER, 1, now + timedelta(days=2)), now=now)
        one(gathering, from_org(1), now=now)
        waiting = one(gathering, from_org(2, name="Stord kommune"), now=now)
        db.session.commit()
        waiting_id, gathering_id = waiting.id, gathering.id
        [job] = [job for job in worker.registered_jobs() if job.name == "seat-holds"]
        job.run()
        assert db.session.get(Registration, waiting_id).status == WAITING  # the hold still holds
        db.session.execute(sa.update(SeatHold).where(SeatHold.gathering_id == gathering_id)
                           .values(held_until=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        assert job.run() == 1
        db.session.expire_all()
        assert db.session.get(Registration, waiting_id).status == CONFIRMED
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).where(
            OutboxMessage.registration_id == waiting_id).order_by(OutboxMessage.id)).all()
        assert kinds == ["waiting_list", "promotion"]


# --- organisers' input ---------------------------------------------------------------------------


def test_bad_rules_are_refused_and_nothing_changes(ctx, make_gathering):
    gathering = make_gathering(capacity=3)
    with pytest.raises(DomainError, match="bare 3"):
        set_rules(gathering, None, Hold(Sector.VOLUNTEER, 4, NOW + timedelta(days=1)))
    with pytest.raises(DomainError, match="før samlingen starter"):
        set_rules(gathering, None, Hold(Sector.VOLUNTEER, 1, gathering.starts_at
                                        + timedelta(days=1)))
    unlimited = make_gathering(capacity=None)
    with pytest.raises(DomainError, match="ingen grense"):
        set_rules(unlimited, None, Hold(Sector.VOLUNTEER, 1, NOW + timedelta(days=1)))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SeatHold)) == 0


# --- a copy ---------------------------------------------------------------------------------------


def test_a_copy_takes_the_rules_with_each_hold_as_far_before_the_start(ctx, make_gathering):
    zone = local(NOW).tzinfo
    starts = from_local(datetime(2026, 3, 10, 9, 0), zone)
    original = make_gathering(capacity=20, starts_at=starts)
    set_rules(original, 3, Hold(Sector.VOLUNTEER, 5, from_local(datetime(2026, 3, 3), zone)),
              Hold(Sector.NON_PROFIT, 2, starts - timedelta(days=1)))
    # Four weeks later, after the clocks go forward (29 March): each hold keeps its wall time.
    copy = gatherings.copy(original, now=NOW + timedelta(weeks=10), by=None)
    assert local(copy.starts_at).replace(tzinfo=None) == datetime(2026, 4, 7, 9, 0)
    rules = seat_rules.rules_of(copy)
    assert rules.organisation_cap == 3
    held = {hold.sector: (hold.seats, local(hold.until).replace(tzinfo=None))
            for hold in rules.holds}
    assert held == {Sector.VOLUNTEER: (5, datetime(2026, 3, 31)),
                    Sector.NON_PROFIT: (2, datetime(2026, 4, 6, 9, 0))}
    assert seat_rules.rules_of(original).organisation_cap == 3  # the original keeps its own


# --- what people are told ------------------------------------------------------------------------


def test_the_waiting_list_mail_says_why_in_the_persons_language(ctx, make_gathering):
    gathering = make_gathering(capacity=10)
    until = from_local(datetime(2026, 2, 1), local(NOW).tzinfo)
    set_rules(gathering, 1, Hold(Sector.VOLUNTEER, 9, until))
    one(gathering, from_org(1))
    with force_locale("nn"):
        capped = one(gathering, from_org(2, language="nn"))
    held = one(gathering, from_org(3, name="Equinor", sector=Sector.PRIVATE, language="en"))
    assert "Du står på venteliste som nummer 1. Kvar verksemd kan få høgst 1 plass, og " \
           "verksemda di har alt fått han." in waiting_mail(capped).replace("\n", " ")
    assert ("You are number 2 on the waiting list. The seats left are held for voluntary "
            "organisations until 1 February 2026.") in waiting_mail(held).replace("\n", " ")


def test_the_waiting_list_mail_arrives_with_the_reason(smtp_config, app, smtp_server,
                                                       make_gathering):
    with app.app_context():
        gathering = make_gathering(capacity=4)
        until = from_local(datetime(2026, 2, 1), local(NOW).tzinfo)
        set_rules(gathering, None, Hold(Sector.VOLUNTEER, 3, until))
        one(gathering, from_org(1))
        one(gathering, from_org(2, name="Stord kommune"))
        db.session.commit()
        assert len(deliver(smtp_server)) == 2
    # Two SMTP connections: the two mails may arrive in either order.
    [(envelope, message)] = [(envelope, message) for envelope, message
                             in zip(smtp_server.handler.messages, smtp_server.handler.parsed(),
                                    strict=True)
                             if str(message["Subject"]).startswith("Venteliste:")]
    assert check_raw(envelope.original_content) == []
    plain = " ".join(body(message, "plain").split())
    assert ("Du står på venteliste som nummer 1. De ledige plassene holdes av til frivillige "
            "organisasjoner til 1. februar 2026.") in plain
    assert "frivillige organisasjoner til 1. februar 2026" in " ".join(body(message, "html").split())


def test_the_page_and_the_receipt_say_what_is_held_and_why_one_waits(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=4, now=now, starts_at=now + timedelta(days=30))
        until = from_local(datetime.combine(local(now).date() + timedelta(days=10),
                                            datetime.min.time()), local(now).tzinfo)
        set_rules(gathering, 1, Hold(Sector.VOLUNTEER, 2, until), now=now)
        db.session.commit()
        slug, day = gathering.slug, f"{local(until).day}."
    page = text(client.get(f"/samlinger/{slug}").text)
    assert f"2 plasser holdes av til frivillige organisasjoner til {day}" in page
    form = client.get(f"/samlinger/{slug}").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post(f"/samlinger/{slug}", data={
        "csrf_token": token, "name": "Kari", "email": "kari@example.no",
        "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y",
        "colleagues-0-name": "Ola", "colleagues-0-email": "ola@example.no"})
    assert response.status_code == 303, response.text
    receipt = text(client.get(response.headers["Location"]).text)
    assert "Kari (kari@example.no): påmeldt, og har plass." in receipt
    assert ("Ola (ola@example.no): på ventelisten. Blir en plass ledig, får personen den og "
            "beskjed på e-post. Hver virksomhet kan få høyst 1 plass, og virksomheten din har "
            "allerede fått den.") in receipt


def test_the_manage_page_says_why_one_waits(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=4, now=now, starts_at=now + timedelta(days=30))
        set_rules(gathering, 1, now=now)
        one(gathering, from_org(1), now=now)
        token = one(gathering, from_org(2), now=now).token
        db.session.commit()
    page = text(client.get(f"/pamelding/{token}").text)
    assert ("Du står som nummer 1 på ventelisten. Hver virksomhet kan få høyst 1 plass, og "
            "virksomheten din har allerede fått den.") in page


# --- the organisers' page --------------------------------------------------------------------------


def test_organisers_set_a_cap_and_a_hold_and_bad_input_changes_nothing(app, organiser_client,
                                                                      make_gathering):
    with app.app_context():
        now = utcnow()
        gathering_id = make_gathering(capacity=20, now=now, starts_at=now + timedelta(days=30)).id
        db.session.commit()
        day = (local(now) + timedelta(days=20)).date()
    url = f"/arrangor/samlinger/{gathering_id}/plassregler"
    bad = post_page(organiser_client, url, {"organisation_cap": "0", "seats_frivillig": "5"})
    assert bad.status_code == 422
    page = text(bad.text)
    assert "Skriv et helt tall fra 1 og oppover" in page
    assert "Skriv datoen plassene for frivillig holdes av til." in page
    too_many = post_page(organiser_client, url, {"seats_frivillig": "21",
                                                 "until_frivillig": day.strftime("%d.%m.%Y")})
    assert too_many.status_code == 422 and "bare 20" in text(too_many.text)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SeatHold)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SeatRule)) == 0
    good = post_page(organiser_client, url, {"organisation_cap": "3", "seats_frivillig": "5",
                                             "until_frivillig": day.isoformat()})
    assert good.status_code == 303
    with app.app_context():
        rules = seat_rules.rules_of(db.session.get(Gathering, gathering_id))
        assert rules.organisation_cap == 3
        [hold] = rules.holds
        assert (hold.sector, hold.seats) == (Sector.VOLUNTEER, 5)
        assert local(hold.until).replace(tzinfo=None) == datetime.combine(day, datetime.min.time())
        assert db.session.scalars(sa.select(AuditEntry.action)
                                  .where(AuditEntry.gathering_id == gathering_id)).all()[-1] \
            == "seat_rules"
    shown_again = organiser_client.get(url).text
    assert 'value="3"' in shown_again and f'value="{day.isoformat()}"' in shown_again


def test_another_gathering_s_page_is_not_found(organiser_client):
    assert organiser_client.get("/arrangor/samlinger/999999/plassregler").status_code == 404


def test_reason_from_a_tampered_receipt_is_ignored(ctx, make_gathering):
    gathering = make_gathering(capacity=3)
    assert Reason.from_json("nonsense", gathering) is None
    assert Reason.from_json(["held", None, ["ukjent"]], gathering) is None
    assert Reason.from_json(["other", 1, []], gathering) is None
    assert Reason.from_json(["organisation_cap", 2, []], gathering) == Reason(ORGANISATION_CAP, 2)
    # held seats since given up: said as full, never as "held for ."
    gone = Reason.from_json(["held", None, ["frivillig"]], gathering)
    assert gone == Reason(HELD) and seat_rules.describe(gone) == "Samlingen er full."


def test_the_promote_page_asks_before_going_past_the_rules(app, organiser_client, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(capacity=5, now=now, starts_at=now + timedelta(days=30))
        set_rules(gathering, 1, now=now)
        one(gathering, from_org(1), now=now)
        waiting_id = one(gathering, from_org(2), now=now).id
        db.session.commit()
    url = f"/arrangor/pameldinger/{waiting_id}/plass"
    page = organiser_client.get(url)
    assert "Virksomheten har nådd grensen på 1 plass per virksomhet." in text(page.text)
    assert 'name="over_rules" value="1"' in page.text
    # A POST without the confirmation (an old page, a crafted request) gives no seat.
    refused = post_page(organiser_client, url, {})
    assert refused.status_code == 409
    assert "Bekreft at Deltaker 2 skal få plass likevel." in text(refused.text)
    with app.app_context():
        assert db.session.get(Registration, waiting_id).status == WAITING
    confirmed = post_page(organiser_client, url, {"over_rules": "1"})
    assert confirmed.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, waiting_id).status == CONFIRMED
        assert db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()[-1] == "promote"
