"""The second factor: setting it up (required for administrators, optional for organisers unless
KLYNGE_REQUIRE_TOTP=all), logging in with a code or a recovery code, each code once, and the
code step throttled like the password."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pyotp
import pytest
import sqlalchemy as sa

from klynge_rsvp import organisers, two_factor
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, OrganiserRole, RecoveryCode
from tests.conftest import NOW, ORGANISER_PASSWORD, csrf_token_of, log_in, totp_code

ADMIN = "leder@bergen.kommune.no"
SETUP = "/arrangor/konto/tofaktor"
CODE = "/arrangor/innlogging/kode"


def password_step(client, email, password=ORGANISER_PASSWORD):
    page = client.get("/arrangor/innlogging")
    return client.post("/arrangor/innlogging", data={
        "csrf_token": csrf_token_of(page.text), "email": email, "password": password})


def send_code(client, code, url=CODE, *, look_first=True):
    """Send the code from the page's form (look_first=False: without opening the page first)."""
    page = client.get(url if look_first else "/arrangor/innlogging")
    return client.post(url, data={"csrf_token": csrf_token_of(page.text), "code": code})


def secret_on(page_text: str) -> str:
    return re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page_text).group(1) \
        .replace(" ", "")


def recovery_codes_on(page_text: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page_text)


def account(email):
    db.session.commit()
    return organisers.find_by_email(email)


def set_up(client, *, at=None) -> tuple[str, list[str]]:
    """Set up the second factor on the page, reading the key as a person would type it into
    an app; returns the secret and the recovery codes shown."""
    page = client.get(SETUP)
    assert page.status_code == 200
    secret = secret_on(page.text)
    done = send_code(client, pyotp.TOTP(secret).at(at or utcnow()), SETUP)
    assert done.status_code == 200, done.text
    return secret, recovery_codes_on(done.text)


# --- administrators must set it up ---------------------------------------------------------------


