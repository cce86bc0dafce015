"""Organiser accounts: login, logout, sessions that end (everywhere, when idle, when too old),
rate limits per address and per account, and access control on every route."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.routing import Rule

from klynge_rsvp.models import LoginThrottle, OrganiserRole
from tests.conftest import NOW, ORGANISER_PASSWORD, csrf_token_of, log_in

SESSION_COOKIE = "session"


def organiser_rules(app) -> list[Rule]:
    """Every organiser route (the login page excepted)."""
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("admin.")]


def concrete_url(rule: Rule) -> str:
    """The rule's path with sample values in its variables."""
    values = {name: 1 if "int" in str(rule._converters.get(name, "")).lower() else "x"
              for name in rule.arguments}
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), url)
    return url


def test_there_are_organiser_routes(app):
    assert len(organiser_rules(app)) >= 1


def test_every_organiser_route_requires_login(app, client):
    # With a valid CSRF token, so it is the login check (not CSRF) that turns POSTs away.
    token = csrf_token_of(client.get("/arrangor/innlogging").text)
    own_account = [rule for rule in app.url_map.iter_rules()
                   if rule.endpoint in {"auth.account", "auth.change_password",
                                        "auth.new_recovery_codes", "auth.logout"}]
    assert len(own_account) == 4
    for rule in organiser_rules(app) + own_account:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(concrete_url(rule), method=method,
                                   data={"csrf_token": token} if method != "GET" else None)
            assert response.status_code == 302, (rule.rule, method, response.status_code)
            assert "/arrangor/innlogging" in response.headers["Location"], rule.rule


def test_administrator_routes_refuse_organisers(app, organiser_client):
    checked = 0
    for rule in organiser_rules(app):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_role", None) != OrganiserRole.ADMINISTRATOR:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = organiser_client.open(concrete_url(rule), method=method,
                                             data={"csrf_token": _token(organiser_client)})
            assert response.status_code == 403, (rule.rule, method, response.status_code)
            checked += 1
    assert checked >= 0  # the list grows as administrator-only pages are added


