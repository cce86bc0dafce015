"""Webhooks, against a real HTTP server on 127.0.0.1: signed deliveries, retries with backoff,
giving up, resending, two workers racing, one event per trigger (and none after a rollback),
the addresses we refuse, the retention purge and the organisers' pages."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from klynge_rsvp import checkin, lifecycle, privacy, rsvp, webhooks, worker
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Gathering, WebhookDelivery, WebhookEndpoint
from klynge_rsvp.webhooks import delivery, signing
from tests.conftest import NOW, registration_request
from tests.lifecycle_helpers import organiser as new_organiser
from tests.pages import csrf_token, text

ALL_EVENTS = list(webhooks.EVENTS)


# --- a receiver: a real HTTP server that checks what a receiver must check ----------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that verifies each delivery's signature and replay window,
    and answers as told: "ok" (200), "error" (500), "slow" (answers after `delay`)."""

    def __init__(self):
        self.mode = "ok"
        self.delay = 2.0
        self.pause = 0.0  # before answering "ok": makes a pass take time (the race)
        self.secret = ""
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = {
                    "event": self.headers.get(signing.EVENT_HEADER),
                    "delivery": self.headers.get(signing.DELIVERY_HEADER),
                    "signed": signing.verify(receiver.secret, body,
                                             self.headers.get(signing.SIGNATURE_HEADER, ""),
                                             now=time.time()),
                    "body": json.loads(body),
                    "raw": body,
                    "signature": self.headers.get(signing.SIGNATURE_HEADER, ""),
                    "content_type": self.headers.get("Content-Type"),
                }
                with receiver.lock:
                    receiver.requests.append(seen)
                if receiver.mode == "slow":
                    receiver.released.wait(receiver.delay)
                elif receiver.pause:
                    time.sleep(receiver.pause)
                status = 500 if receiver.mode == "error" else (200 if seen["signed"] else 401)
                answer = b"kaputt" if status == 500 else b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/klynge"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        with self.lock:
            return [seen["delivery"] for seen in self.requests]

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def webhook_settings(app_config):
    app_config.update({"WEBHOOK_ALLOW_LOOPBACK": True, "WEBHOOK_TIMEOUT_SECONDS": 0.5})
    return app_config


def organiser():
    """The one organiser account (made at first use) in the current app context."""
    from klynge_rsvp import organisers

    return organisers.find_by_email("arrangor@bergen.kommune.no") or new_organiser()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/klynge"


def endpoint_for(receiver: Receiver | None, events=None, *, url: str | None = None):
    """An endpoint (created by an organiser, committed) whose secret the receiver knows."""
    by = organiser()
    endpoint, secret = webhooks.create(url=url or receiver.url, description="CRM",
                                       events=events or ALL_EVENTS, now=NOW, by=by)
    if receiver is not None:
        receiver.secret = secret
    db.session.commit()
    return endpoint


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def register_one(gathering, n=1):
    [outcome] = rsvp.register(gathering, registration_request(n), now=NOW)
    db.session.commit()
    return outcome.registration


# --- the signature (pure) ----------------------------------------------------------------------


def test_a_signature_verifies_only_with_the_secret_the_body_and_in_the_window():
    body = b'{"id":"1"}'
    header = signing.signature("whsec_a", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify("whsec_a", body, header, now=1_700_000_000 + 299)
    assert not signing.verify("whsec_b", body, header, now=1_700_000_000)
    assert not signing.verify("whsec_a", body + b" ", header, now=1_700_000_000)
    assert not signing.verify("whsec_a", body, header, now=1_700_000_000 + 301)  # replayed
    assert not signing.verify("whsec_a", body, header, now=1_700_000_000 - 301)
    assert not signing.verify("whsec_a", body, "v1=abc", now=1_700_000_000)


def test_the_documented_check_accepts_a_real_delivery_and_refuses_a_replay(ctx, receiver,
                                                                           make_gathering):
    """The Python example in docs/webhooks.md, run against what the worker really sent."""
    from klynge_rsvp import PROJECT_ROOT

    document = (PROJECT_ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    example = document.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(example, "docs/webhooks.md", "exec"), namespace)  # noqa: S102
    endpoint = endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())
    delivery.deliver_due(now=NOW)
    [seen] = receiver.requests
    verify = namespace["verify"]
    assert verify(endpoint.secret, seen["raw"], seen["signature"])
    sent_at = int(seen["signature"].split(",")[0].removeprefix("t="))
    assert not verify(endpoint.secret, seen["raw"], seen["signature"], now=sent_at + 301)
    assert not verify(endpoint.secret, seen["raw"] + b" ", seen["signature"])
    assert not verify("whsec_other", seen["raw"], seen["signature"])


