"""Organiser accounts: login, logout, rate limits, and access control on every route."""

import re

from werkzeug.routing import Rule

from klynge_rsvp.models import OrganiserRole
from tests.conftest import ORGANISER_PASSWORD, log_in


def organiser_rules(app) -> list[Rule]:
    """Every organiser route (the login page excepted)."""
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith(("admin.", "replies."))]


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
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/arrangor/innlogging").text).group(1)
    for rule in organiser_rules(app):
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


def test_login_and_logout(client, make_organiser):
    email = make_organiser()
    response = log_in(client, email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/arrangor/"
    assert client.get("/arrangor/").status_code == 200
    logout = client.post("/arrangor/utlogging", data={"csrf_token": _token(client)})
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


def test_login_is_rate_limited(client, make_organiser):
    email = make_organiser()
    statuses = [log_in(client, email, "feil passord her").status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    # Even the right password waits out the limit.
    assert log_in(client, email).status_code == 429


def test_deactivated_organiser_cannot_log_in(app, client, make_organiser):
    from klynge_rsvp import organisers
    from klynge_rsvp.extensions import db

    email = make_organiser()
    with app.app_context():
        organisers.find_by_email(email).active = False
        db.session.commit()
    assert log_in(client, email).status_code == 422


def test_create_organiser_command_asks_twice_and_makes_first_an_administrator(app, runner):
    from klynge_rsvp import organisers

    result = runner.invoke(args=["klynge", "create-organiser", "leder@bergen.kommune.no"],
                           input=f"{ORGANISER_PASSWORD}\n{ORGANISER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert ORGANISER_PASSWORD not in result.output  # never echoed
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
    with app.app_context():
        assert organisers.find_by_email("leder@bergen.kommune.no").role == \
            OrganiserRole.ADMINISTRATOR
        assert organisers.find_by_email("kollega@bergen.kommune.no").role == \
            OrganiserRole.ORGANISER
        stored = organisers.find_by_email("leder@bergen.kommune.no").password_hash
        assert stored.startswith("pbkdf2:") and ORGANISER_PASSWORD not in stored


def test_production_hashes_with_scrypt(app_config, make_app):
    from klynge_rsvp import organisers
    from tests.conftest import NOW

    del app_config["PASSWORD_HASH_METHOD"]
    application = make_app(app_config)
    with application.app_context():
        stored = organisers.create("a@b.no", ORGANISER_PASSWORD, now=NOW).password_hash
    assert stored.startswith("scrypt:")
