"""Organisers' API keys and the organiser API (/api/v1/organiser): making, listing and revoking
keys through the workspace pages, who sees whose, what a key opens and what it does not, the
secret only as a hash, an audit line per request, no cookie; every API answer validated against
the OpenAPI document the app serves."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from klynge_rsvp import api_tokens, checkin, organisers, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import ApiToken, AuditEntry, Gathering, GatheringStatus, OrganiserRole

from .admin_helpers import post_page
from .conftest import ORGANISER_PASSWORD, log_in, registration_request
from .pages import csrf_token
from .test_api import checked

API = "/api/v1/organiser"
ORGANISER = "arrangor@bergen.kommune.no"
BOTH = [api_tokens.GATHERINGS_READ, api_tokens.REGISTRATIONS_READ]


def make_key(app, email=ORGANISER, *, scopes=BOTH, days=90, name="Nettsiden") -> tuple[int, str]:
    """A key for the account `email` made by the service: its id and its token."""
    with app.app_context():
        token, secret = api_tokens.create(organisers.find_by_email(email), name=name,
                                          scopes=scopes, lifetime_days=days, now=utcnow())
        db.session.commit()
        return token.id, secret


def call(client, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return checked(client.get(API + path, headers=headers, **kwargs))


@pytest.fixture
def world(app, make_organiser, make_gathering):
    """An organiser with a key, a published gathering with a seat taken, a waiting list and a
    check-in, and a draft."""
    now = utcnow()
    with app.app_context():
        exists = organisers.find_by_email(ORGANISER) is not None  # organiser_client made it
    if not exists:
        make_organiser(ORGANISER, name="Ola Arrangør")
    with app.app_context():
        full = make_gathering(now=now, starts_at=now + timedelta(days=10), capacity=1,
                              slug="full")
        draft = make_gathering(now=now, starts_at=now + timedelta(days=20), slug="utkast",
                               status=GatheringStatus.DRAFT, title="Hemmelig utkast")
        [seated] = rsvp.register(full, registration_request(1), now=now)
        rsvp.register(full, registration_request(2), now=now + timedelta(seconds=1))
        rsvp.register(full, registration_request(3), now=now + timedelta(seconds=2))
        seated.registration.needs = "Glutenfri"
        checkin.check_in(seated.registration, now=now, by=None)
        db.session.commit()
        ids = {"full": full.id, "draft": draft.id}
    ids["key"], ids["token"] = make_key(app)
    return ids


# --- the API ------------------------------------------------------------------------------------


def test_a_key_reads_every_gathering_drafts_too(client, world):
    response = call(client, "/gatherings", world["token"])
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [world["draft"], world["full"]]
    full = body["items"][1]
    assert full["status"] == "published" and body["items"][0]["status"] == "draft"
    assert full["counts"] == {"confirmed": 1, "waiting": 2, "cancelled": 0, "checkedIn": 1}
    assert full["capacity"] == 1 and full["seatsLeft"] == 0
    assert full["links"]["registrations"] == \
        f"https://rsvp.test/api/v1/organiser/gatherings/{world['full']}/registrations"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    one = call(client, f"/gatherings/{world['draft']}", world["token"])
    assert one.status_code == 200 and one.get_json()["title"] == "Hemmelig utkast"


def test_registrations_with_status_place_in_line_and_check_in(client, world):
    response = call(client, f"/gatherings/{world['full']}/registrations?per_page=2",
                    world["token"])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["pages"], body["perPage"]) == (3, 2, 2)
    first, second = body["items"]
    assert (first["name"], first["status"], first["waitingPosition"]) == \
        ("Deltaker 1", "confirmed", None)
    assert first["needs"] == "Glutenfri" and first["checkedInAt"] is not None
    assert first["organisation"] == {"name": "Bergen kommune", "sector": "offentlig"}
    assert (second["status"], second["waitingPosition"]) == ("waiting", 1)
    assert 'rel="next"' in response.headers["Link"]
    last = call(client, f"/gatherings/{world['full']}/registrations?per_page=2&page=2",
                world["token"]).get_json()
    assert [(r["name"], r["waitingPosition"]) for r in last["items"]] == [("Deltaker 3", 2)]


def test_answers_come_with_the_registrations_only_with_their_scope(app, client, world):
    """The organisers' own questions (issue 16): one answer per question in the form's order,
    "" where not answered; a key without answers:read gets no answers at all."""
    from klynge_rsvp import questions
    from klynge_rsvp.models import Gathering, QuestionKind, Registration

    with app.app_context():
        gathering, now = db.session.get(Gathering, world["full"]), utcnow()
        workshop = questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?",
            choices=[(None, "Flom"), (None, "=Skred")]), now=now, by=None)
        questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.SHORT_TEXT, label="Allergier?"), now=now, by=None)
        first = db.session.scalar(sa.select(Registration).where(
            Registration.gathering_id == gathering.id).order_by(Registration.id))
        questions.save_answers(first, {workshop.id: [workshop.choices[1].id]}, now=now)
        db.session.commit()
        workshop_id = workshop.id
    path = f"/gatherings/{world['full']}/registrations"

    without = call(client, path, world["token"]).get_json()["items"]
    assert all("answers" not in item for item in without)

    _, token = make_key(app, scopes=[*BOTH, api_tokens.ANSWERS_READ], name="Med svar")
    items = call(client, path, token).get_json()["items"]
    assert items[0]["answers"][0] == {"questionId": workshop_id, "question": "Hvilken workshop?",
                                      "answer": "=Skred"}
    assert [a["question"] for a in items[0]["answers"]] == ["Hvilken workshop?", "Allergier?"]
    assert [a["answer"] for a in items[1]["answers"]] == ["", ""]


def test_an_unknown_gathering_is_a_problem_not_a_page(client, world):
    for path in ("/gatherings/999999", "/gatherings/999999/registrations", "/gatherings/abc"):
        response = call(client, path, world["token"], headers={"Accept-Language": "en"})
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == "There is no gathering with this id."


def test_bad_paging_is_a_problem(client, world):
    response = call(client, "/gatherings?page=0&per_page=101", world["token"])
    assert response.status_code == 400
    assert [p["name"] for p in response.get_json()["invalid-params"]] == ["page", "per_page"]


@pytest.mark.parametrize("how", ["none", "wrong", "malformed", "basic", "revoked", "expired",
                                 "deactivated", "other prefix"])
def test_no_working_key_gets_401(app, client, world, make_organiser, how):
    token = world["token"]
    headers = {}
    if how == "wrong":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif how == "malformed":
        token = token[:20]
    elif how == "other prefix":
        token = "ghp_" + token[len("klynge_"):]
    elif how == "basic":
        headers["Authorization"] = "Basic " + "YTpi"
        token = None
    elif how == "none":
        token = None
    with app.app_context():
        key = db.session.get(ApiToken, world["key"])
        if how == "revoked":
            api_tokens.revoke(key, by=key.organiser, now=utcnow())
        elif how == "expired":
            key.expires_at = utcnow() - timedelta(seconds=1)
        elif how == "deactivated":
            admin = organisers.create("admin@bergen.kommune.no", ORGANISER_PASSWORD,
                                      role=OrganiserRole.ADMINISTRATOR, now=utcnow())
            organisers.deactivate(key.organiser, by=admin, now=utcnow())
        db.session.commit()
    response = call(client, "/gatherings", token, headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert ('error="invalid_token"' in challenge) == (how != "none")
    with app.app_context():  # nothing read, nothing audited, nothing noted as used
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "api_request")) == 0
        assert db.session.get(ApiToken, world["key"]).last_used_at is None


def test_a_key_without_the_scope_gets_403(app, client, world):
    _id, gatherings_only = make_key(app, scopes=[api_tokens.GATHERINGS_READ])
    response = call(client, f"/gatherings/{world['full']}/registrations", gatherings_only)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="registrations:read"' in response.headers["WWW-Authenticate"]
    assert "Deltaker" not in response.text
    assert call(client, "/gatherings", gatherings_only).status_code == 200
    _id, registrations_only = make_key(app, scopes=[api_tokens.REGISTRATIONS_READ])
    assert call(client, "/gatherings", registrations_only).status_code == 403


def test_every_request_is_audited_and_the_key_marked_used(app, client, world):
    call(client, "/gatherings", world["token"])
    call(client, f"/gatherings/{world['full']}/registrations?page=1", world["token"])
    call(client, "/gatherings/999999", world["token"])
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "api_request").order_by(AuditEntry.id)).all()
        assert [(e.actor, e.gathering_id, e.summary_params["status"]) for e in entries] == [
            (ORGANISER, None, 200), (ORGANISER, world["full"], 200), (ORGANISER, None, 404)]
        assert entries[1].summary_params["endpoint"] == \
            f"GET /api/v1/organiser/gatherings/{world['full']}/registrations?page=1"
        assert entries[1].summary_params["id"] == world["key"]
        assert db.session.get(ApiToken, world["key"]).last_used_at is not None


def test_only_the_hash_is_stored(app, world):
    secret = world["token"][len("klynge_") + 13:]
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM api_tokens")).all()
        audit = connection.execute(sa.text("SELECT * FROM audit_entries")).all()
    raw = repr(rows) + repr(audit)
    assert secret not in raw and world["token"] not in raw
    assert hashlib.sha256(secret.encode()).hexdigest() in raw
    assert re.fullmatch(r"klynge_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", world["token"])


def test_the_api_reads_and_sets_no_cookie(app, client, world, make_organiser):
    browser = app.test_client()
    assert log_in(browser, ORGANISER).status_code == 302
    assert browser.get("/arrangor/").status_code == 200  # signed in
    # A signed-in browser without a key gets nothing: the session cookie is not read here.
    assert call(browser, "/gatherings").status_code == 401
    for path in ("/gatherings", f"/gatherings/{world['full']}/registrations", "/gatherings/0"):
        for someone in (client, browser):
            response = call(someone, path, world["token"],
                            headers={"Origin": "https://example.org"})
            assert "Set-Cookie" not in response.headers, path
            assert "Access-Control-Allow-Origin" not in response.headers


def test_a_preflight_opens_nothing(client, world):
    response = client.options(API + "/gatherings", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


def test_too_many_requests_get_429(make_app, app_config, make_organiser):
    application = make_app({**app_config, "API_RATE_LIMIT": "2 per minute"})
    client = application.test_client()
    for _ in range(2):
        assert call(client, "/gatherings").status_code == 401
    response = call(client, "/gatherings")
    assert response.status_code == 429 and response.mimetype == "application/problem+json"


# --- the workspace pages ------------------------------------------------------------------------


def test_an_organiser_makes_a_key_sees_it_once_and_it_works(app, organiser_client):
    page = organiser_client.get("/arrangor/api-nokler")
    assert page.status_code == 200 and "Det finnes ingen API-nøkler ennå." in page.text
    made = post_page(organiser_client, "/arrangor/api-nokler/ny", {
        "name": "Nettsiden", "gatherings": "y", "lifetime": "30"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = unescape(re.search(r'id="api-token" value="([^"]+)"', made.text).group(1))
    assert token.startswith("klynge_")
    listed = organiser_client.get("/arrangor/api-nokler")
    assert "Nettsiden" in listed.text and token not in listed.text
    assert token[len("klynge_") + 13:] not in listed.text
    assert call(app.test_client(), "/gatherings", token).status_code == 200
    assert call(app.test_client(), "/gatherings/1/registrations", token).status_code == 403
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "api_token_create"))
        assert entry.actor == ORGANISER and token not in repr(entry.summary_params)
        key = db.session.scalar(sa.select(ApiToken))
        assert key.scopes == "gatherings:read"
        assert timedelta(days=29) < key.expires_at - key.created_at <= timedelta(days=30)


def test_reloading_the_page_that_shows_the_token_makes_no_second_key(app, organiser_client):
    """The token is the answer to the POST; a reload posts the same form again."""
    page = organiser_client.get("/arrangor/api-nokler/ny").text
    once = re.search(r'name="once" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "once": once, "name": "Nettsiden",
            "gatherings": "y", "lifetime": "30"}
    assert organiser_client.post("/arrangor/api-nokler/ny", data=data).status_code == 200
    again = organiser_client.post("/arrangor/api-nokler/ny", data=data)
    assert again.status_code == 303 and again.headers["Location"].endswith("/arrangor/api-nokler")
    listed = organiser_client.get("/arrangor/api-nokler").text
    assert "Nøkkelen er allerede laget." in unescape(listed)
    # A new form (a new value) makes a new key.
    fresh = post_page(organiser_client, "/arrangor/api-nokler/ny", {
        "name": "Regnearket", "gatherings": "y", "lifetime": "30"})
    assert fresh.status_code == 200
    with app.app_context():
        assert db.session.scalars(sa.select(ApiToken.name).order_by(ApiToken.id)).all() == [
                "Nettsiden", "Regnearket"]


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "gatherings": "y", "lifetime": "90"}, "Gi nøkkelen et navn."),
    ({"name": "x" * 101, "gatherings": "y", "lifetime": "90"}, "Navnet er for langt."),
    ({"name": "Nettsiden", "lifetime": "90"}, "Velg minst én ting nøkkelen skal kunne lese."),
    ({"name": "Nettsiden", "gatherings": "y", "lifetime": "7"}, "Hvor lenge nøkkelen virker"),
])
def test_a_bad_form_says_why_and_makes_nothing(app, organiser_client, data, message):
    response = post_page(organiser_client, "/arrangor/api-nokler/ny", data)
    assert response.status_code == 422
    assert message in unescape(response.text)
    assert 'class="error-summary"' in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_revoking_asks_first_then_the_key_stops_at_once(app, organiser_client, world):
    assert call(app.test_client(), "/gatherings", world["token"]).status_code == 200
    page = organiser_client.get(f"/arrangor/api-nokler/{world['key']}/tilbakekall")
    assert page.status_code == 200 and "Trekke tilbake «Nettsiden»?" in unescape(page.text)
    with app.app_context():
        assert db.session.get(ApiToken, world["key"]).revoked_at is None  # not by looking
    done = post_page(organiser_client, f"/arrangor/api-nokler/{world['key']}/tilbakekall", {},
                     follow_redirects=True)
    assert done.status_code == 200 and "Trukket tilbake" in done.text
    assert call(app.test_client(), "/gatherings", world["token"]).status_code == 401
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "api_token_revoke"))
        assert entry.actor == ORGANISER and entry.summary_params["id"] == world["key"]


def test_an_organiser_sees_and_revokes_only_their_own(app, organiser_client, world,
                                                      make_organiser):
    make_organiser("kari@uib.no", name="Kari")
    kari_key, kari_token = make_key(app, "kari@uib.no", name="Karis skript")
    listed = organiser_client.get("/arrangor/api-nokler")
    assert "Nettsiden" in listed.text and "Karis skript" not in listed.text
    url = f"/arrangor/api-nokler/{kari_key}/tilbakekall"
    assert organiser_client.get(url).status_code == 404
    own = organiser_client.get(f"/arrangor/api-nokler/{world['key']}/tilbakekall")
    from .pages import csrf_token
    assert organiser_client.post(url, data={"csrf_token": csrf_token(own.text)}).status_code == 404
    assert call(app.test_client(), "/gatherings", kari_token).status_code == 200


def test_an_administrator_sees_and_revokes_everyones(app, admin_client, world):
    listed = admin_client.get("/arrangor/api-nokler")
    assert "Nettsiden" in listed.text and ORGANISER in listed.text
    post_page(admin_client, f"/arrangor/api-nokler/{world['key']}/tilbakekall", {})
    assert call(app.test_client(), "/gatherings", world["token"]).status_code == 401
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "api_token_revoke"))
        assert entry.actor == "admin@bergen.kommune.no"
        assert entry.summary_params["owner"] == ORGANISER


def test_the_audit_log_reads_the_api_lines(app, admin_client, world):
    call(app.test_client(), f"/gatherings/{world['full']}", world["token"])
    page = unescape(admin_client.get("/arrangor/revisjonslogg").text)
    assert "Leste via API-et" in page and "Opprettet API-nøkkel" in page
    assert f"GET /api/v1/organiser/gatherings/{world['full']} → 200, med API-nøkkelen " \
           f"«Nettsiden» (#{world['key']})" in page


def test_a_gathering_id_in_the_audit_line(app, world):
    call(app.test_client(), f"/gatherings/{world['full']}", world["token"])
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "api_request"))
        assert db.session.get(Gathering, entry.gathering_id).slug == "full"


def test_many_requests_at_once_are_all_answered_and_audited(app, world):
    """Each request reads, then writes its audit line: on SQLite a read transaction that then
    writes is refused at once ("database is locked") when another request wrote in between,
    so the write must begin a write transaction of its own (database.begin_writing)."""
    import threading

    failures, lock = [], threading.Lock()

    def calls():
        client = app.test_client()
        for _ in range(15):
            try:
                status = client.get(f"{API}/gatherings/{world['full']}/registrations", headers={
                    "Authorization": f"Bearer {world['token']}"}).status_code
            except Exception as error:  # testing mode raises the app's errors
                status = repr(error)
            if status != 200:
                with lock:
                    failures.append(status)

    threads = [threading.Thread(target=calls) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "api_request")) == 6 * 15


def test_a_token_put_in_the_address_is_not_written_to_the_audit_log(app, client, world):
    response = call(client, f"/gatherings?access_token={world['token']}", world["token"])
    assert response.status_code == 200
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "api_request"))
        assert entry.summary_params["endpoint"] == "GET /api/v1/organiser/gatherings?access_token=klynge_…"


def test_the_token_is_never_logged(client, world, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        for token in (world["token"], world["token"][:-1] + "x"):  # a good one and a wrong one
            call(client, f"/gatherings/{world['full']}", token)
    assert caplog.records  # the access log wrote its lines
    assert world["token"][len("klynge_") + 13:-1] not in caplog.text
