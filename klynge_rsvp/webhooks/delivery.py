"""Sending due webhook deliveries: claimed safely, signed, retried with backoff, given up.

The worker runs `run` on a thread of its own (worker.py), so a slow endpoint never holds up
the mail. A pass claims due rows as the mail outbox does (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite's write transaction is exclusive) with a lease, so two workers never send
one delivery at once; a claim whose worker died runs out and the row goes again. No database
transaction is open while an endpoint takes its time. A delivery is delivered on any 2xx
answer; anything else (another status, a redirect, a timeout, a refused address) is retried
after WEBHOOK_RETRY_DELAYS, and given up after the last.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
import sqlalchemy as sa
from flask import Flask, current_app

from ..clock import utcnow
from ..database import is_postgresql
from ..extensions import db
from ..mail.recording import retrying
from ..models import WebhookDelivery, WebhookEndpoint
from . import signing
from .addresses import RefusedAddress, SafeAdapter

log = logging.getLogger(__name__)

USER_AGENT = "Klynge-RSVP-Webhooks/1"
# How much of an endpoint's answer is kept to show why it failed.
KEPT_ANSWER = 300

# The kinds of failure (labels.WEBHOOK_ERROR_LABELS names them).
HTTP_STATUS = "http_status"
TIMEOUT = "timeout"
CONNECTION = "connection"
REFUSED_ADDRESS = "refused_address"
TLS = "tls"
ERROR = "error"


@dataclass
class DeliveryReport:
    """What one pass did, by delivery id."""

    claimed: int = 0
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    given_up: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None = None
    kind: str = ""
    detail: str = ""


def claim_due(*, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due deliveries to active endpoints (the caller commits)."""
    lease = timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    query = (
        sa.select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.given_up_at.is_(None),
               WebhookDelivery.next_attempt_at <= now, WebhookEndpoint.active.is_(True),
               sa.or_(WebhookDelivery.claimed_until.is_(None),
                      WebhookDelivery.claimed_until < now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if is_postgresql():
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                           .values(claimed_until=now + lease))
    return ids


def deliver_due(*, now: datetime | None = None) -> DeliveryReport:
    """One pass: claim the due deliveries and send them, one after another.

    `now` decides what is due and when a retry is due (tests drive it); the signature's time
    is always the real one, as the receiver checks it against its own clock.
    """
    config = current_app.config
    now = now or utcnow()
    report = DeliveryReport()
    lease = config["WEBHOOK_LEASE_SECONDS"]
    lease_ends = time.monotonic() + lease
    until = utcnow() + timedelta(seconds=lease)
    ids = retrying(lambda: claim_due(now=now, limit=config["WEBHOOK_BATCH_SIZE"]),
                   until=utcnow() + timedelta(seconds=10), what="the webhook claim")
    report.claimed = len(ids)
    if not ids:
        return report
    batch = retrying(lambda: _read(ids), until=until, what="reading the webhook batch")
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    with _session(allow_loopback=bool(config["WEBHOOK_ALLOW_LOOPBACK"])) as session:
        for number, delivery_id in enumerate(ids):
            # Never start a send that could outlast the claim: another worker may then take
            # the row, and the receiver would get it twice at once.
            if time.monotonic() + 2 * timeout + 1 > lease_ends:
                rest = ids[number:]
                retrying(lambda rest=rest: _release(rest), until=until, what="giving back")
                report.released.extend(rest)
                break
            outcome = post(session, *batch[delivery_id], timeout=timeout)
            result = retrying(lambda d=delivery_id, o=outcome: _record(d, o, now=now),
                              until=until, what=f"recording webhook delivery {delivery_id}")
            getattr(report, result).append(delivery_id)
    return report


def _read(ids: list[int]) -> dict[int, tuple[str, str, str, str, str]]:
    rows = db.session.execute(
        sa.select(WebhookDelivery.id, WebhookEndpoint.url, WebhookEndpoint.secret,
                  WebhookDelivery.event_type, WebhookDelivery.event_id, WebhookDelivery.payload)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids)))
    return {row[0]: tuple(row[1:]) for row in rows}


def _release(ids: list[int]) -> None:
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                       .values(claimed_until=None))


