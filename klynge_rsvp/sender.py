"""The only code that sends mail: it delivers the outbox over SMTP, with retries.

With no MAIL_SERVER configured, mail is "delivered" to the browser mailbox instead (the
outbox rows themselves, readable at /mailbox), so the embedded default needs no SMTP server.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

from flask import Flask, current_app

from . import outbox
from .clock import utcnow
from .extensions import db
from .models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Claimed but not tried (the connection broke, or the claim ran out): due again at once.
    released: list[int] = field(default_factory=list)


def open_smtp_connection() -> smtplib.SMTP:
    """An SMTP connection as configured by MAIL_*, with a socket timeout on every step."""
    config = current_app.config
    timeout = config["SMTP_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        connection = smtplib.SMTP_SSL(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    else:
        connection = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    try:
        if config["MAIL_USE_TLS"]:
            connection.starttls()
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    except BaseException:
        connection.close()
        raise
    return connection


def _envelope_sender() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def _concerns_the_connection(error: smtplib.SMTPException) -> bool:
    """A refused greeting or sender address is about our set-up, not this message: every
    message would meet it, so none is failed for it; they wait until it is fixed."""
    return isinstance(error, smtplib.SMTPHeloError | smtplib.SMTPSenderRefused)


def _is_permanent(error: smtplib.SMTPException) -> bool:
    """A 5xx reply means the server will never take this message; anything else may pass later."""
    if _concerns_the_connection(error):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _describe(error: BaseException) -> str:
    context = error.__context__
    text = f"{type(error).__name__}: {error}"
    if context is not None and not isinstance(error, smtplib.SMTPResponseException):
        text += f" ({type(context).__name__}: {context})"
    return text


def deliver_due() -> DeliveryReport:
    """Claim the due messages and deliver them; commits after every message."""
    config = current_app.config
    report = DeliveryReport()
    claimed_at = utcnow()
    ids = outbox.claim_due(now=claimed_at, limit=config["OUTBOX_BATCH_SIZE"])
    db.session.commit()
    report.claimed = len(ids)
    if not ids:
        return report

    if not config["MAIL_SERVER"]:
        if not config["KLYNGE_MAILBOX"]:
            raise RuntimeError("MAIL_SERVER is not set and the browser mailbox is turned off")
        for message_id in ids:
            outbox.mark_sent(db.session.get(OutboxMessage, message_id), transport="mailbox",
                             now=utcnow())
            report.sent.append(message_id)
        db.session.commit()
        return report

    try:
        connection = open_smtp_connection()
    except (OSError, smtplib.SMTPException) as error:
        log.warning("SMTP connection failed: %s", _describe(error))
        for message_id in ids:
            outbox.mark_retry(db.session.get(OutboxMessage, message_id), _describe(error),
                              now=utcnow())
            report.retrying.append(message_id)
        db.session.commit()
        return report

    envelope_sender = _envelope_sender()
    # Our claim runs out OUTBOX_LEASE_SECONDS after it was made, and then another worker may
    # take the same rows. A slow server must not make us send past it (a second copy would go
    # out): stop while a whole message (a few socket timeouts: MAIL, RCPT, DATA, the final
    # dot) still fits in the lease, and give the rest back for the next pass.
    lease_ends = claimed_at + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
    one_message = timedelta(seconds=4 * config["SMTP_TIMEOUT"])
    remaining = list(ids)
    try:
        while remaining:
            if len(remaining) < len(ids) and utcnow() + one_message > lease_ends:
                log.warning("outbox: the claim runs out; %d messages left for the next pass",
                            len(remaining))
                break
            message = db.session.get(OutboxMessage, remaining.pop(0))
            try:
                connection.sendmail(envelope_sender, [message.recipient], message.message)
            except smtplib.SMTPException as error:
                if _is_permanent(error):
                    outbox.mark_failed(message, _describe(error))
                    report.failed.append(message.id)
                else:
                    outbox.mark_retry(message, _describe(error), now=utcnow())
                    report.retrying.append(message.id)
                db.session.commit()
                # smtplib hangs up by itself on a 421 reply (to MAIL, RCPT or DATA) and when the
                # line drops; the rest must not be "tried" on a closed connection, where each
                # would fail at once and lose an attempt without reaching the server.
                if (isinstance(error, smtplib.SMTPServerDisconnected) or connection.sock is None
                        or _concerns_the_connection(error)):
                    break
            except OSError as error:  # timeout or reset in the middle of a message
                outbox.mark_retry(message, _describe(error), now=utcnow())
                report.retrying.append(message.id)
                db.session.commit()
                break
            else:
                outbox.mark_sent(message, transport="smtp", now=utcnow())
                report.sent.append(message.id)
                db.session.commit()
    finally:
        # What a broken connection left unsent is given back for the next pass, unharmed.
        outbox.release(remaining)
        report.released.extend(remaining)
        db.session.commit()
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    return report


def run(app: Flask, stop: threading.Event) -> None:
    """Deliver the outbox until `stop` is set; wakes at once when new mail is committed.

    Between passes it runs the periodic jobs (reminders, calendar replies, data retention).
    """
    from .jobs import Scheduler

    poll = app.config["OUTBOX_POLL_SECONDS"]
    scheduler = Scheduler(app)
    while not stop.is_set():
        outbox.mail_queued.clear()
        scheduler.run_due()
        try:
            with app.app_context():
                report = deliver_due()
                if report.claimed:
                    log.info("outbox: %d sent, %d retrying, %d failed", len(report.sent),
                             len(report.retrying), len(report.failed))
        except Exception:
            log.exception("outbox delivery pass failed; trying again shortly")
            report = DeliveryReport()
        if report.claimed >= app.config["OUTBOX_BATCH_SIZE"]:
            continue
        outbox.mail_queued.wait(poll)


def start_thread(app: Flask) -> threading.Event:
    """Run the sender in a daemon thread of this process (the embedded default)."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop), name="outbox-sender", daemon=True)
    thread.start()
    return stop