def _token(client):
    page = client.get("/arrangor/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return match.group(1) if match else ""


def log_out(client):
    return client.post("/arrangor/utlogging", data={"csrf_token": _token(client)})


def test_login_and_logout(client, make_organiser):
    email = make_organiser()
    response = log_in(client, email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/arrangor/"
    assert client.get("/arrangor/").status_code == 200
    logout = log_out(client)
    assert logout.status_code == 302
    assert client.get("/arrangor/").status_code == 302


def test_logout_needs_csrf(client, make_organiser):
    log_in(client, make_organiser())
    assert client.post("/arrangor/utlogging").status_code == 400
    assert client.get("/arrangor/").status_code == 200


def test_wrong_password_and_unknown_address_get_the_same_answer(client, make_organiser):
    email = make_organiser()
    wrong_password = log_in(client, email, "feil passord her")
    unknown = log_in(client, "ingen@example.no", ORGANISER_PASSWORD)
    assert wrong_password.status_code == unknown.status_code == 422
    assert "Feil e-postadresse eller passord." in wrong_password.text
    assert "Feil e-postadresse eller passord." in unknown.text


def test_login_redirects_only_within_the_site(client, make_organiser):
    email = make_organiser()
    page = client.get("/arrangor/innlogging")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/arrangor/innlogging?next=https://evil.example/",
                           data={"csrf_token": token, "email": email,
                                 "password": ORGANISER_PASSWORD})
    assert response.headers["Location"] == "/arrangor/"


def test_deactivated_organiser_cannot_log_in(app, client, make_organiser):
    from klynge_rsvp import organisers
    from klynge_rsvp.extensions import db

    email = make_organiser()
    with app.app_context():
        organisers.find_by_email(email).active = False
        db.session.commit()
    assert log_in(client, email).status_code == 422


# --- a session ends, everywhere -----------------------------------------------------------------


def replay(app, cookie: str):
    """A new browser holding a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, cookie)
    return thief


def test_a_cookie_copied_before_logout_is_worthless_after_it(app, client, make_organiser):
    log_in(client, make_organiser())
    copied = client.get_cookie(SESSION_COOKIE).value
    assert replay(app, copied).get("/arrangor/").status_code == 200  # the copy works, till…
    log_out(client)
    response = replay(app, copied).get("/arrangor/")
    assert response.status_code == 302
    assert "/arrangor/innlogging" in response.headers["Location"]


def test_logout_ends_the_accounts_sessions_on_other_devices_and_servers(app, make_app, app_config,
                                                                       make_organiser):
    other_server = make_app(dict(app_config))  # (made first: on PostgreSQL it empties the tables)
    email = make_organiser()
    laptop, phone = app.test_client(), other_server.test_client()
    log_in(laptop, email)
    log_in(phone, email)
    assert phone.get("/arrangor/").status_code == 200
    log_out(laptop)
    assert phone.get("/arrangor/").status_code == 302


def test_a_session_from_before_deactivation_stays_dead_after_reactivation(app, client,
                                                                         make_organiser):
    from klynge_rsvp import organisers
    from klynge_rsvp import organisers as management
    from klynge_rsvp.extensions import db

    email = make_organiser()
    admin_email = make_organiser("admin@bergen.kommune.no", role=OrganiserRole.ADMINISTRATOR)
    log_in(client, email)
    copied = client.get_cookie(SESSION_COOKIE).value
    with app.app_context():
        account, admin = organisers.find_by_email(email), organisers.find_by_email(admin_email)
        management.deactivate(account, by=admin, now=NOW)
        management.reactivate(account, by=admin, now=NOW)
        db.session.commit()
    assert replay(app, copied).get("/arrangor/").status_code == 302
    assert client.get("/arrangor/").status_code == 302
    assert log_in(app.test_client(), email).status_code == 302  # logging in again works


def shift_login(client, *, login_ago=None, seen_ago=None):
    """Move the session's login time and last request into the past, as time passing would."""
    from klynge_rsvp.auth.sessions import LOGIN_KEY

    with client.session_transaction() as session:
        state = dict(session[LOGIN_KEY])
        if login_ago is not None:
            state["at"] -= int(login_ago.total_seconds())
        if seen_ago is not None:
            state["seen"] -= int(seen_ago.total_seconds())
        session[LOGIN_KEY] = state


def test_idle_timeout(client, make_organiser):
    log_in(client, make_organiser())
    shift_login(client, login_ago=timedelta(hours=2), seen_ago=timedelta(minutes=119))
    assert client.get("/arrangor/").status_code == 200  # …and that request counts as activity
    shift_login(client, login_ago=timedelta(hours=2), seen_ago=timedelta(minutes=119))
    assert client.get("/arrangor/").status_code == 200
    shift_login(client, seen_ago=timedelta(minutes=121))
    response = client.get("/arrangor/")
    assert response.status_code == 302 and "/arrangor/innlogging" in response.headers["Location"]
    assert client.get("/arrangor/").status_code == 302  # the session is gone, not just refused


def test_absolute_timeout_however_active(client, make_organiser):
    log_in(client, make_organiser())
    shift_login(client, login_ago=timedelta(hours=11, minutes=59))
    assert client.get("/arrangor/").status_code == 200
    shift_login(client, login_ago=timedelta(minutes=2))
    assert client.get("/arrangor/").status_code == 302


def test_the_timeouts_are_configurable(app_config, make_app, make_organiser):
    app_config.update({"KLYNGE_SESSION_IDLE_MINUTES": 5, "KLYNGE_SESSION_MAX_HOURS": 1})
    application = make_app(app_config)
    client = application.test_client()
    log_in(client, make_organiser())
    shift_login(client, seen_ago=timedelta(minutes=6))
    assert client.get("/arrangor/").status_code == 302
    log_in(client, "arrangor@bergen.kommune.no")
    shift_login(client, login_ago=timedelta(minutes=61))
    assert client.get("/arrangor/").status_code == 302


def test_a_remember_me_cookie_opens_nothing(app, client, make_organiser):
    """Flask-Login restores a session from its remember cookie (signed with SECRET_KEY) when
    the session has none: a stolen or leftover one must not bypass logout or the timeouts."""
    from flask_login.utils import encode_cookie

    from klynge_rsvp import organisers

    email = make_organiser()
    log_in(client, email)
    log_out(client)
    with app.test_request_context():
        organiser_id = str(organisers.find_by_email(email).id)
        remember = encode_cookie(organiser_id)
    for browser in (client, app.test_client()):  # logged out, and never logged in
        browser.set_cookie("remember_token", remember)
        response = browser.get("/arrangor/")
        assert response.status_code == 302, response.status_code
        assert "/arrangor/innlogging" in response.headers["Location"]


def test_a_session_made_before_the_upgrade_counts_for_nothing(app, make_organiser):
    """A cookie with only Flask-Login's keys (as this app wrote them before) is refused."""
    from klynge_rsvp import organisers

    email = make_organiser()
    browser = app.test_client()
    browser.get("/arrangor/innlogging")
    with app.app_context():
        organiser_id = str(organisers.find_by_email(email).id)
    with browser.session_transaction() as session:
        session.update({"_user_id": organiser_id, "_fresh": True})
    assert browser.get("/arrangor/").status_code == 302


# --- rate limits -------------------------------------------------------------------------------


def test_login_is_rate_limited_per_address(client, make_organiser):
    make_organiser()
    # Different addresses each time, so the per-account lock does not come first.
    statuses = [log_in(client, f"ukjent{n}@example.no", "feil passord her").status_code
                for n in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    # Even the right password waits out the limit, and the page says so kindly.
    refused = log_in(client, "arrangor@bergen.kommune.no")
    assert refused.status_code == 429
    assert "For mange forsøk" in refused.text and "Vent litt og prøv igjen" in refused.text
    assert int(refused.headers["Retry-After"]) > 0


def fail(client, email, times):
    return [log_in(client, email, "feil passord her").status_code for _ in range(times)]


def test_an_account_is_locked_after_five_failures_even_from_many_addresses(app, client,
                                                                          make_organiser):
    email = make_organiser()
    statuses = [log_in(app.test_client(), email, "feil passord her",
                       ).status_code for _ in range(5)]
    assert statuses == [422] * 5
    # The right password is refused while locked, with the time to wait.
    refused = log_in(client, email)
    assert refused.status_code == 429
    assert "For mange mislykkede forsøk med denne e-postadressen. Prøv igjen om 1 minutt." \
        in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/arrangor/").status_code == 302


def test_a_lock_does_not_tell_whether_the_account_exists(app_config, make_app, make_organiser):
    application = make_app({**app_config, "LOGIN_RATE_LIMIT": "100 per minute"})
    email = make_organiser()
    answers = {}
    for address in (email, "finnes.ikke@bergen.kommune.no"):
        browser = application.test_client()
        statuses = fail(browser, address, 6)
        page = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", log_in(browser, address).text)
        answers[address] = (statuses, re.sub(r"\s+", " ", page))
    assert answers[email][0] == answers["finnes.ikke@bergen.kommune.no"][0] == [422] * 5 + [429]
    assert answers[email][1].replace(email, "X") == \
        answers["finnes.ikke@bergen.kommune.no"][1].replace("finnes.ikke@bergen.kommune.no", "X")
    with application.app_context():
        from klynge_rsvp import organisers

        assert organisers.find_by_email(email) is not None  # one of them does have an account


def test_the_lock_is_in_the_database_shared_by_every_server(app, make_app, app_config,
                                                            make_organiser):
    other_server = make_app(dict(app_config))
    email = make_organiser()
    assert fail(app.test_client(), email, 3) == [422] * 3
    assert fail(other_server.test_client(), email, 2) == [422] * 2
    assert log_in(app.test_client(), email).status_code == 429
    assert log_in(other_server.test_client(), email).status_code == 429


def test_after_the_lock_the_right_password_works_and_failures_are_forgotten(app, client,
                                                                             make_organiser):
    from klynge_rsvp.extensions import db

    email = make_organiser()
    fail(client, email, 5)
    with app.app_context():  # the minute passes
        from klynge_rsvp.clock import utcnow

        db.session.execute(sa.update(LoginThrottle).values(locked_until=utcnow()))
        db.session.commit()
    assert log_in(client, email).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginThrottle)) == 0


