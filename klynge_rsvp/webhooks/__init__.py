"""Webhooks: organisers' HTTPS endpoints, told of registrations and changed gatherings.

An event is queued with `enqueue` in the transaction of the change that causes it, one
delivery row per active endpoint subscribed to it, like mail in the outbox: a rolled-back
change queues nothing, a committed one is never lost. The worker sends the deliveries
(delivery.py), signed (signing.py), to addresses we allow (addresses.py), retrying with
backoff. Payloads carry ids, the gathering and the organisation, never a person's name or
address (docs/decisions/0028); docs/webhooks.md describes them for receivers.

These are services: they take `now`, flush but never commit, and raise DomainError.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from .. import history
from ..errors import DomainError
from ..extensions import db
from ..links import absolute_url
from ..mail import wakeup
from ..models import Gathering, Organiser, Registration, WebhookDelivery, WebhookEndpoint
from ..stored_text import joined, label, said
from . import signing
from .addresses import checked_url

# The events an endpoint may subscribe to, in the order the form shows them.
EVENTS = ("registration.created", "registration.cancelled", "registration.promoted",
          "registration.checked_in", "gathering.changed")
# Sent by "Send a test event", to the one endpoint, whatever it subscribes to.
TEST_EVENT = "ping"

# What a gathering.changed event says happened.
# "edited": a published (or postponed) gathering's details changed (title, description, seats …).
GATHERING_CHANGES = ("moved", "postponed", "rescheduled", "cancelled", "edited")


# --- the payloads (pure) ---------------------------------------------------------------------


def instant(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC, "2026-02-12T08:00:00Z"."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def gathering_data(gathering: Gathering) -> dict:
    """What every event says about its gathering: public facts only."""
    return {
        "id": gathering.id,
        "slug": gathering.slug,
        "title": gathering.title,
        "status": gathering.status.value,
        "starts_at": instant(gathering.starts_at),
        "ends_at": instant(gathering.ends_at),
        "venue_name": gathering.venue_name,
        "url": absolute_url("public.gathering", slug=gathering.slug),
    }


def registration_data(registration: Registration) -> dict:
    """A registration.* event's data: the registration's id and status, its organisation and
    gathering. No name, address, job title, needs or comment (decision 0028)."""
    organisation = registration.organisation
    return {
        "registration": {
            "id": registration.id,
            "status": registration.status.value,
            "checked_in_at": instant(registration.checked_in_at),
            "organisation": {"name": organisation.name, "sector": organisation.sector.value,
                             "org_number": organisation.org_number},
        },
        "gathering": gathering_data(registration.gathering),
    }


def changed_gathering_data(gathering: Gathering, change: str) -> dict:
    """A gathering.changed event's data: what happened, and the gathering as it is now."""
    if change not in GATHERING_CHANGES:
        raise ValueError(f"unknown change {change!r}")
    return {"change": change, "previous_starts_at": instant(gathering.previous_starts_at),
            "gathering": gathering_data(gathering)}


def body(event_id: str, event: str, data: dict, *, now: datetime) -> str:
    """The JSON body sent: the same bytes every attempt, so the signature covers exactly it."""
    return json.dumps({"id": event_id, "type": event, "created_at": instant(now), "data": data},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --- queuing -----------------------------------------------------------------------------------


def enqueue(event: str, data: dict, *, now: datetime) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint subscribed to it, in the caller's transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    with db.session.no_autoflush:
        endpoints = [endpoint for endpoint in db.session.scalars(
            sa.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
            .order_by(WebhookEndpoint.id)) if event in (endpoint.events or [])]
    if not endpoints:
        return []
    event_id = str(uuid.uuid4())
    text = body(event_id, event, data, now=now)
    return [_queue(endpoint, event, event_id, text, now=now) for endpoint in endpoints]


def _queue(endpoint: WebhookEndpoint, event: str, event_id: str, text: str, *,
           now: datetime) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint=endpoint, event_type=event, event_id=event_id,
                               payload=text, created_at=now, next_attempt_at=now, attempts=0,
                               last_error_kind="", last_error="")
    db.session.add(delivery)
    wakeup.wake_on_commit(db.session)
    return delivery


# --- the organisers' endpoints -----------------------------------------------------------------


def _allow_loopback() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_LOOPBACK"])


def _checked_events(events: list[str]) -> list[str]:
    chosen = [event for event in EVENTS if event in set(events)]
    if not chosen or set(events) - set(EVENTS):
        raise DomainError(_("Velg minst én hendelse webhooken skal sendes for."))
    return chosen


def _events_param(events: list[str]) -> dict:
    return joined([label("webhook_event", event) for event in events], ", ")


