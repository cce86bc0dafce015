"""One pass over the outbox: claim the due messages and deliver them, with retries.

The pass claims a batch (outbox.claim_due), reads it once, and shares it out over up to
OUTBOX_SMTP_CONNECTIONS SMTP connections, each sending its share in order on a thread of its
own. Whatever goes wrong with one message is recorded against it alone (outcomes.py says what
it means); an error about a connection stops only that connection, one about our set-up stops
them all, and what was not tried is given back for the next pass. The database writes survive
a dropped connection (recording.py).

With no MAIL_SERVER configured, mail is "delivered" to the browser mailbox instead (the
outbox rows themselves, readable at /e-post/), so the embedded default needs no SMTP server.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from ..clock import utcnow
from ..extensions import db
from ..models import OutboxMessage
from . import outbox, outcomes, transport
from .recording import SentRecorder, record_failure, retrying
from .templates import fill_queued

log = logging.getLogger(__name__)

# How long a pass keeps trying to claim through a database that drops or refuses connections;
# after that the pass fails (it sent nothing) and the worker tries again after its poll.
CLAIM_RETRY_SECONDS = 10


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Claimed but not tried (the connection broke, or the claim ran out): due again at once.
    released: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    """The messages a pass holds, and when its hold on them runs out."""

    ids: list[int]
    # OUTBOX_LEASE_SECONDS after the claim was first tried (also when it had to be made
    # again): then another worker may take the same rows.
    lease_ends: datetime


def deliver_due() -> DeliveryReport:
    """Claim the due messages and deliver them over up to OUTBOX_SMTP_CONNECTIONS connections.

    Each "sent" is recorded as soon as the server has accepted the message (see SentRecorder).
    A message that fails is recorded with its outcome (outcomes.py) and never stops the others.
    Every database write survives a dropped connection (`retrying`) until the claim runs out.
    """
    report = DeliveryReport()
    claim = _claim_due()
    report.claimed = len(claim.ids)
    if not claim.ids:
        return report
    claim = _fill_in(claim, report)
    if not claim.ids:
        return report
    if current_app.config["MAIL_SERVER"]:
        _deliver_over_smtp(claim, report)
    else:
        _deliver_to_mailbox(claim, report)
    return report


def _claim_due() -> _Claim:
    config = current_app.config
    claimed_at = utcnow()
    ids = retrying(lambda: outbox.claim_due(now=claimed_at, limit=config["OUTBOX_BATCH_SIZE"]),
                   until=claimed_at + timedelta(seconds=CLAIM_RETRY_SECONDS), what="the claim")
    return _Claim(ids, claimed_at + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]))


def _fill_in(claim: _Claim, report: DeliveryReport) -> _Claim:
    """Fill in the batch's fan-out notices (mail/templates.py) and store their bytes, so
    every claimed row holds the mail it sends. Returns the claim without the notices that can
    no longer go (their registration is gone, or was erased after this claim was made), which
    are marked failed."""
    rows = retrying(lambda: outbox.templated(claim.ids), until=claim.lease_ends,
                    what="reading the notices to fill in")
    if not rows:
        return claim
    filled, gone = [], []
    for row in rows:
        mail = fill_queued(row.body, row, row.idempotency_key)
        if mail is None:
            gone.append(row.id)
            continue
        filled.append({"row_id": row.id, "message": mail.message, "recipient": mail.recipient,
                       "subject": mail.subject})
    retrying(lambda: outbox.store_filled(filled), until=claim.lease_ends,
             what="storing the filled-in notices")
    for message_id in gone:
        record_failure(message_id, outcomes.Outcome(
            kind=outcomes.BAD_ADDRESS, text="The registration was erased before the notice went."),
            until=claim.lease_ends)
        report.failed.append(message_id)
    return _Claim([message_id for message_id in claim.ids if message_id not in gone],
                  claim.lease_ends)


def _deliver_to_mailbox(claim: _Claim, report: DeliveryReport) -> None:
    """Mark the batch sent: the browser mailbox shows the outbox rows themselves."""
    if not current_app.config["KLYNGE_MAILBOX"]:
        raise RuntimeError("MAIL_SERVER is not set and the browser mailbox is turned off")

    def mark_all_sent() -> None:
        for message_id in claim.ids:
            outbox.mark_sent(db.session.get(OutboxMessage, message_id), transport="mailbox",
                             now=utcnow())

    retrying(mark_all_sent, until=claim.lease_ends, what="the mailbox delivery")
    report.sent.extend(claim.ids)


def _deliver_over_smtp(claim: _Claim, report: DeliveryReport) -> None:
    """Send the batch over as many connections as it needs and the server takes, then give
    back what was not tried. An error that stopped a connection is raised after that."""
    payloads = retrying(lambda: _read_batch(claim.ids), until=claim.lease_ends,
                        what="reading the batch")
    connections = _connect(claim, report)
    if not connections:
        return
    shares = _send_shares(connections, claim, payloads, report)
    # What a broken connection left unsent is given back for the next pass, unharmed.
    remaining = sorted(message_id for share in shares for message_id in share.remaining)
    retrying(lambda: outbox.release(remaining), until=claim.lease_ends, what="giving the rest back")
    report.released.extend(remaining)
    for found in (report.sent, report.retrying, report.failed):
        found.sort()
    errors = [share.error for share in shares if share.error is not None]
    if errors:
        raise errors[0]


def _read_batch(ids: list[int]) -> dict[int, tuple[str, bytes]]:
    """Each message's recipient and bytes, read once, in a transaction of its own that ends
    at once: none (on SQLite: no write lock) stays open while the SMTP server takes its time."""
    return {row.id: (row.recipient, row.message) for row in db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.message)
        .where(OutboxMessage.id.in_(ids)))}


def _connect(claim: _Claim, report: DeliveryReport) -> list[smtplib.SMTP]:
    """The pass's SMTP connections. None at all (the server unreachable, refusing us, a TLS
    failure): every message of the batch is due again later, with the reason recorded."""
    wanted = max(1, min(current_app.config["OUTBOX_SMTP_CONNECTIONS"], len(claim.ids)))
    try:
        return transport.open_connections(wanted)
    except (OSError, smtplib.SMTPException) as error:
        outcome = outcomes.of_error(error, connecting=True)
        log.warning("outbox: SMTP connection failed (%s): %s", outcome.kind, outcome.text)

        def retry_all() -> None:
            for message_id in claim.ids:
                message = db.session.get(OutboxMessage, message_id)
                outbox.mark_retry(message, outcome.text, kind=outcome.kind, code=outcome.code,
                                  now=utcnow())

        retrying(retry_all, until=claim.lease_ends, what="recording the failed connection")
        report.retrying.extend(claim.ids)
        return []
    except Exception:
        retrying(lambda: outbox.release(claim.ids), until=claim.lease_ends,
                 what="giving the batch back")
        raise


def _send_shares(connections: list[smtplib.SMTP], claim: _Claim,
                 payloads: dict[int, tuple[str, bytes]],
                 report: DeliveryReport) -> list[_ConnectionShare]:
    """Send each connection's share at once: the first on this thread, the others on threads
    of their own; returns when all have finished."""
    # A slow server must not make us send past the claim (a second copy would go out): each
    # share stops while a whole message still fits in the lease, and `stop` ends them all.
    stop = threading.Event()
    # A batch holds at most one message per person (claim_due), so the connections may share
    # it out in turn without one person's mail overtaking itself.
    shares = [_ConnectionShare(connection, claim.ids[number::len(connections)], payloads,
                               claim.lease_ends, stop, report)
              for number, connection in enumerate(connections)]
    app = current_app._get_current_object()
    helpers = [threading.Thread(target=share.run_in, args=(app,), daemon=True,
                                name=f"outbox-connection-{number}")
               for number, share in enumerate(shares[1:], start=2)]
    for helper in helpers:
        helper.start()
    shares[0].run()
    for helper in helpers:
        helper.join()
    return shares


class _ConnectionShare:
    """One SMTP connection's share of a batch, sent in order; records what it did in `report`.

    A message that fails is recorded against itself alone, and the next one goes. Stops at the
    first error that concerns the connection, when its recorder gives up (the database stayed
    away until the claim ran out), or when another connection stopped them all (`stop`); what
    it did not try stays in `remaining`.
    """

    def __init__(self, connection: smtplib.SMTP, ids: list[int],
                 payloads: dict[int, tuple[str, bytes]], lease_ends: datetime,
                 stop: threading.Event, report: DeliveryReport):
        self.connection, self.payloads, self.lease_ends = connection, payloads, lease_ends
        self.remaining = list(ids)
        self.stop, self.report = stop, report
        self.error: BaseException | None = None
        self.utf8 = transport.utf8_options(connection)

    def run_in(self, app: Flask) -> None:
        with app.app_context():  # a session of its own for this thread's failure marks
            self.run()

    def run(self) -> None:
        try:
            self._send_all()
        except Exception as error:  # handed to deliver_due, which releases the rest first
            self.error = error
            self.stop.set()
        finally:
            with contextlib.suppress(Exception):
                db.session.rollback()
            transport.hang_up(self.connection)

    def _send_all(self) -> None:
        sender, sender_needs_utf8 = transport.envelope_sender()
        if sender_needs_utf8 and self.utf8 is None:  # a set-up error: no message is failed for it
            raise ValueError("MAIL_DEFAULT_SENDER needs SMTPUTF8, which the mail server does not offer")
        one_message = timedelta(seconds=4 * current_app.config["SMTP_TIMEOUT"])
        tried = 0
        recorder = SentRecorder(db.engine, give_up_at=self.lease_ends)
        try:
            while self.remaining and recorder.ready() and not self.stop.is_set():
                # A whole message (a few socket timeouts: MAIL, RCPT, DATA, the final dot)
                # must still fit in the lease.
                if tried and utcnow() + one_message > self.lease_ends:
                    log.warning("outbox: the claim runs out; %d messages left for the next pass",
                                len(self.remaining))
                    return
                message_id = self.remaining.pop(0)
                tried += 1
                if not self._send(sender, message_id, recorder):
                    return
        finally:
            recorder.close()
            if recorder.error is not None:
                self.stop.set()
                raise recorder.error

    def _send(self, sender: str, message_id: int, recorder: SentRecorder) -> bool:
        """Send one message; False when this connection must not be used again.

        Whatever goes wrong with one message is recorded against it alone: the pass goes on.
        """
        recipient, content = self.payloads[message_id]
        try:
            mail_from, rcpt_to, options = transport.envelope(sender, recipient, content, self.utf8)
            self.connection.sendmail(mail_from, [rcpt_to], content, mail_options=options)
        except transport.Unsendable as refusal:  # found before a word was sent: the connection is fine
            self._record(message_id, refusal.outcome)
            return True
        except smtplib.SMTPException as error:
            outcome = outcomes.of_error(error)
            self._record(message_id, outcome)
            if outcome.kind in outcomes.CONFIGURATION or isinstance(
                    error, smtplib.SMTPHeloError | smtplib.SMTPSenderRefused):
                # A refused greeting or sender address is about our set-up, not this message:
                # every message would meet it, so every connection stops and the rest wait.
                self.stop.set()
                return False
            # smtplib hangs up by itself on a 421 reply (to MAIL, RCPT or DATA) and when the
            # line drops; the rest must not be "tried" on a closed connection, where each
            # would fail at once and lose an attempt without reaching the server.
            return not (isinstance(error, smtplib.SMTPServerDisconnected) or self.connection.sock is None)
        except OSError as error:  # timeout or reset in the middle of a message
            self._record(message_id, outcomes.of_error(error))
            return False
        except Exception as error:  # a bug, or data no one foresaw: this message only
            log.exception("outbox: message %d could not be sent; marked failed", message_id)
            self._record(message_id, outcomes.of_error(error))
            return self._reset()
        recorder.sent(message_id, now=utcnow())
        self.report.sent.append(message_id)
        return True

    def _record(self, message_id: int, outcome: outcomes.Outcome) -> None:
        record_failure(message_id, outcome, until=self.lease_ends)
        (self.report.failed if outcome.permanent else self.report.retrying).append(message_id)

    def _reset(self) -> bool:
        """After an error no one foresaw, the SMTP transaction's state is unknown: RSET it, or
        (if that fails) stop using the connection; the rest of its share is given back."""
        try:
            code, _ = self.connection.rset()
        except Exception:
            log.warning("outbox: could not reset the SMTP connection; giving its share back",
                        exc_info=True)
            return False
        return code == 250