def test_an_administrator_without_a_second_factor_sets_one_up_before_anything_else(
        app, client, make_organiser):
    make_organiser(ADMIN, role=OrganiserRole.ADMINISTRATOR, second_factor=False)
    response = password_step(client, ADMIN)
    assert response.status_code == 302 and response.headers["Location"] == SETUP
    for page in ("/arrangor/", "/arrangor/arrangorer", "/arrangor/konto"):
        assert "/arrangor/innlogging" in client.get(page).headers["Location"]

    page = client.get(SETUP)
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.text  # the QR code
    secret = secret_on(page.text)
    assert len(secret) == 32
    assert page.headers["Cache-Control"] == "no-store"
    assert secret_on(client.get(SETUP).text) == secret  # the same key on a second look

    wrong = send_code(client, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
                      SETUP)
    assert wrong.status_code == 422 and "Koden stemmer ikke." in wrong.text
    with app.app_context():
        assert not account(ADMIN).has_second_factor

    done = send_code(client, pyotp.TOTP(secret).now(), SETUP)
    assert done.status_code == 200
    codes = recovery_codes_on(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "vises bare denne ene gangen" in done.text
    assert client.get("/arrangor/").status_code == 200  # and logged in
    with app.app_context():
        admin = account(ADMIN)
        assert admin.has_second_factor and admin.totp_secret == secret
        assert admin.totp_pending_secret is None
        stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10
        assert not {c.replace("-", "") for c in codes} & set(stored)  # hashed, not as shown


def test_the_first_administrator_made_on_the_command_line_sets_up_and_logs_in(app, runner):
    result = runner.invoke(args=["klynge", "create-organiser", ADMIN],
                           input=f"{ORGANISER_PASSWORD}\n{ORGANISER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert password_step(client, ADMIN).headers["Location"] == SETUP
    set_up(client)
    assert client.get("/arrangor/arrangorer").status_code == 200


def test_setting_up_must_follow_the_password_in_time(app, client, make_organiser):
    from klynge_rsvp.auth.sessions import PENDING_KEY

    make_organiser(ADMIN, role=OrganiserRole.ADMINISTRATOR, second_factor=False)
    password_step(client, ADMIN)
    with client.session_transaction() as session:
        session[PENDING_KEY] = {**session[PENDING_KEY],
                                "at": session[PENDING_KEY]["at"] - 31 * 60}
    response = client.get(SETUP)
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]
    assert client.get(SETUP).status_code == 302  # the pending login is gone


def test_a_new_administrator_is_sent_to_set_up_at_the_next_request(app, client, make_organiser,
                                                                   admin_client):
    """Made an administrator while logged in as an organiser without a second factor."""
    from klynge_rsvp import organisers as management

    email = make_organiser()
    log_in(client, email)
    assert client.get("/arrangor/").status_code == 200
    with app.app_context():
        management.change_role(account(email), OrganiserRole.ADMINISTRATOR,
                               by=account("admin@bergen.kommune.no"), now=NOW)
        db.session.commit()
    assert client.get("/arrangor/").status_code == 302
    assert password_step(client, email).headers["Location"] == SETUP


def test_organisers_may_go_without_unless_all_must(app_config, make_app, make_organiser):
    default = make_app(dict(app_config))
    everyone = make_app({**app_config, "KLYNGE_REQUIRE_TOTP": "all"})
    email = make_organiser()
    assert password_step(default.test_client(), email).headers["Location"] == "/arrangor/"
    assert password_step(everyone.test_client(), email).headers["Location"] == SETUP


def test_an_organiser_may_set_it_up_and_other_sessions_end(app, make_organiser):
    email = make_organiser()
    here, elsewhere = app.test_client(), app.test_client()
    log_in(here, email)
    log_in(elsewhere, email)
    account_page = here.get("/arrangor/konto")
    assert "Av. Du logger inn med bare passordet." in account_page.text
    set_up(here)
    assert here.get("/arrangor/konto").status_code == 200  # this session goes on
    assert "Slått på" in here.get("/arrangor/konto").text
    assert elsewhere.get("/arrangor/").status_code == 302  # the others end
    assert here.get(SETUP).status_code == 303  # already set up
    # From now on the password alone is not enough.
    assert password_step(app.test_client(), email).headers["Location"] == CODE


# --- logging in with a code -----------------------------------------------------------------------


@pytest.fixture
def enrolled(app, make_organiser):
    """An administrator with a second factor and recovery codes; returns (secret, codes)."""
    make_organiser(ADMIN, role=OrganiserRole.ADMINISTRATOR, second_factor=False)
    client = app.test_client()
    password_step(client, ADMIN)
    return set_up(client, at=utcnow() - timedelta(seconds=30))


def test_login_asks_for_the_code_after_the_password(app, client, enrolled):
    response = password_step(client, ADMIN)
    assert response.status_code == 302 and response.headers["Location"] == CODE
    assert client.get("/arrangor/").status_code == 302  # not logged in between the steps
    page = client.get(CODE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    wrong = send_code(client, "12345x")
    assert wrong.status_code == 422 and "Koden stemmer ikke" in unescape(wrong.text)
    right = send_code(client, totp_code(app, ADMIN))
    assert right.status_code == 302 and right.headers["Location"] == "/arrangor/"
    assert client.get("/arrangor/").status_code == 200


def test_the_code_step_keeps_where_you_were_going(app, client, enrolled):
    page = client.get("/arrangor/innlogging?next=/arrangor/arrangorer")
    step = client.post("/arrangor/innlogging?next=/arrangor/arrangorer", data={
        "csrf_token": csrf_token_of(page.text), "email": ADMIN, "password": ORGANISER_PASSWORD})
    assert step.headers["Location"] == f"{CODE}?next=/arrangor/arrangorer"
    done = send_code(client, totp_code(app, ADMIN), step.headers["Location"])
    assert done.headers["Location"] == "/arrangor/arrangorer"


def test_a_code_works_only_once(app, enrolled):
    first, second = app.test_client(), app.test_client()
    code = totp_code(app, ADMIN)
    password_step(first, ADMIN)
    password_step(second, ADMIN)
    assert send_code(first, code).status_code == 302
    replayed = send_code(second, code)  # seen over a shoulder, typed in another browser
    assert replayed.status_code == 422
    assert second.get("/arrangor/").status_code == 302


def test_a_code_of_an_earlier_step_is_refused_after_a_later_one(ctx, app, make_organiser):
    """Steps are accepted one apart either way (a phone's clock may be off), once, in order."""
    make_organiser(ADMIN, role=OrganiserRole.ADMINISTRATOR)
    admin = organisers.find_by_email(ADMIN)
    totp = pyotp.TOTP(admin.totp_secret)
    at = NOW
    assert two_factor.verify(admin, totp.at(at + timedelta(seconds=90)), now=at) is None
    assert two_factor.verify(admin, totp.at(at - timedelta(seconds=60)), now=at) is None
    assert two_factor.verify(admin, totp.at(at + timedelta(seconds=30)), now=at) == "app"
    assert two_factor.verify(admin, totp.at(at), now=at) is None  # earlier than the one used
    assert two_factor.verify(admin, totp.at(at + timedelta(seconds=30)), now=at) is None
    later = at + timedelta(seconds=60)
    assert two_factor.verify(admin, totp.at(later), now=later) == "app"


def test_a_recovery_code_works_once(app, enrolled):
    _, codes = enrolled
    client = app.test_client()
    password_step(client, ADMIN)
    response = send_code(client, codes[3].upper().replace("-", " "))  # as typed from paper
    assert response.status_code == 302
    page = client.get("/arrangor/")
    assert "Du logget inn med en gjenopprettingskode, og har 9 igjen." in unescape(page.text)
    again = app.test_client()
    password_step(again, ADMIN)
    assert send_code(again, codes[3]).status_code == 422
    assert send_code(again, codes[4]).status_code == 302
    with app.app_context():
        assert two_factor.recovery_codes_left(account(ADMIN)) == 8


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, enrolled):
    client = app.test_client()
    password_step(client, ADMIN)
    assert [send_code(client, "000000").status_code for _ in range(5)] == [422] * 5
    locked = send_code(client, totp_code(app, ADMIN))
    assert locked.status_code == 429
    assert "For mange mislykkede forsøk" in locked.text
    assert password_step(app.test_client(), ADMIN).status_code == 429  # the password step too


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(app, enrolled):
    for n in range(5):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"127.0.0.{10 + n}"  # past the limit per address
        assert password_step(client, ADMIN).status_code == 302
        assert send_code(client, "000000").status_code == 422
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.20"
    assert password_step(client, ADMIN).status_code == 429


def test_the_code_must_follow_the_password_in_time(app, client, enrolled):
    from klynge_rsvp.auth.sessions import PENDING_KEY

    password_step(client, ADMIN)
    with client.session_transaction() as session:
        session[PENDING_KEY] = {**session[PENDING_KEY], "at": session[PENDING_KEY]["at"] - 301}
    response = send_code(client, totp_code(app, ADMIN), look_first=False)
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]
    assert client.get("/arrangor/").status_code == 302