def create(*, url: str, description: str, events: list[str], now: datetime,
           by: Organiser) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its new secret (shown to the organiser once)."""
    url = checked_url(url, allow_loopback=_allow_loopback())
    events = _checked_events(events)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(url=url, description=description.strip(), events=events,
                               secret=secret, created_by=by, created_at=now, active=True)
    db.session.add(endpoint)
    db.session.flush()
    history.audit("webhook_create", by=by, now=now,
                  summary=said("webhook_created", url=url, events=_events_param(events)))
    return endpoint, secret


def update(endpoint: WebhookEndpoint, *, url: str, description: str, events: list[str],
           now: datetime, by: Organiser) -> list[str]:
    """Change an endpoint's address, description or events; returns the fields changed."""
    url = url.strip()
    if url != endpoint.url:
        url = checked_url(url, allow_loopback=_allow_loopback())
    events = _checked_events(events)
    after = {"url": url, "description": description.strip(), "events": events}
    changed = [name for name, value in after.items() if getattr(endpoint, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(endpoint, name, after[name])
    db.session.flush()
    history.audit("webhook_edit", by=by, now=now, summary=said(
        "webhook_edited", url=endpoint.url,
        fields=joined([label("webhook_field", name) for name in changed], ", ")))
    return changed


def set_active(endpoint: WebhookEndpoint, active: bool, *, now: datetime, by: Organiser) -> bool:
    """Turn an endpoint off (nothing is queued or sent to it) or on again; False if it already
    was. Deliveries queued before it was turned off wait, and go when it is turned on."""
    if endpoint.active == active:
        return False
    endpoint.active = active
    endpoint.disabled_at = None if active else now
    db.session.flush()
    history.audit("webhook_enable" if active else "webhook_disable", by=by, now=now,
                  summary=said("webhook_endpoint", url=endpoint.url))
    return True


def delete(endpoint: WebhookEndpoint, *, now: datetime, by: Organiser) -> None:
    """Delete an endpoint and its deliveries (sent or not)."""
    history.audit("webhook_delete", by=by, now=now,
                  summary=said("webhook_endpoint", url=endpoint.url))
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.flush()


def reveal_secret(endpoint: WebhookEndpoint, *, now: datetime, by: Organiser) -> str:
    """The endpoint's secret, for an organiser who asked to see it (audited)."""
    history.audit("webhook_secret_shown", by=by, now=now,
                  summary=said("webhook_endpoint", url=endpoint.url))
    return endpoint.secret


def rotate_secret(endpoint: WebhookEndpoint, *, now: datetime, by: Organiser) -> str:
    """Give the endpoint a new secret (the old one stops at once); returns it."""
    endpoint.secret = signing.new_secret()
    db.session.flush()
    history.audit("webhook_secret_rotated", by=by, now=now,
                  summary=said("webhook_endpoint", url=endpoint.url))
    return endpoint.secret


def send_test(endpoint: WebhookEndpoint, *, now: datetime, by: Organiser) -> WebhookDelivery:
    """Queue a "ping" to this endpoint alone, whatever it subscribes to."""
    if not endpoint.active:
        raise DomainError(_("Webhooken er slått av. Slå den på før du sender en testhendelse."))
    event_id = str(uuid.uuid4())
    delivery = _queue(endpoint, TEST_EVENT, event_id,
                      body(event_id, TEST_EVENT, {"endpoint": {"id": endpoint.id}}, now=now),
                      now=now)
    db.session.flush()
    history.audit("webhook_test", by=by, now=now,
                  summary=said("webhook_endpoint", url=endpoint.url))
    return delivery


def resend(delivery: WebhookDelivery, *, now: datetime, by: Organiser) -> WebhookDelivery:
    """Queue a new attempt of a delivery: the same event id and body (the receiver can tell
    it has it already), signed anew when sent. Not while the same event still waits."""
    endpoint = delivery.endpoint
    if not endpoint.active:
        raise DomainError(_("Webhooken er slått av. Slå den på før du sender noe på nytt."))
    waiting = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == delivery.event_id,
        WebhookDelivery.delivered_at.is_(None), WebhookDelivery.given_up_at.is_(None)))
    if waiting:
        raise DomainError(_("Denne hendelsen venter allerede på å bli sendt."))
    again = _queue(endpoint, delivery.event_type, delivery.event_id, delivery.payload, now=now)
    db.session.flush()
    history.audit("webhook_resend", by=by, now=now, summary=said(
        "webhook_resent", event=label("webhook_event", delivery.event_type), url=endpoint.url,
        event_id=delivery.event_id))
    return again


# --- reading and forgetting --------------------------------------------------------------------


def endpoints() -> list[WebhookEndpoint]:
    return list(db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def deliveries_query(endpoint: WebhookEndpoint):
    """An endpoint's deliveries, newest first (the delivery log)."""
    return (sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc()))


def purge_deliveries(*, now: datetime) -> int:
    """Delete deliveries older than WEBHOOK_RETENTION_DAYS (none a worker holds); the daily
    retention job runs it. Returns how many."""
    cutoff = now - timedelta(days=current_app.config["WEBHOOK_RETENTION_DAYS"])
    result = db.session.execute(sa.delete(WebhookDelivery).where(
        WebhookDelivery.created_at < cutoff,
        sa.or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)))
    return result.rowcount or 0