# --- delivery ----------------------------------------------------------------------------------


def test_a_registration_is_delivered_once_signed_and_without_personal_data(ctx, receiver,
                                                                           make_gathering):
    endpoint_for(receiver, ["registration.created"])
    gathering = make_gathering()
    registration = register_one(gathering)

    report = delivery.deliver_due(now=NOW)
    assert report.delivered == [deliveries()[0].id]
    [seen] = receiver.requests
    assert seen["signed"] and seen["event"] == "registration.created"
    assert seen["content_type"] == "application/json; charset=utf-8"
    assert seen["delivery"] == seen["body"]["id"] == deliveries()[0].event_id
    data = seen["body"]["data"]
    assert data["registration"]["id"] == registration.id
    assert data["registration"]["status"] == "confirmed"
    assert data["registration"]["organisation"]["name"] == "Bergen kommune"
    assert data["gathering"] == {
        "id": gathering.id, "slug": gathering.slug, "title": gathering.title,
        "status": "published", "starts_at": "2026-02-12T09:00:00Z",
        "ends_at": "2026-02-12T11:00:00Z", "venue_name": "Ole Bull Scene",
        "url": f"https://rsvp.test/samlinger/{gathering.slug}"}
    for personal in (registration.name, registration.email, registration.job_title):
        assert personal.encode() not in seen["raw"]

    assert delivery.deliver_due(now=NOW + timedelta(days=1)).claimed == 0
    assert len(receiver.requests) == 1
    [row] = deliveries()
    assert row.delivered_at == NOW and row.attempts == 1 and row.last_status_code == 200


def test_a_failing_endpoint_is_retried_with_backoff_and_given_up_after_the_last(
        ctx, receiver, make_gathering):
    receiver.mode = "error"
    endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())

    at = NOW
    for waited in (60, 300, 1800, 7200, 43200):
        report = delivery.deliver_due(now=at)
        assert len(report.retrying) == 1
        [row] = deliveries()
        assert row.last_status_code == 500 and row.last_error_kind == "http_status"
        assert row.last_error == "HTTP 500 Internal Server Error: kaputt"
        assert row.next_attempt_at == at + timedelta(seconds=waited)
        assert delivery.deliver_due(now=at + timedelta(seconds=waited - 1)).claimed == 0
        at += timedelta(seconds=waited)
    assert len(delivery.deliver_due(now=at).given_up) == 1
    [row] = deliveries()
    assert row.attempts == 6 and row.given_up_at == at and row.delivered_at is None
    assert delivery.deliver_due(now=at + timedelta(days=2)).claimed == 0
    assert len(receiver.requests) == 6
    assert len(set(receiver.ids())) == 1  # the same event id every time
    assert all(seen["signed"] for seen in receiver.requests)


def test_a_slow_endpoint_times_out_and_is_retried(ctx, receiver, make_gathering):
    receiver.mode = "slow"
    endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())

    started = time.monotonic()
    report = delivery.deliver_due(now=NOW)
    assert time.monotonic() - started < 1.9  # the 0.5 s timeout, not the 2 s answer
    assert len(report.retrying) == 1
    [row] = deliveries()
    assert row.last_error_kind == "timeout" and row.last_status_code is None
    assert row.next_attempt_at == NOW + timedelta(minutes=1)

    receiver.mode = "ok"
    assert len(delivery.deliver_due(now=NOW + timedelta(minutes=1)).delivered) == 1


