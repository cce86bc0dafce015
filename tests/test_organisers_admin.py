"""Managing organiser accounts: administrators only; never lock yourself or everyone out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from klynge_rsvp import organisers
from klynge_rsvp import organisers as management
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Organiser, OrganiserRole
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, ORGANISER_PASSWORD, log_in
from tests.overview_helpers import token
from tests.pages import text

ADMIN = "admin@bergen.kommune.no"
COLLEAGUE = "kollega@bergen.kommune.no"
NEW_PASSWORD = "midlertidig passord 2026"


def account(email) -> Organiser:
    db.session.commit()  # see what the requests committed
    return organisers.find_by_email(email)


def actions() -> list[tuple[str, str]]:
    return [(e.action, shown(e, "summary")) for e in db.session.scalars(sa.select(AuditEntry)
                                                              .order_by(AuditEntry.id))]


@pytest.fixture
def colleague(admin_client, make_organiser):
    return make_organiser(COLLEAGUE)


# --- access --------------------------------------------------------------------------------------


def test_organisers_get_403_on_every_management_route(app, organiser_client, make_organiser):
    make_organiser(COLLEAGUE)
    with app.app_context():
        colleague_id = organisers.find_by_email(COLLEAGUE).id
    csrf = token(organiser_client.get("/arrangor/").text)
    requests = [("GET", "/arrangor/arrangorer"), ("GET", "/arrangor/arrangorer/ny"),
                ("POST", "/arrangor/arrangorer/ny"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/rolle"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/deaktiver"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/aktiver"),
                ("GET", f"/arrangor/arrangorer/{colleague_id}/passord"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/passord"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/tofaktor/nullstill"),
                ("POST", f"/arrangor/arrangorer/{colleague_id}/las-opp")]
    for method, url in requests:
        response = organiser_client.open(url, method=method, data={
            "csrf_token": csrf, "role": "administrator", "email": "x@example.no", "name": "X",
            "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
        assert response.status_code == 403, (method, url)
    with app.app_context():
        assert organisers.find_by_email("x@example.no") is None
        assert account(COLLEAGUE).role == OrganiserRole.ORGANISER and account(COLLEAGUE).active
        assert actions() == []
    assert log_in(app.test_client(), COLLEAGUE).status_code == 302  # the password is unchanged


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/arrangor/arrangorer")
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]


# --- the list and creating accounts --------------------------------------------------------------


def test_list_shows_every_account(admin_client, colleague):
    page = admin_client.get("/arrangor/arrangorer")
    assert page.status_code == 200
    words = text(page.text)
    assert ADMIN in words and COLLEAGUE in words and "(deg)" in words
    # No buttons against your own account.
    assert page.text.count("Deaktiver<span") == 1


def create(admin_client, **fields):
    page = admin_client.get("/arrangor/arrangorer/ny")
    data = {"csrf_token": token(page.text), "email": "ny@bergen.kommune.no", "name": "Ny Person",
            "role": "organiser", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    data.update(fields)
    return admin_client.post("/arrangor/arrangorer/ny", data=data)


def test_create_an_account_that_can_log_in(app, admin_client):
    response = create(admin_client)
    assert response.status_code == 303
    with app.app_context():
        created = account("ny@bergen.kommune.no")
        assert created.role == OrganiserRole.ORGANISER and created.name == "Ny Person"
        assert NEW_PASSWORD not in created.password_hash
        assert actions() == [("organiser_create", "ny@bergen.kommune.no (arrangør)")]
    response = log_in(app.test_client(), "ny@bergen.kommune.no", NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/arrangor/"


def test_a_new_administrator_sets_up_a_second_factor_first(app, admin_client):
    assert create(admin_client, role="administrator").status_code == 303
    browser = app.test_client()
    response = log_in(browser, "ny@bergen.kommune.no", NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/arrangor/konto/tofaktor"
    assert browser.get("/arrangor/").status_code == 302  # nothing else before that


@pytest.mark.parametrize(("fields", "message"), [
    ({"password": "for kort", "password_again": "for kort"}, "minst 12 tegn"),
    ({"password": "aaaaaaaaaaaa", "password_again": "aaaaaaaaaaaa"},
     "Gjentakelser som «aaa» er lette å gjette."),
    ({"password": "beredskap2026", "password_again": "beredskap2026"},
     "Passordet er for lett å gjette."),
    ({"password": "Bergen næringsråd", "password_again": "Bergen næringsråd"},
     "ord som har med oss å gjøre"),
    ({"password": "Ny Person 1990", "password_again": "Ny Person 1990"},
     "Unngå navnet ditt"),
    ({"password_again": "noe helt annet her"}, "Passordene er ikke like."),
    ({"email": ADMIN}, "finnes allerede"),
    ({"email": "ikke-en-adresse"}, "gyldig e-postadresse"),
    ({"role": ""}, "Velg en rolle."),
])
def test_create_refuses_bad_input(app, admin_client, fields, message):
    response = create(admin_client, **fields)
    assert response.status_code == 422
    assert message in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) == 1


# --- roles and deactivation ----------------------------------------------------------------------


def post(admin_client, url, **data):
    csrf = token(admin_client.get("/arrangor/arrangorer").text)
    return admin_client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=True)


def test_change_a_role_and_back(app, admin_client, colleague):
    with app.app_context():
        colleague_id = account(COLLEAGUE).id
    page = post(admin_client, f"/arrangor/arrangorer/{colleague_id}/rolle", role="administrator")
    assert "har nå rollen administrator" in page.text
    with app.app_context():
        assert account(COLLEAGUE).role == OrganiserRole.ADMINISTRATOR
    post(admin_client, f"/arrangor/arrangorer/{colleague_id}/rolle", role="organiser")
    with app.app_context():
        assert account(COLLEAGUE).role == OrganiserRole.ORGANISER
        assert [a for a, _ in actions()] == ["organiser_role", "organiser_role"]
        assert actions()[0][1] == f"{COLLEAGUE}: arrangør → administrator"


def test_you_cannot_change_your_own_role_or_deactivate_yourself(app, admin_client):
    with app.app_context():
        me = account(ADMIN).id
    page = post(admin_client, f"/arrangor/arrangorer/{me}/rolle", role="organiser")
    assert "Du kan ikke endre din egen rolle" in page.text
    page = post(admin_client, f"/arrangor/arrangorer/{me}/deaktiver")
    assert "Du kan ikke deaktivere din egen konto." in page.text
    with app.app_context():
        assert account(ADMIN).is_administrator and account(ADMIN).active
        assert actions() == []


def test_deactivating_logs_the_person_out_and_reactivating_lets_them_back(app, admin_client,
                                                                          colleague):
    theirs = app.test_client()
    assert log_in(theirs, COLLEAGUE).status_code == 302
    assert theirs.get("/arrangor/").status_code == 200
    with app.app_context():
        colleague_id = account(COLLEAGUE).id

    page = post(admin_client, f"/arrangor/arrangorer/{colleague_id}/deaktiver")
    assert f"Kontoen for {COLLEAGUE} er deaktivert." in page.text
    assert "Deaktivert" in text(page.text)
    # Their open session no longer works, nor does logging in again.
    assert theirs.get("/arrangor/").status_code == 302
    assert log_in(app.test_client(), COLLEAGUE).status_code == 422

    page = post(admin_client, f"/arrangor/arrangorer/{colleague_id}/aktiver")
    assert f"Kontoen for {COLLEAGUE} er aktiv igjen." in page.text
    assert log_in(app.test_client(), COLLEAGUE).status_code == 302
    with app.app_context():
        assert [a for a, _ in actions()] == ["organiser_deactivate", "organiser_reactivate"]


# --- the rules, directly -------------------------------------------------------------------------


@pytest.fixture
def two_administrators(app, make_organiser):
    make_organiser("a@example.no", role=OrganiserRole.ADMINISTRATOR)
    make_organiser("b@example.no", role=OrganiserRole.ADMINISTRATOR)
    make_organiser("c@example.no", role=OrganiserRole.ORGANISER)
    with app.app_context():
        yield [organisers.find_by_email(e) for e in ("a@example.no", "b@example.no",
                                                     "c@example.no")]
        db.session.rollback()


def test_the_last_active_administrator_stays(two_administrators):
    a, b, c = two_administrators
    assert management.deactivate(b, by=a, now=NOW)
    # a is the last active administrator now: c cannot take that away (were c allowed in).
    with pytest.raises(DomainError, match="siste aktive administratoren"):
        management.deactivate(a, by=c, now=NOW)
    with pytest.raises(DomainError, match="minst én aktiv administrator"):
        management.change_role(a, OrganiserRole.ORGANISER, by=c, now=NOW)
    assert a.active and a.is_administrator
    # Once b is back, a may go.
    assert management.reactivate(b, by=a, now=NOW)
    assert management.change_role(a, OrganiserRole.ORGANISER, by=b, now=NOW)
    assert management.reactivate(b, by=a, now=NOW) is False  # already active


def test_an_inactive_administrator_does_not_count(two_administrators):
    a, b, c = two_administrators
    management.change_role(c, OrganiserRole.ADMINISTRATOR, by=a, now=NOW)
    management.deactivate(c, by=a, now=NOW)
    management.deactivate(b, by=a, now=NOW)
    with pytest.raises(DomainError):
        management.deactivate(a, by=b, now=NOW)
    assert management.deactivate(b, by=a, now=NOW) is False  # already inactive


def test_create_account_needs_a_long_enough_password(two_administrators):
    a, _, _ = two_administrators
    with pytest.raises(DomainError, match="minst 12 tegn"):
        management.create_account(email="d@example.no", name="D", role=OrganiserRole.ORGANISER,
                                  password="kort", by=a, now=NOW)
    created = management.create_account(email="d@example.no", name="D",
                                        role=OrganiserRole.ORGANISER,
                                        password=ORGANISER_PASSWORD, by=a, now=NOW)
    assert created.id is not None and created.active


# --- helping someone who is locked out --------------------------------------------------------


def test_a_new_password_for_someone_who_forgot_theirs(app, admin_client, colleague):
    theirs = app.test_client()
    log_in(theirs, COLLEAGUE)
    with app.app_context():
        colleague_id = account(COLLEAGUE).id
    page = admin_client.get(f"/arrangor/arrangorer/{colleague_id}/passord")
    assert page.status_code == 200 and COLLEAGUE in page.text
    weak = admin_client.post(f"/arrangor/arrangorer/{colleague_id}/passord", data={
        "csrf_token": token(page.text), "password": "passord12345",
        "password_again": "passord12345"})
    assert weak.status_code == 422 and "Passordet er for lett å gjette." in weak.text
    assert log_in(app.test_client(), COLLEAGUE, "passord12345").status_code == 422
    done = admin_client.post(f"/arrangor/arrangorer/{colleague_id}/passord", data={
        "csrf_token": token(page.text), "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        follow_redirects=True)
    assert f"{COLLEAGUE} har fått nytt passord og er logget ut overalt." in done.text
    assert theirs.get("/arrangor/").status_code == 302  # their old session is over
    assert log_in(app.test_client(), COLLEAGUE).status_code == 422  # the old password too
    assert log_in(app.test_client(), COLLEAGUE, NEW_PASSWORD).status_code == 302
    with app.app_context():
        assert actions() == [("organiser_password", COLLEAGUE)]


def test_your_own_password_is_changed_under_your_account(app, admin_client):
    with app.app_context():
        me = account(ADMIN).id
    page = admin_client.get(f"/arrangor/arrangorer/{me}/passord")
    response = admin_client.post(f"/arrangor/arrangorer/{me}/passord", data={
        "csrf_token": token(page.text), "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 422 and "Bytt ditt eget passord under Min konto." in response.text


def test_reset_the_second_factor_of_someone_who_lost_their_phone(app, admin_client,
                                                                 make_organiser):
    other = make_organiser("annen.admin@bergen.kommune.no", role=OrganiserRole.ADMINISTRATOR)
    theirs = app.test_client()
    assert log_in(theirs, other).status_code == 302
    with app.app_context():
        other_id = account(other).id
        assert account(other).has_second_factor
    listing = admin_client.get("/arrangor/arrangorer")
    assert "Nullstill tofaktor" in listing.text
    page = post(admin_client, f"/arrangor/arrangorer/{other_id}/tofaktor/nullstill")
    assert f"Tofaktor for {other} er nullstilt" in page.text
    assert theirs.get("/arrangor/").status_code == 302
    with app.app_context():
        assert not account(other).has_second_factor
        assert actions() == [("organiser_totp_reset", other)]
    # At the next login they set up a new one before anything else.
    again = log_in(app.test_client(), other)
    assert again.headers["Location"] == "/arrangor/konto/tofaktor"
    # Nothing to reset now: nothing happens, nothing is logged.
    post(admin_client, f"/arrangor/arrangorer/{other_id}/tofaktor/nullstill")
    with app.app_context():
        assert len(actions()) == 1


def test_you_cannot_reset_your_own_second_factor(app, admin_client):
    with app.app_context():
        me = account(ADMIN).id
    page = post(admin_client, f"/arrangor/arrangorer/{me}/tofaktor/nullstill")
    assert "Du kan ikke nullstille din egen tofaktor." in page.text
    with app.app_context():
        assert account(ADMIN).has_second_factor and actions() == []
