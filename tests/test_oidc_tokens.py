"""ID tokens that must be refused although the rest of the flow is right: another issuer,
another audience, a signature by another key, another nonce, expired. The mock provider always
signs correctly for whoever redeems the code, so these come from a small provider of our own
on 127.0.0.1 that signs with a real RSA key (tests/oidc_helpers.TamperingProvider); a token it
leaves alone opens the account, so each refusal is the change's doing."""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa

from klynge_rsvp.extensions import db
from klynge_rsvp.models import OrganiserSignIn
from tests.oidc_helpers import DROP, TamperingProvider, local, settings, start

EMAIL = "kari@bergen.kommune.no"


@pytest.fixture(scope="module")
def provider():
    with TamperingProvider().serving() as running:
        yield running


@pytest.fixture
def app_config(app_config, provider):
    app_config["KLYNGE_OIDC_PROVIDERS"] = (settings(provider.url),)
    return app_config


def round_trip(client, provider):
    back = requests.get(start(client), allow_redirects=False, timeout=10).headers["Location"]
    return client.get(local(back))


def signed_in(app, client) -> bool:
    with app.app_context():
        linked = db.session.scalar(sa.select(sa.func.count()).select_from(OrganiserSignIn))
    return client.get("/arrangor/").status_code == 200 and linked == 1


def test_an_untouched_token_opens_the_account(app, client, provider, make_organiser):
    make_organiser(EMAIL)
    provider.changes, provider.sign_with_other_key = {}, False
    response = round_trip(client, provider)
    assert response.headers["Location"] == "/arrangor/"
    assert signed_in(app, client)


@pytest.mark.parametrize(("changes", "other_key"), [
    pytest.param({"iss": "https://login.example.com"}, False, id="wrong-issuer"),
    pytest.param({"aud": "someone-elses-client"}, False, id="wrong-audience"),
    pytest.param({"aud": ["klynge-rsvp", "someone-else"], "azp": "someone-else"}, False,
                 id="issued-to-another-party"),
    pytest.param({"nonce": "not-the-one-we-sent"}, False, id="wrong-nonce"),
    pytest.param({"nonce": None}, False, id="no-nonce"),
    pytest.param({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, False,
                 id="expired"),
    pytest.param({}, True, id="signed-by-another-key"),
])
def test_a_bad_id_token_is_refused(app, client, provider, make_organiser, changes, other_key):
    make_organiser(EMAIL)
    provider.changes, provider.sign_with_other_key = changes, other_key
    try:
        response = round_trip(client, provider)
    finally:
        provider.changes, provider.sign_with_other_key = {}, False
    assert response.status_code == 302
    assert response.headers["Location"] == "/arrangor/innlogging"
    assert not signed_in(app, client)
    assert "kunne ikke godtas" in client.get("/arrangor/innlogging").text


def test_an_address_only_in_userinfo_is_read_there(app, client, provider, make_organiser):
    """Feide sends the address from the userinfo endpoint, not in the ID token: it is read
    there, and only for the same subject."""
    make_organiser(EMAIL)
    provider.changes = {"email": DROP, "email_verified": DROP}
    try:
        provider.userinfo = {"sub": "someone-else", "email": EMAIL, "email_verified": True}
        assert round_trip(client, provider).headers["Location"] == "/arrangor/innlogging"
        assert not signed_in(app, client)
        provider.userinfo = {"sub": "tamper-1", "email": EMAIL, "email_verified": True}
        assert round_trip(client, provider).headers["Location"] == "/arrangor/"
        assert signed_in(app, client)
    finally:
        provider.changes, provider.userinfo = {}, None