def test_a_closed_port_is_retried_as_no_contact(ctx, make_gathering):
    endpoint_for(None, ["registration.created"], url=closed_port_url())
    register_one(make_gathering())
    assert len(delivery.deliver_due(now=NOW).retrying) == 1
    [row] = deliveries()
    assert row.last_error_kind == "connection" and row.attempts == 1


def test_an_endpoint_that_never_answers_times_out_and_is_retried(ctx, make_gathering):
    """A server that takes the connection and then says nothing at all (never accepts it)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint_for(None, ["registration.created"],
                     url=f"http://127.0.0.1:{silent.getsockname()[1]}/klynge")
        register_one(make_gathering())
        started = time.monotonic()
        assert len(delivery.deliver_due(now=NOW).retrying) == 1
        assert time.monotonic() - started < 3
    [row] = deliveries()
    assert row.last_error_kind == "timeout" and row.next_attempt_at == NOW + timedelta(minutes=1)


def test_an_endpoint_that_answers_a_byte_at_a_time_is_cut_off(ctx, make_gathering):
    """Each read comes within the timeout, the whole answer never: the attempt still ends
    after twice the timeout, so it cannot outlast its claim."""
    stop = threading.Event()
    trickler = socket.socket()
    trickler.bind(("127.0.0.1", 0))
    trickler.listen(8)

    def serve():
        connection, _address = trickler.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                if stop.wait(0.2):
                    return
                connection.sendall(bytes([byte]))

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        endpoint_for(None, ["registration.created"],
                     url=f"http://127.0.0.1:{trickler.getsockname()[1]}/klynge")
        register_one(make_gathering())
        started = time.monotonic()
        assert len(delivery.deliver_due(now=NOW).retrying) == 1
        assert time.monotonic() - started < 2.5
    finally:
        stop.set()
        server.join(5)
        trickler.close()
    [row] = deliveries()
    assert row.last_error_kind == "timeout" and row.delivered_at is None


def test_the_worker_sends_webhooks_beside_the_mail(app, receiver, make_gathering):
    """The worker loop (here the embedded sender thread) starts the webhook sender."""
    from klynge_rsvp.clock import utcnow

    with app.app_context():
        endpoint_for(receiver, ["registration.created"])
        gathering = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=3))
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
    stop = worker.start_thread(app)
    try:
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threading.enumerate():
            if thread.name in ("outbox-sender", "webhook-sender"):
                thread.join(10)
    assert [seen["event"] for seen in receiver.requests] == ["registration.created"]
    assert receiver.requests[0]["signed"]


def test_resend_queues_the_same_event_again(ctx, receiver, make_gathering):
    receiver.mode = "error"
    endpoint = endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())
    [first] = deliveries()
    with pytest.raises(DomainError):  # still waiting: no second copy
        webhooks.resend(first, now=NOW, by=endpoint.created_by)
    db.session.rollback()
    [first] = deliveries()
    first.attempts, first.given_up_at = 6, NOW  # as after the retries
    db.session.commit()

    receiver.mode = "ok"
    again = webhooks.resend(first, now=NOW + timedelta(hours=1), by=endpoint.created_by)
    db.session.commit()
    assert again.id != first.id and again.event_id == first.event_id
    assert delivery.deliver_due(now=NOW + timedelta(hours=1)).delivered == [again.id]
    assert receiver.ids() == [first.event_id]
    assert receiver.requests[0]["signed"]
    assert db.session.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.id.desc())
                             .limit(1)) == "webhook_resend"


def test_two_workers_racing_send_each_delivery_once(app, receiver, make_gathering):
    receiver.pause = 0.02
    with app.app_context():
        endpoint_for(receiver, ["registration.created"])
        gathering = make_gathering()
        for n in range(12):
            rsvp.register(gathering, registration_request(n), now=NOW)
        db.session.commit()
        queued = [row.event_id for row in deliveries()]
    assert len(queued) == 12

    start, reports, errors = threading.Barrier(2), [], []

    def work():
        try:
            with app.app_context():
                start.wait()
                reports.append(delivery.deliver_due(now=NOW))
                reports.append(delivery.deliver_due(now=NOW))
        except Exception as error:  # shown below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(receiver.ids()) == sorted(queued)  # each once, none twice
    assert sum(len(report.delivered) for report in reports) == 12
    with app.app_context():
        assert all(row.attempts == 1 and row.delivered_at for row in deliveries())


def test_a_claim_that_ran_out_lets_another_worker_send(ctx, receiver, make_gathering):
    endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())
    assert len(delivery.claim_due(now=NOW, limit=10)) == 1  # a worker that then died
    db.session.commit()
    assert delivery.deliver_due(now=NOW + timedelta(seconds=10)).claimed == 0
    assert len(delivery.deliver_due(now=NOW + timedelta(minutes=6)).delivered) == 1


# --- what queues an event ----------------------------------------------------------------------


def test_each_trigger_queues_its_event(ctx, receiver, make_gathering):
    endpoint_for(receiver)
    gathering = make_gathering(capacity=1)
    seated = register_one(gathering, 1)
    waiting = register_one(gathering, 2)
    rsvp.cancel(seated, now=NOW)
    checkin.check_in(waiting, now=NOW, by=None)
    by = organiser()
    lifecycle.move(gathering, starts_at=gathering.starts_at + timedelta(days=1),
                   ends_at=gathering.ends_at + timedelta(days=1), venue_name="Grieghallen",
                   venue_address="", message="", now=NOW, by=by)
    lifecycle.postpone(gathering, message="", now=NOW, by=by)
    lifecycle.reschedule(gathering, starts_at=NOW + timedelta(days=60),
                         ends_at=NOW + timedelta(days=60, hours=2), venue_name="Grieghallen",
                         venue_address="", reconfirm_deadline=None, message="", now=NOW, by=by)
    lifecycle.cancel(gathering, message="", now=NOW, by=by)
    db.session.commit()

    found = [(row.event_type, json.loads(row.payload)["data"]) for row in deliveries()]
    assert [event for event, _data in found] == [
        "registration.created", "registration.created", "registration.cancelled",
        "registration.promoted", "registration.checked_in"] + ["gathering.changed"] * 4
    assert [data["registration"]["status"] for _e, data in found[:5]] == [
        "confirmed", "waiting", "cancelled", "confirmed", "confirmed"]
    assert found[4][1]["registration"]["checked_in_at"] == "2026-01-13T09:00:00Z"
    assert [data["change"] for _e, data in found[5:]] == [
        "moved", "postponed", "rescheduled", "cancelled"]
    assert found[5][1]["gathering"]["venue_name"] == "Grieghallen"
    assert found[5][1]["previous_starts_at"] == "2026-02-12T09:00:00Z"

    assert len(delivery.deliver_due(now=NOW).delivered) == 9
    assert [seen["event"] for seen in receiver.requests] == [event for event, _d in found]


def test_an_edit_to_a_published_gathering_is_a_change_and_a_drafts_is_not(ctx, receiver,
                                                                          make_gathering):
    from klynge_rsvp import gatherings
    from klynge_rsvp.models import GatheringStatus

    endpoint_for(receiver, ["gathering.changed"])
    draft = make_gathering(status=GatheringStatus.DRAFT)
    gatherings.update(draft, {"title": "Utkastet"}, now=NOW, by=organiser())
    published = make_gathering()
    gatherings.update(published, {"title": "Ny tittel", "capacity": 80}, now=NOW, by=organiser())
    gatherings.update(published, {"title": "Ny tittel"}, now=NOW, by=organiser())  # no change
    db.session.commit()
    found = [json.loads(row.payload)["data"] for row in deliveries()]
    assert [(data["change"], data["gathering"]["title"]) for data in found] == [
        ("edited", "Ny tittel")]


def test_an_organisers_promotion_and_registration_queue_events(ctx, receiver, make_gathering):
    endpoint_for(receiver, ["registration.created", "registration.promoted"])
    gathering = make_gathering(capacity=1)
    register_one(gathering, 1)
    waiting = register_one(gathering, 2)
    rsvp.promote(waiting, now=NOW, by=organiser(), over_capacity=True)
    db.session.commit()
    assert [row.event_type for row in deliveries()] == [
        "registration.created", "registration.created", "registration.promoted"]


def test_only_subscribed_active_endpoints_get_an_event(ctx, receiver, make_gathering):
    cancelled_only = endpoint_for(receiver, ["registration.cancelled"])
    off = endpoint_for(receiver, ["registration.created"])
    webhooks.set_active(off, False, now=NOW, by=off.created_by)
    db.session.commit()
    register_one(make_gathering())
    assert deliveries() == []
    assert cancelled_only.active


def test_nothing_is_queued_when_the_change_rolls_back(ctx, receiver, make_gathering):
    endpoint_for(receiver)
    gathering = make_gathering()
    rsvp.register(gathering, registration_request(1), now=NOW)
    db.session.flush()
    db.session.rollback()
    assert deliveries() == []
    with pytest.raises(DomainError):
        rsvp.register(gathering, registration_request(2, consent=False), now=NOW)
    db.session.rollback()
    assert deliveries() == []
    assert delivery.deliver_due(now=NOW).claimed == 0
    assert receiver.requests == []


def test_a_disabled_endpoints_queued_deliveries_wait_until_it_is_on_again(ctx, receiver,
                                                                          make_gathering):
    endpoint = endpoint_for(receiver, ["registration.created"])
    register_one(make_gathering())
    webhooks.set_active(endpoint, False, now=NOW, by=endpoint.created_by)
    db.session.commit()
    assert delivery.deliver_due(now=NOW).claimed == 0
    webhooks.set_active(endpoint, True, now=NOW, by=endpoint.created_by)
    db.session.commit()
    assert len(delivery.deliver_due(now=NOW).delivered) == 1


# --- addresses we refuse ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://example.com/hook", "ftp://127.0.0.1/hook", "https://10.0.0.7/hook",
    "https://192.168.1.1/hook", "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:10.0.0.1]/hook", "https://[fd00::1]/hook", "https://user:pw@127.0.0.1/",
    "https:///no-host", "https://0.0.0.0/hook", "not a url", "",
])
def test_an_address_we_do_not_send_to_is_refused_and_nothing_is_saved(ctx, url):
    with pytest.raises(DomainError):
        webhooks.create(url=url, description="", events=ALL_EVENTS, now=NOW, by=organiser())
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_loopback_and_http_only_with_the_setting(app, app_config):
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    with app.app_context():
        for url in ("http://127.0.0.1:8080/hook", "https://127.0.0.1/hook",
                    "https://localhost/hook", "https://[::1]/hook"):
            with pytest.raises(DomainError):
                webhooks.create(url=url, description="", events=ALL_EVENTS, now=NOW,
                                by=organiser())
            db.session.rollback()


def test_an_address_that_turns_internal_is_refused_when_sending(app, receiver, make_gathering):
    """The address the connection reached is checked, not only the one the name had when
    saved (DNS rebinding): here the setting that allowed loopback is gone by then."""
    with app.app_context():
        endpoint_for(receiver, ["registration.created"])
        register_one(make_gathering())
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    with app.app_context():
        assert len(delivery.deliver_due(now=NOW).retrying) == 1
        [row] = deliveries()
        assert row.last_error_kind == "refused_address"
        assert "127.0.0.1" in row.last_error
    assert receiver.requests == []


# --- keeping and forgetting --------------------------------------------------------------------


def test_the_daily_purge_deletes_old_deliveries(app, receiver, make_gathering):
    with app.app_context():
        endpoint_for(receiver, ["registration.created"])
        gathering = make_gathering()
        register_one(gathering, 1)
        register_one(gathering, 2)
        old, recent = deliveries()
        old.created_at = NOW - timedelta(days=400)
        recent.created_at = webhooks_now() - timedelta(days=29)
        db.session.commit()
        worker.purge_personal_data()
        assert [row.id for row in deliveries()] == [recent.id]


def webhooks_now():
    from klynge_rsvp.clock import utcnow

    return utcnow()


def test_erasure_leaves_no_personal_data_in_queued_payloads(ctx, receiver, make_gathering):
    endpoint_for(receiver)
    registration = register_one(make_gathering())
    name, email = registration.name, registration.email
    privacy.erase(registration, now=NOW)
    db.session.commit()
    rows = deliveries()
    assert [row.event_type for row in rows] == ["registration.created", "registration.cancelled"]
    for row in rows:
        assert name not in row.payload and email not in row.payload


def test_deleting_an_endpoint_deletes_its_deliveries(ctx, receiver, make_gathering):
    endpoint = endpoint_for(receiver)
    register_one(make_gathering())
    webhooks.delete(endpoint, now=NOW, by=endpoint.created_by)
    db.session.commit()
    assert deliveries() == []
    assert db.session.get(Gathering, 1) is not None


# --- the organisers' pages ---------------------------------------------------------------------


def the_endpoint() -> WebhookEndpoint:
    return db.session.scalar(sa.select(WebhookEndpoint))


def audit_trail() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def post(client, url: str, data: dict | None = None, page: str = "/arrangor/webhooker"):
    """POST `data` to `url` with the CSRF token of `page`."""
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def test_reloading_the_secrets_page_adds_no_second_endpoint(app, organiser_client, receiver):
    """The secret is the answer to the POST; a reload posts the same form again."""
    form = organiser_client.get("/arrangor/webhooker/ny").text
    once = re.search(r'name="once" type="hidden" value="([^"]+)"', form).group(1)
    data = {"csrf_token": csrf_token(form), "once": once, "url": receiver.url,
            "events": ["registration.created"]}
    assert organiser_client.post("/arrangor/webhooker/ny", data=data).status_code == 200
    again = organiser_client.post("/arrangor/webhooker/ny", data=data)
    assert again.status_code == 303 and again.headers["Location"].endswith("/arrangor/webhooker")
    assert "Webhooken er allerede lagt til." in text(organiser_client.get("/arrangor/webhooker").text)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1


def test_an_organiser_adds_a_webhook_and_sees_its_secret_only_when_asked(
        app, organiser_client, receiver):
    form = organiser_client.get("/arrangor/webhooker/ny")
    assert form.status_code == 200 and "Hendelser" in text(form.text)
    added = organiser_client.post("/arrangor/webhooker/ny", data={
        "csrf_token": csrf_token(form.text), "url": receiver.url, "description": "CRM",
        "events": ["registration.created", "gathering.changed"]})
    assert added.status_code == 200
    assert added.headers["Cache-Control"] == "no-store"
    with app.app_context():
        endpoint = the_endpoint()
        secret, endpoint_id = endpoint.secret, endpoint.id
        assert endpoint.events == ["registration.created", "gathering.changed"]
        assert endpoint.created_by.email == "arrangor@bergen.kommune.no"
        assert audit_trail() == ["webhook_create"]
    assert secret.startswith("whsec_") and secret in added.text

    shown = organiser_client.get(f"/arrangor/webhooker/{endpoint_id}")
    assert shown.status_code == 200 and secret not in shown.text
    listing = organiser_client.get("/arrangor/webhooker")
    assert receiver.url in listing.text and secret not in listing.text

    revealed = post(organiser_client, f"/arrangor/webhooker/{endpoint_id}/hemmelighet")
    assert revealed.status_code == 200 and secret in revealed.text
    rotated = post(organiser_client, f"/arrangor/webhooker/{endpoint_id}/ny-hemmelighet")
    with app.app_context():
        new_secret = the_endpoint().secret
        assert audit_trail() == ["webhook_create", "webhook_secret_shown",
                                 "webhook_secret_rotated"]
    assert new_secret != secret and new_secret in rotated.text and secret not in rotated.text


@pytest.mark.parametrize(("url", "events", "message"), [
    ("http://example.com/hook", ["registration.created"], "Adressen må begynne med https://"),
    ("https://10.1.2.3/hook", ["registration.created"], "internt eller privat nett"),
    ("", ["registration.created"], "Skriv inn adressen webhooken skal sendes til."),
    ("https://127.0.0.1/hook", [], "Velg minst én hendelse"),
    ("https://127.0.0.1/hook", ["registration.deleted"], "Hendelser"),
    ("https://127.0.0.1/ho\x00ok", ["registration.created"], "ikke en gyldig nettadresse"),
])
def test_a_bad_webhook_form_says_what_is_wrong_and_saves_nothing(app, organiser_client, url,
                                                                 events, message):
    form = organiser_client.get("/arrangor/webhooker/ny")
    answer = organiser_client.post("/arrangor/webhooker/ny", data={
        "csrf_token": csrf_token(form.text), "url": url, "description": "", "events": events})
    assert answer.status_code == 422
    assert message in text(answer.text)
    assert 'class="error-summary"' in answer.text
    with app.app_context():
        assert the_endpoint() is None and audit_trail() == []


def test_an_organiser_edits_tests_disables_resends_and_deletes_a_webhook(
        app, organiser_client, receiver):
    with app.app_context():
        endpoint_id = endpoint_for(receiver, ["registration.created"]).id
    page = f"/arrangor/webhooker/{endpoint_id}"

    edit = organiser_client.get(f"{page}/endre")
    assert edit.status_code == 200 and receiver.url in edit.text
    saved = organiser_client.post(f"{page}/endre", data={
        "csrf_token": csrf_token(edit.text), "url": receiver.url, "description": "Nytt CRM",
        "events": ["registration.created", "registration.cancelled"]})
    assert saved.status_code == 303
    with app.app_context():
        assert the_endpoint().events == ["registration.created", "registration.cancelled"]

    assert post(organiser_client, f"{page}/test", page=page).status_code == 303
    with app.app_context():
        [ping] = deliveries()
        assert ping.event_type == "ping"
        ping_id, ping_event = ping.id, ping.event_id
        delivery.deliver_due()
    assert [seen["event"] for seen in receiver.requests] == ["ping"]
    assert receiver.requests[0]["signed"]
    log = text(organiser_client.get(page).text)
    assert "Testhendelse" in log and "Levert" in log and ping_event in log

    assert post(organiser_client, f"/arrangor/webhooker/leveranser/{ping_id}/send-igjen",
                page=page).status_code == 303
    with app.app_context():
        assert [row.event_id for row in deliveries()] == [ping_event] * 2

    assert post(organiser_client, f"{page}/aktiv", {"active": "0"}, page=page).status_code == 303
    with app.app_context():
        assert not the_endpoint().active and the_endpoint().disabled_at is not None
    assert "Slått av" in text(organiser_client.get(page).text)
    assert post(organiser_client, f"{page}/test", page=page).status_code == 303
    with app.app_context():
        assert len(deliveries()) == 2  # nothing queued while off
    assert post(organiser_client, f"{page}/aktiv", {"active": "1"}, page=page).status_code == 303

    confirm = organiser_client.get(f"{page}/slett")
    assert confirm.status_code == 200 and "kan ikke angres" in text(confirm.text)
    with app.app_context():
        assert the_endpoint() is not None  # a GET deletes nothing
    assert post(organiser_client, f"{page}/slett", page=f"{page}/slett").status_code == 303
    with app.app_context():
        assert the_endpoint() is None and deliveries() == []
        assert audit_trail() == ["webhook_create", "webhook_edit", "webhook_test", "webhook_resend",
                                 "webhook_disable", "webhook_enable", "webhook_delete"]
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "webhook_edit"))
        assert entry.summary_code == "webhook_edited"
    assert organiser_client.get(page).status_code == 404


def test_webhook_pages_need_a_logged_in_organiser(app, client, receiver):
    with app.app_context():
        endpoint_id = endpoint_for(receiver).id
    for path in ("/arrangor/webhooker", f"/arrangor/webhooker/{endpoint_id}",
                 "/arrangor/webhooker/ny"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/arrangor/innlogging" in answer.headers["Location"]
    assert client.post(f"/arrangor/webhooker/{endpoint_id}/hemmelighet").status_code in (302, 400)
    with app.app_context():
        assert audit_trail() == ["webhook_create"]


def test_unknown_webhooks_are_not_found(organiser_client):
    assert organiser_client.get("/arrangor/webhooker/999").status_code == 404
    assert post(organiser_client, "/arrangor/webhooker/leveranser/999/send-igjen").status_code == 404