def test_the_lock_backs_off_and_is_capped(ctx, app):
    from klynge_rsvp import login_throttle

    key = login_throttle.key("Noen@Example.no")
    assert key == login_throttle.key("  noen@example.no ") and "noen" not in key
    now, waits = NOW, []
    for _ in range(14):
        row = login_throttle.failed(key, now=now)
        waits.append(int((row.locked_until - now).total_seconds()) if row.locked_until else 0)
        now = (row.locked_until or now) + timedelta(seconds=1)
    assert waits == [0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
    with pytest.raises(login_throttle.LockedOut) as locked:
        login_throttle.check(key, now=now - timedelta(seconds=2))
    assert locked.value.retry_after == 1
    # A day without failures: they are forgotten.
    assert login_throttle.failed(key, now=now + timedelta(hours=25)).failures == 1


def test_an_address_lock_is_lifted_by_an_administrator(app, admin_client, make_organiser):
    from klynge_rsvp import organisers
    from klynge_rsvp.models import AuditEntry

    email = make_organiser()
    fail(app.test_client(), email, 5)
    listing = admin_client.get("/arrangor/arrangorer")
    assert "Innloggingen er låst til" in listing.text
    with app.app_context():
        organiser_id = organisers.find_by_email(email).id
    page = admin_client.post(f"/arrangor/arrangorer/{organiser_id}/las-opp",
                             data={"csrf_token": _token(admin_client)}, follow_redirects=True)
    assert f"Innloggingen for {email} er låst opp." in page.text
    assert log_in(app.test_client(), email).status_code == 302
    with app.app_context():
        from klynge_rsvp.extensions import db

        assert db.session.scalar(sa.select(AuditEntry.action)) == "organiser_unlock"


# --- the command line --------------------------------------------------------------------------


def test_create_organiser_command_asks_twice_and_makes_first_an_administrator(app, runner):
    from klynge_rsvp import organisers

    result = runner.invoke(args=["klynge", "create-organiser", "leder@bergen.kommune.no"],
                           input=f"{ORGANISER_PASSWORD}\n{ORGANISER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert ORGANISER_PASSWORD not in result.output  # never echoed
    assert "second factor" in result.output  # the administrator is told what comes next
    second = runner.invoke(args=["klynge", "create-organiser", "kollega@bergen.kommune.no"],
                           input=f"{ORGANISER_PASSWORD}\n{ORGANISER_PASSWORD}\n")
    assert second.exit_code == 0, second.output
    mismatch = runner.invoke(args=["klynge", "create-organiser", "tredje@bergen.kommune.no"],
                             input=f"{ORGANISER_PASSWORD}\nnoe annet helt\n"
                                   f"{ORGANISER_PASSWORD}\n{ORGANISER_PASSWORD}\n")
    assert "match" in mismatch.output.lower() or "samsvar" in mismatch.output.lower()
    too_short = runner.invoke(args=["klynge", "create-organiser", "kort@bergen.kommune.no"],
                              input="kort\nkort\n")
    assert too_short.exit_code != 0
    assert "minst 12 tegn" in too_short.output
    weak = runner.invoke(args=["klynge", "create-organiser", "svak@bergen.kommune.no"],
                         input="beredskap2026\nberedskap2026\n")
    assert weak.exit_code != 0
    assert "Passordet er for lett å gjette." in weak.output
    with app.app_context():
        assert organisers.find_by_email("leder@bergen.kommune.no").role == \
            OrganiserRole.ADMINISTRATOR
        assert organisers.find_by_email("kollega@bergen.kommune.no").role == \
            OrganiserRole.ORGANISER
        assert organisers.find_by_email("svak@bergen.kommune.no") is None
        stored = organisers.find_by_email("leder@bergen.kommune.no").password_hash
        assert stored.startswith("pbkdf2:") and ORGANISER_PASSWORD not in stored


def test_production_hashes_with_scrypt(app_config, make_app):
    from klynge_rsvp import organisers

    del app_config["PASSWORD_HASH_METHOD"]
    application = make_app(app_config)
    with application.app_context():
        stored = organisers.create("a@b.no", ORGANISER_PASSWORD, now=NOW).password_hash
    assert stored.startswith("scrypt:")


def test_an_unknown_second_factor_policy_stops_the_app(app_config):
    from klynge_rsvp import create_app

    with pytest.raises(RuntimeError, match="KLYNGE_REQUIRE_TOTP"):
        create_app({**app_config, "KLYNGE_REQUIRE_TOTP": "nobody"})


def test_failures_at_the_same_moment_all_count(app):
    """Eight servers counting a failure for one address at once: no error, eight failures."""
    from klynge_rsvp import login_throttle
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db
    from tests.test_concurrency import run_at_once

    with app.app_context():
        key = login_throttle.key("samtidig@example.no")
    errors = run_at_once(app, [lambda: login_throttle.failed(key, now=utcnow())] * 8)
    assert errors == []
    with app.app_context():
        row = db.session.get(LoginThrottle, key)
        assert row.failures == 8 and row.locked_until is not None


def test_rows_of_addresses_nobody_tried_for_a_day_are_deleted(ctx, app):
    from klynge_rsvp import login_throttle
    from klynge_rsvp.extensions import db

    old, recent = login_throttle.key("gammel@example.no"), login_throttle.key("ny@example.no")
    login_throttle.failed(old, now=NOW)
    login_throttle.failed(recent, now=NOW + timedelta(hours=20))
    login_throttle.forget(login_throttle.key("annen@example.no"), now=NOW + timedelta(hours=25))
    assert db.session.get(LoginThrottle, old) is None
    assert db.session.get(LoginThrottle, recent) is not None
