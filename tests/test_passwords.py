"""New passwords: long enough and hard to guess (zxcvbn, with the words people here try first),
refused with a reason in the reader's language; and changing your own password."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import zxcvbn
from flask_babel import force_locale
from werkzeug.security import check_password_hash

from klynge_rsvp import organisers, passwords
from klynge_rsvp.errors import DomainError
from tests.conftest import ORGANISER_PASSWORD, csrf_token_of, log_in

EMAIL = "kari.nordmann@uib.no"


def problem(password: str, **context) -> str | None:
    try:
        organisers.check_new_password(password, email=context.get("email", EMAIL),
                                      name=context.get("name", "Kari Nordmann"))
    except DomainError as error:
        return str(error)
    return None


@pytest.fixture
def request_ctx(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize(("password", "reason"), [
    ("aaaaaaaaaaaa", "Gjentakelser som «aaa» er lette å gjette."),
    ("passord123", "Passordet må ha minst 12 tegn."),
    ("passord12345", "ord som har med oss å gjøre"),
    ("Passord2026!", "ord som har med oss å gjøre"),
    ("beredskap2026", "ord som har med oss å gjøre"),
    ("Beredskapsklyngen", "ord som har med oss å gjøre"),
    ("beredskapsklyngen2026", "ord som har med oss å gjøre"),
    ("Bergen kommune 2026", "ord som har med oss å gjøre"),
    ("Bergen næringsråd", "ord som har med oss å gjøre"),
    ("UniversitetetiBergen", "ord som har med oss å gjøre"),
    ("Kari Nordmann 1985", "Unngå navnet ditt, e-postadressen din"),
    ("kari.nordmann@uib", "Unngå navnet ditt, e-postadressen din"),
    ("qwertyuiopasdf", "Dette ligner på et vanlig passord."),
    ("asdfghjkl;'123", "Rette rekker av taster er lette å gjette."),
    ("password1234", "Dette er et svært vanlig passord."),
    ("            ", "Passordet kan ikke bare være mellomrom."),
])
def test_easy_passwords_are_refused_with_a_reason(request_ctx, password, reason):
    found = problem(password)
    assert found is not None, password
    assert reason in found
    assert found.startswith(("Passordet er for lett å gjette.", "Passordet må ha minst",
                             "Passordet kan ikke"))


@pytest.mark.parametrize("password", [
    ORGANISER_PASSWORD, "midlertidig passord 2026", "skrivebord og kaffe på fjellet",
    "hjort sykkel lampe ferje", "Tre blå ferjer i Puddefjorden",
])
def test_hard_passwords_are_accepted(request_ctx, password):
    assert problem(password) is None


def test_the_network_name_is_taken_from_the_settings(app_config, make_app):
    application = make_app({**app_config, "KLYNGE_NETWORK_NAME": "Vestlandsnettverket"})
    with application.test_request_context():
        assert "ord som har med oss" in problem("vestlandsnettverket2026")


@pytest.mark.parametrize(("language", "words"), [
    ("nb", ["Passordet er for lett å gjette.", "Gjentakelser som «aaa» er lette å gjette."]),
    ("nn", ["Passordet er for lett å gjette.", "Gjentakingar som «aaa» er lette å gjette."]),
    ("en", ["The password is too easy to guess.", 'Repeats like "aaa" are easy to guess.']),
])
def test_the_reason_is_in_the_readers_language(request_ctx, language, words):
    with force_locale(language):
        found = problem("aaaaaaaaaaaa")
    for word in words:
        assert word in found, (language, found)


def zxcvbn_advice() -> set[str]:
    """Every text zxcvbn's feedback can give (the _() calls in its feedback module)."""
    source = Path(zxcvbn.__file__).with_name("feedback.py").read_text()
    return {node.args[0].value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_"
            and isinstance(node.args[0], ast.Constant)}


def test_every_piece_of_zxcvbn_advice_is_said_in_our_words():
    advice = zxcvbn_advice()
    assert len(advice) >= 20
    assert advice - set(passwords.ADVICE) == set()


# --- changing your own password -------------------------------------------------------------------


def change(client, current, new, again=None):
    page = client.get("/arrangor/konto/passord")
    return client.post("/arrangor/konto/passord", data={
        "csrf_token": csrf_token_of(page.text), "current": current, "password": new,
        "password_again": new if again is None else again})


NEW = "tre blå ferjer i Puddefjorden"


def test_change_your_own_password(app, make_organiser):
    email = make_organiser()
    here, elsewhere = app.test_client(), app.test_client()
    log_in(here, email)
    log_in(elsewhere, email)
    assert "Bytt passord" in here.get("/arrangor/konto").text
    done = change(here, ORGANISER_PASSWORD, NEW)
    assert done.status_code == 303 and done.headers["Location"] == "/arrangor/konto"
    assert "Passordet er byttet." in here.get("/arrangor/konto").text  # still logged in here
    assert elsewhere.get("/arrangor/").status_code == 302  # …but nowhere else
    assert log_in(app.test_client(), email).status_code == 422
    assert log_in(app.test_client(), email, NEW).status_code == 302


@pytest.mark.parametrize(("current", "new", "again", "message"), [
    ("feil passord", NEW, None, "Passordet er feil."),
    (ORGANISER_PASSWORD, "beredskap2026", None, "Passordet er for lett å gjette."),
    (ORGANISER_PASSWORD, "kort", None, "minst 12 tegn"),
    (ORGANISER_PASSWORD, NEW, "noe annet helt", "Passordene er ikke like."),
    (ORGANISER_PASSWORD, ORGANISER_PASSWORD, None, "må være et annet enn det nåværende"),
])
def test_a_change_refused_changes_nothing(app, make_organiser, current, new, again, message):
    email = make_organiser()
    client = app.test_client()
    log_in(client, email)
    response = change(client, current, new, again)
    assert response.status_code == 422
    assert message in response.text
    assert client.get("/arrangor/").status_code == 200
    assert log_in(app.test_client(), email).status_code == 302


def test_guessing_the_current_password_on_the_change_page_locks_the_account(app, make_organiser):
    email = make_organiser()
    client = app.test_client()
    log_in(client, email)
    assert [change(client, f"gjetning {n}", NEW).status_code for n in range(5)] == [422] * 5
    locked = change(client, ORGANISER_PASSWORD, NEW)
    assert locked.status_code == 429 and "For mange mislykkede forsøk" in locked.text
    with app.app_context():
        assert check_password_hash(organisers.find_by_email(email).password_hash,
                                   ORGANISER_PASSWORD)  # unchanged