def test_the_code_page_without_a_password_first_sends_you_to_log_in(client):
    response = client.get(CODE)
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]


def test_new_recovery_codes_replace_the_old_after_the_password(app, enrolled):
    _, old_codes = enrolled
    client = app.test_client()
    log_in(client, ADMIN)
    page = client.get("/arrangor/konto")
    assert "Du har 10 ubrukte gjenopprettingskoder." in page.text
    wrong = client.post("/arrangor/konto/gjenopprettingskoder", data={
        "csrf_token": csrf_token_of(page.text), "current": "feil passord"})
    assert wrong.status_code == 422 and "Passordet er feil." in wrong.text
    made = client.post("/arrangor/konto/gjenopprettingskoder", data={
        "csrf_token": csrf_token_of(page.text), "current": ORGANISER_PASSWORD})
    new_codes = recovery_codes_on(made.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    for code, works in ((old_codes[0], False), (new_codes[0], True)):
        browser = app.test_client()
        password_step(browser, ADMIN)
        assert (send_code(browser, code).status_code == 302) is works


def test_reset_on_the_command_line(app, runner, enrolled):
    result = runner.invoke(args=["klynge", "reset-totp", ADMIN])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert not account(ADMIN).has_second_factor
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
        entry = db.session.scalar(sa.select(AuditEntry))
        assert (entry.action, entry.actor) == ("organiser_totp_reset", "system")
    assert password_step(app.test_client(), ADMIN).headers["Location"] == SETUP
    unknown = runner.invoke(args=["klynge", "reset-totp", "ingen@example.no"])
    assert unknown.exit_code != 0 and "No organiser account" in unknown.output


def test_one_code_sent_to_many_servers_at_once_opens_once(app, make_organiser):
    from tests.test_concurrency import run_at_once

    make_organiser(ADMIN, role=OrganiserRole.ADMINISTRATOR)
    code, accepted = totp_code(app, ADMIN), []

    def job():
        kind = two_factor.verify(organisers.find_by_email(ADMIN), code, now=utcnow())
        if kind is not None:
            accepted.append(kind)

    assert run_at_once(app, [job] * 6) == []
    assert accepted == ["app"]