def _session(*, allow_loopback: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: we must see whom we talk to
    adapter = SafeAdapter(allow_loopback=allow_loopback)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def post(session: requests.Session, url: str, secret: str, event_type: str, event_id: str,
         payload: str, *, timeout: float) -> Outcome:
    """Send one delivery, signed now; what came of it. The whole attempt takes at most twice
    `timeout`: an endpoint that answers a byte at a time (each read within the timeout) is cut
    off then, so a send never outlasts the claim the pass checked it against."""
    adapter = session.get_adapter(url)
    ran_out = threading.Event()

    def cut() -> None:
        ran_out.set()
        adapter.cut()

    watchdog = threading.Timer(2 * timeout, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        outcome = _post(session, url, secret, event_type, event_id, payload, timeout=timeout)
    finally:
        watchdog.cancel()
        adapter.forget_closed()
    if ran_out.is_set() and not outcome.delivered:
        return Outcome(False, None, TIMEOUT, f"no complete answer within {2 * timeout:g} s")
    return outcome


def _post(session: requests.Session, url: str, secret: str, event_type: str, event_id: str,
          payload: str, *, timeout: float) -> Outcome:
    data = payload.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        signing.EVENT_HEADER: event_type,
        signing.DELIVERY_HEADER: event_id,
        signing.SIGNATURE_HEADER: signing.signature(secret, data, int(time.time())),
    }
    try:
        with session.post(url, data=data, headers=headers, timeout=(timeout, timeout),
                          allow_redirects=False, stream=True) as response:
            if 200 <= response.status_code < 300:
                return Outcome(True, response.status_code)
            answer = response.raw.read(KEPT_ANSWER, decode_content=False) or b""
            return Outcome(False, response.status_code, HTTP_STATUS,
                           f"HTTP {response.status_code} {response.reason or ''}".strip()
                           + (": " + answer.decode("utf-8", "replace") if answer else ""))
    except requests.Timeout as error:
        return Outcome(False, None, TIMEOUT, str(error))
    except requests.RequestException as error:
        refused = _found(error, RefusedAddress)
        if refused is not None:
            return Outcome(False, None, REFUSED_ADDRESS, str(refused))
        if isinstance(error, requests.exceptions.SSLError):
            return Outcome(False, None, TLS, str(error))
        if isinstance(error, requests.ConnectionError):
            return Outcome(False, None, CONNECTION, str(error))
        return Outcome(False, None, ERROR, str(error))
    except Exception as error:  # a bug here must not stop the other deliveries
        log.exception("webhook delivery %s failed unexpectedly", event_id)
        return Outcome(False, None, ERROR, f"{type(error).__name__}: {error}")


def _found(error: BaseException, wanted: type[BaseException]) -> BaseException | None:
    """`wanted` anywhere in the chain of errors requests and urllib3 wrap around each other."""
    seen, todo = set(), [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, wanted):
            return item
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return None


def _record(delivery_id: int, outcome: Outcome, *, now: datetime) -> str:
    """Write an attempt's outcome; returns the report list it belongs in."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.claimed_until = None
    delivery.last_status_code = outcome.status
    if outcome.delivered:
        delivery.delivered_at = now
        delivery.last_error_kind, delivery.last_error = "", ""
        return "delivered"
    delivery.last_error_kind = outcome.kind
    delivery.last_error = outcome.detail.replace("\x00", "")[:2000]
    delays = current_app.config["WEBHOOK_RETRY_DELAYS"]
    if delivery.attempts > len(delays):
        delivery.given_up_at = now
        return "given_up"
    delivery.next_attempt_at = now + timedelta(seconds=delays[delivery.attempts - 1])
    return "retrying"


# --- the sender thread -------------------------------------------------------------------------


def run(app: Flask, stop: threading.Event) -> None:
    """Send due deliveries until `stop` is set, looking every WEBHOOK_POLL_SECONDS."""
    while not stop.is_set():
        try:
            with app.app_context():
                report = deliver_due()
            if report.claimed:
                log.info("webhooks: %d delivered, %d retrying, %d given up",
                         len(report.delivered), len(report.retrying), len(report.given_up))
                continue
        except Exception:
            log.exception("webhook delivery pass failed; trying again shortly")
        stop.wait(app.config["WEBHOOK_POLL_SECONDS"])


def start_thread(app: Flask, stop: threading.Event) -> threading.Thread:
    """The webhook sender on a daemon thread of this process; it ends when `stop` is set."""
    thread = threading.Thread(target=run, args=(app, stop), name="webhook-sender", daemon=True)
    thread.start()
    return thread
