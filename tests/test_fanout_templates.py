"""A fan-out queues its notice once per audience and one row per person; the sender fills each
row in as it sends it (decision 0037). What arrives is the mail the ordinary composition makes,
as the SMTP server received it; what the mail log and the privacy export read is what was sent."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from klynge_rsvp import lifecycle, notifications, privacy
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery, outcomes, templates
from klynge_rsvp.models import MailTemplate, OutboxMessage, OutboxStatus
from klynge_rsvp.notifications import merge
from tests.conftest import NOW
from tests.mail_checks import check_raw, readings
from tests.test_mail_merge import NAMES, register_people, shown
from tests.test_raw_headers import expected_name


@pytest.fixture
def smtp(smtp_config, app, smtp_server):
    with app.app_context():
        yield smtp_server
        db.session.rollback()


def notices() -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage)
                                   .where(OutboxMessage.kind == "gathering_postponed")
                                   .order_by(OutboxMessage.id)))


def postponed(make_gathering, names=NAMES):
    gathering = make_gathering(now=NOW)
    registrations = register_people(gathering, names)
    db.session.commit()
    delivery.deliver_due()  # the confirmations, out of the way
    db.session.commit()
    lifecycle.postpone(gathering, message="Vi kommer tilbake <snart> & \"gjerne\".", now=NOW,
                       by=None)
    db.session.commit()
    return gathering, registrations


def ordinary(registration):
    return notifications.compose_postponed(registration, message="Vi kommer tilbake <snart> & "
                                           "\"gjerne\".", position=None, now=NOW)


def received_by_address(smtp_server) -> dict[str, bytes]:
    """The postponement notices the SMTP server accepted, by recipient, as received."""
    return {envelope.rcpt_tos[0]: envelope.original_content
            for envelope in smtp_server.handler.messages
            if message_from_bytes(envelope.original_content, policy=policy.default)["Subject"]
            .startswith("Utsatt: ")}


def test_the_click_queues_one_template_and_rows_the_sender_fills_in(smtp, make_gathering, tmp_path):
    """The received notices are left in tmp_path as .eml files, for other tools to read."""
    _gathering, registrations = postponed(make_gathering)

    # The first people of the audience are composed the ordinary way (to find that the merge
    # holds); everyone after them is a row pointing to the one template, with no bytes yet.
    rows = notices()
    assert len(rows) == len(NAMES)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailTemplate)) == 1
    waiting = [row for row in rows if row.template_id is not None]
    assert len(waiting) == len(NAMES) - (merge.SMALLEST_AUDIENCE - 1)
    assert all(row.stored_message == b"" for row in waiting)

    # Read before it is sent (the mail log, a privacy export), a row is filled in the same way
    # each time: the Message-ID comes from its key.
    before = {row.id: row.message for row in rows}
    assert before == {row.id: row.message for row in rows}
    db.session.commit()

    report = delivery.deliver_due()
    assert sorted(report.sent) == sorted(before) and not report.failed
    db.session.expire_all()
    arrived = received_by_address(smtp)
    for row in notices():
        assert row.template_id is None and row.stored_message == before[row.id]
        assert arrived[row.recipient].replace(b"\r\n", b"\n") == before[row.id].replace(
            b"\r\n", b"\n")
    # As received, each person's mail is the one the ordinary composition makes for them, and
    # its header fields read the same in every independent decoder (tests/mail_checks.py).
    for n, registration in enumerate(registrations):
        raw = arrived[registration.email]
        (tmp_path / f"{n:02d}-gathering_postponed.eml").write_bytes(raw)
        assert shown(raw) == shown(ordinary(registration).message), registration.name
        assert registration.token.encode() in raw
        assert not check_raw(raw), check_raw(raw)
        for decoder, reading in readings(raw).items():
            assert reading.to == [(expected_name(registration.name), registration.email)], decoder
            assert reading.subject.startswith("Utsatt: "), decoder
    message_ids = {message_from_bytes(raw)["Message-ID"] for raw in arrived.values()}
    assert len(message_ids) == len(NAMES)


def test_the_click_fills_in_no_one_however_many_there_are(ctx, make_gathering, monkeypatch):
    filled = []
    fill = templates.Template.fill
    monkeypatch.setattr(templates.Template, "fill", lambda self, *args, **kwargs: (
        filled.append(args), fill(self, *args, **kwargs))[1])

    postponed(make_gathering, [f"Person {n}" for n in range(40)])

    # Once, for the second stand-in (the check that the merge holds); not once per person.
    assert len(filled) == 1
    assert len([row for row in notices() if row.template_id is not None]) == 40 - 2


def test_a_name_corrected_before_the_notice_goes_is_the_name_it_carries(smtp, make_gathering):
    _gathering, registrations = postponed(make_gathering)
    corrected = registrations[-1]
    corrected.name = "Trond Nilsen"
    db.session.commit()

    delivery.deliver_due()

    raw = received_by_address(smtp)[corrected.email]
    assert shown(raw) == shown(ordinary(corrected).message)
    assert "Trond Nilsen" in shown(raw)["to"][0]


def test_a_notice_to_someone_erased_after_the_claim_fails_and_the_others_go(smtp, make_gathering):
    """Erasure deletes a person's unsent notices, but not one a worker has claimed: that worker
    is sending it. Filled in after the erasure, it would go to the erased stand-in address."""
    _gathering, registrations = postponed(make_gathering)
    gone = registrations[-1]
    privacy.anonymise(gone, now=NOW)  # what erasure does to the registration
    db.session.commit()

    report = delivery.deliver_due()

    assert len(report.sent) == len(NAMES) - 1 and len(report.failed) == 1
    db.session.expire_all()
    [failed] = [row for row in notices() if row.status == OutboxStatus.FAILED]
    assert failed.registration_id == gone.id and failed.error_kind == outcomes.BAD_ADDRESS
    assert len(received_by_address(smtp)) == len(NAMES) - 1
    assert not any(address.endswith("@invalid") for address in received_by_address(smtp))


def test_the_purge_removes_a_template_only_when_nothing_is_filled_in_from_it(smtp, make_gathering):
    postponed(make_gathering)
    privacy.purge_personal_data(now=NOW)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailTemplate)) == 1

    delivery.deliver_due()
    privacy.purge_personal_data(now=NOW)
    db.session.commit()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailTemplate)) == 0
    assert all(row.status == OutboxStatus.SENT and row.message for row in notices())
