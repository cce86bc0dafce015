"""Organisers sign in with their employer's account: the code flow against a real OpenID
Connect provider on 127.0.0.1 (oidc-provider-mock: Authlib's authorization server), and who
may enter (verified e-mail, allowed domains, tenant, deactivated accounts, the provider's
subject), how the provider's MFA meets our second factor, password login switched off, and
logging out at the provider too."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from klynge_rsvp.auth.oidc import settings_from_environment
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Organiser, OrganiserRole, OrganiserSignIn
from klynge_rsvp.stored_text import shown
from tests.conftest import csrf_token_of, log_in
from tests.oidc_helpers import (
    MOCK_WARNINGS,
    authorize_at_provider,
    local,
    mock_provider,
    set_user,
    settings,
    sign_in,
    start,
)

pytestmark = MOCK_WARNINGS

EMAIL = "kari@bergen.kommune.no"


@pytest.fixture(scope="module")
def issuer():
    with mock_provider() as url:
        yield url


@pytest.fixture
def oidc_changes():
    """Changes to the provider's settings (tests parametrize this)."""
    return {}


@pytest.fixture
def app_config(app_config, issuer, oidc_changes):
    app_config["KLYNGE_OIDC_PROVIDERS"] = (settings(issuer, **oidc_changes),)
    return app_config


def logged_in(client) -> bool:
    return client.get("/arrangor/").status_code == 200


def log_out(client):
    page = client.get("/arrangor/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/arrangor/utlogging", data={"csrf_token": token})


def flashed(client) -> str:
    return client.get("/arrangor/innlogging").text


def links(app):
    with app.app_context():
        return [(s.provider, s.subject, s.organiser.email, s.last_acr, s.last_amr)
                for s in db.session.scalars(sa.select(OrganiserSignIn))]


def test_an_organiser_signs_in_with_a_verified_address(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email="Kari@Bergen.Kommune.no", email_verified=True,
             acr="urn:kommune:loa2", amr=["pwd", "mfa"])
    page = client.get("/arrangor/innlogging")
    assert "Logg inn med Bergen kommune" in page.text

    provider_url = start(client, next_path="/arrangor/konto")
    query = parse_qs(urlsplit(provider_url).query)
    assert provider_url.startswith(f"{issuer}/oauth2/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0]
    assert query["redirect_uri"] == ["https://rsvp.test/arrangor/innlogging/sso/kommune/svar"]

    back = authorize_at_provider(provider_url, "kari-1")
    response = client.get(local(back))
    assert response.status_code == 302
    assert response.headers["Location"] == "/arrangor/konto"
    assert logged_in(client)
    assert links(app) == [("kommune", "kari-1", EMAIL, "urn:kommune:loa2", "pwd mfa")]
    with app.app_context():
        assert db.session.scalar(sa.select(Organiser.last_login_at)) is not None


def test_a_replayed_state_is_refused(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True)
    _, back = sign_in(client, "kari-1")
    assert logged_in(client)
    log_out(client)
    assert not logged_in(client)

    # The same answer again (say, from the browser's history): its state was used up.
    again = client.get(local(back))
    assert again.status_code == 302 and again.headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(client)
    assert "kunne ikke godtas" in flashed(client)

    # An answer meant for another browser (a login CSRF): not this session's state.
    other = client.application.test_client()
    provider_url = start(other)
    stolen = authorize_at_provider(provider_url, "kari-1")
    fresh = client.application.test_client()
    assert fresh.get(local(stolen)).headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(fresh)


def test_a_wrong_nonce_is_refused(app, client, issuer, make_organiser):
    """A code obtained with another nonce (injected into this browser's answer) is refused."""
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True)
    response, _ = sign_in(client, "kari-1", nonce="another-nonce")
    assert response.headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(client)
    assert links(app) == []


def test_a_denied_sign_in_at_the_provider_is_a_message(app, client, issuer, make_organiser):
    """The person presses "Deny" at the provider: its error comes back, nobody is let in."""
    import requests

    make_organiser(EMAIL)
    provider_url = start(client)
    answer = requests.post(provider_url, data={"action": "deny"}, allow_redirects=False,
                           timeout=10)
    assert "error=access_denied" in answer.headers["Location"]
    response = client.get(local(answer.headers["Location"]))
    assert response.status_code == 302 and response.headers["Location"] == "/arrangor/innlogging"
    assert "kunne ikke godtas" in flashed(client)
    assert not logged_in(client)


def test_an_expired_id_token_is_refused(app_config, make_app, make_organiser):
    with mock_provider(access_token_max_age=timedelta(minutes=-10)) as expired_issuer:
        app_config["KLYNGE_OIDC_PROVIDERS"] = (settings(expired_issuer),)
        application = make_app(app_config)
        with application.app_context():
            from klynge_rsvp import organisers
            from tests.conftest import NOW, ORGANISER_PASSWORD
            organisers.create(EMAIL, ORGANISER_PASSWORD, now=NOW)
            db.session.commit()
        set_user(expired_issuer, "kari-1", email=EMAIL, email_verified=True)
        client = application.test_client()
        response, _ = sign_in(client, "kari-1")
        assert response.headers["Location"] == "/arrangor/innlogging"
        assert not logged_in(client)
        assert links(application) == []


def test_an_unverified_address_is_refused(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=False)
    response, _ = sign_in(client, "kari-1")
    assert response.headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(client)
    assert "har ikke bekreftet e-postadressen kari@bergen.kommune.no" in flashed(client)
    assert links(app) == []


@pytest.mark.parametrize("oidc_changes", [{"trust_email": True}])
def test_a_provider_trusted_for_its_addresses_needs_no_email_verified(app, client, issuer,
                                                                     make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL)
    sign_in(client, "kari-1")
    assert logged_in(client)


@pytest.mark.parametrize("oidc_changes", [{"allowed_domains": ("bergen.kommune.no",)}])
def test_an_address_outside_the_allowed_domains_is_refused(app, client, issuer, make_organiser):
    make_organiser("kari@example.com")
    set_user(issuer, "kari-2", email="kari@example.com", email_verified=True)
    response, _ = sign_in(client, "kari-2")
    assert response.headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(client)
    assert "hører ikke til et domene" in flashed(client)
    assert links(app) == []


@pytest.mark.parametrize("oidc_changes", [{"tenant_id": "tenant-bergen"}])
def test_another_tenant_is_refused(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True, tid="tenant-elsewhere")
    sign_in(client, "kari-1")
    assert not logged_in(client)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True, tid="tenant-bergen")
    sign_in(client, "kari-1")
    assert logged_in(client)


def test_a_deactivated_account_cannot_sign_in(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True)
    sign_in(client, "kari-1")
    assert logged_in(client)
    with app.app_context():
        organiser = db.session.scalar(sa.select(Organiser))
        organiser.active = False
        db.session.commit()
    assert not logged_in(client)  # the running session ends too

    response, _ = sign_in(client, "kari-1")  # by the link to the provider's subject
    assert response.headers["Location"] == "/arrangor/innlogging"
    assert not logged_in(client)
    assert "Kontoen din er deaktivert" in flashed(client)

    with app.app_context():
        db.session.execute(sa.delete(OrganiserSignIn))
        db.session.commit()
    sign_in(client, "kari-1")  # and by the address alone
    assert not logged_in(client)
    assert links(app) == []


def test_without_an_account_nobody_enters(app, client, issuer):
    set_user(issuer, "ola-1", email="ola@bergen.kommune.no", email_verified=True)
    sign_in(client, "ola-1")
    assert not logged_in(client)
    assert "Det finnes ingen arrangørkonto for ola@bergen.kommune.no" in flashed(client)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) == 0


@pytest.mark.parametrize("oidc_changes", [{"allowed_domains": ("bergen.kommune.no",),
                                           "auto_create": True}])
def test_an_allowed_domain_creates_a_plain_organiser_and_says_so(app, client, issuer):
    set_user(issuer, "ola-1", email="ola@bergen.kommune.no", email_verified=True,
             name="Ola Nordmann")
    sign_in(client, "ola-1")
    assert logged_in(client)
    with app.app_context():
        organiser = db.session.scalar(sa.select(Organiser))
        assert (organiser.email, organiser.name, organiser.role) == \
            ("ola@bergen.kommune.no", "Ola Nordmann", OrganiserRole.ORGANISER)
        entry = db.session.scalar(sa.select(AuditEntry))
        assert (entry.action, entry.actor, shown(entry, "summary")) == \
            ("organiser_create_sign_in", "system",
             "ola@bergen.kommune.no (innlogging med kommune)")
    # No password opens the account made this way.
    other = app.test_client()
    assert log_in(other, "ola@bergen.kommune.no", "!").status_code == 422
    assert not logged_in(other)


def test_another_subject_with_a_linked_address_is_refused(app, client, issuer, make_organiser):
    """Once linked, the provider's subject decides: the address given to someone new at the
    employer does not open the old account."""
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True)
    sign_in(client, "kari-1")
    assert logged_in(client)
    newcomer = app.test_client()
    set_user(issuer, "kari-2", email=EMAIL, email_verified=True)
    sign_in(newcomer, "kari-2")
    assert not logged_in(newcomer)
    assert "knyttet til en annen brukerkonto" in flashed(newcomer)


def test_the_providers_mfa_stands_in_for_the_second_factor(app, issuer, make_organiser):
    make_organiser(EMAIL, role=OrganiserRole.ADMINISTRATOR, second_factor=False)
    with_mfa, without = app.test_client(), app.test_client()
    set_user(issuer, "admin-mfa", email=EMAIL, email_verified=True, amr=["pwd", "mfa"])
    sign_in(with_mfa, "admin-mfa")
    assert logged_in(with_mfa)
    assert with_mfa.get("/arrangor/arrangorer").status_code == 200

    # Without MFA at the provider, an administrator sets up our second factor first.
    set_user(issuer, "admin-mfa", email=EMAIL, email_verified=True, amr=["pwd"])
    response, _ = sign_in(without, "admin-mfa")
    assert response.headers["Location"].startswith("/arrangor/konto/tofaktor")
    assert not logged_in(without)


@pytest.mark.parametrize("oidc_changes", [{"mfa_acr": ("idporten-loa-substantial",
                                                       "idporten-loa-high")}])
def test_an_acr_named_as_multi_factor_stands_in_too(app, issuer, make_organiser):
    make_organiser(EMAIL, role=OrganiserRole.ADMINISTRATOR, second_factor=False)
    strong, weak = app.test_client(), app.test_client()
    set_user(issuer, "admin-1", email=EMAIL, email_verified=True, acr="idporten-loa-high")
    sign_in(strong, "admin-1")
    assert logged_in(strong)
    set_user(issuer, "admin-1", email=EMAIL, email_verified=True, acr="idporten-loa-low")
    response, _ = sign_in(weak, "admin-1")
    assert response.headers["Location"].startswith("/arrangor/konto/tofaktor")
    assert not logged_in(weak)


def test_an_account_with_a_code_is_asked_for_it_after_the_provider(app, issuer, make_organiser):
    from tests.conftest import totp_code

    make_organiser(EMAIL, second_factor=True)
    client = app.test_client()
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True, amr=["pwd"])
    response, _ = sign_in(client, "kari-1")
    assert response.headers["Location"].startswith("/arrangor/innlogging/kode")
    assert not logged_in(client)
    page = client.get(response.headers["Location"])
    done = client.post(response.headers["Location"], data={
        "csrf_token": csrf_token_of(page.text), "code": totp_code(app, EMAIL)})
    assert done.status_code == 302
    assert logged_in(client)


def test_logging_out_ends_the_session_at_the_provider_too(app, client, issuer, make_organiser):
    make_organiser(EMAIL)
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True)
    sign_in(client, "kari-1")
    response = log_out(client)
    assert response.status_code == 200
    target = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', response.text).group(1)
    target = target.replace("&amp;", "&")
    assert target.startswith(f"{issuer}/oauth2/end_session?")
    query = parse_qs(urlsplit(target).query)
    assert query["post_logout_redirect_uri"] == ["https://rsvp.test/arrangor/innlogging"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not logged_in(client)
    # The provider's own logout page answers the request.
    import requests
    assert requests.get(target, timeout=10).status_code == 200


def test_a_password_login_does_not_go_to_the_provider_at_logout(app, client, make_organiser):
    make_organiser(EMAIL)
    log_in(client, EMAIL)
    response = log_out(client)
    assert response.status_code == 302 and response.headers["Location"] == "/arrangor/innlogging"


def test_password_login_can_be_switched_off(app_config, make_app, make_organiser, issuer):
    from tests.conftest import NOW, ORGANISER_PASSWORD

    app_config["KLYNGE_PASSWORD_LOGIN"] = False
    application = make_app(app_config)
    with application.app_context():
        from klynge_rsvp import organisers
        organisers.create(EMAIL, ORGANISER_PASSWORD, now=NOW)
        db.session.commit()
    client = application.test_client()
    page = client.get("/arrangor/innlogging")
    assert 'type="password"' not in page.text and "Logg inn med Bergen kommune" in page.text
    token = csrf_token_of(client.get("/nyhetsbrev").text)  # a form's token from another page
    response = client.post("/arrangor/innlogging", data={"csrf_token": token, "email": EMAIL,
                                                         "password": ORGANISER_PASSWORD})
    assert response.status_code == 403
    assert "Innlogging med passord er slått av" in response.text
    assert not logged_in(client)


def test_no_button_without_a_provider_and_no_start_for_an_unknown_one(app_config, make_app):
    app_config["KLYNGE_OIDC_PROVIDERS"] = ()
    client = make_app(app_config).test_client()
    page = client.get("/arrangor/innlogging")
    assert "Logg inn med" not in page.text and 'type="password"' in page.text
    assert client.get("/arrangor/innlogging/sso/kommune").status_code == 404
    assert client.get("/arrangor/innlogging/sso/kommune/svar?code=x&state=y").status_code == 404


def test_a_provider_that_does_not_answer_is_a_message_not_a_500(app_config, make_app):
    app_config["KLYNGE_OIDC_PROVIDERS"] = (settings("http://127.0.0.1:9"),)
    client = make_app(app_config).test_client()
    response = client.get("/arrangor/innlogging/sso/kommune")
    assert response.status_code == 302 and response.headers["Location"] == "/arrangor/innlogging"
    assert "Vi fikk ikke kontakt med Bergen kommune" in flashed(client)
    # A made-up answer without a sign-in under way is refused the same way.
    response = client.get("/arrangor/innlogging/sso/kommune/svar?code=x&state=y")
    assert response.status_code == 302 and response.headers["Location"] == "/arrangor/innlogging"


def test_providers_are_read_from_the_environment():
    environ = {
        "KLYNGE_OIDC_PROVIDERS": "entra, feide",
        "KLYNGE_OIDC_ENTRA_ISSUER": "https://login.microsoftonline.com/t-1/v2.0/",
        "KLYNGE_OIDC_ENTRA_CLIENT_ID": "id", "KLYNGE_OIDC_ENTRA_CLIENT_SECRET": "secret",
        "KLYNGE_OIDC_ENTRA_DISPLAY_NAME": "Kommunens konto",
        "KLYNGE_OIDC_ENTRA_EMAIL_CLAIM": "preferred_username",
        "KLYNGE_OIDC_ENTRA_ALLOWED_DOMAINS": "bergen.kommune.no, @Vestland.no",
        "KLYNGE_OIDC_ENTRA_TENANT_ID": "t-1", "KLYNGE_OIDC_ENTRA_AUTO_CREATE": "1",
        "KLYNGE_OIDC_ENTRA_TRUST_EMAIL": "1",
        "KLYNGE_OIDC_FEIDE_ISSUER": "https://auth.dataporten.no",
        "KLYNGE_OIDC_FEIDE_CLIENT_ID": "id2", "KLYNGE_OIDC_FEIDE_CLIENT_SECRET": "secret2",
    }
    entra, feide = settings_from_environment(environ)
    assert (entra.issuer, entra.display_name, entra.email_claim, entra.allowed_domains,
            entra.tenant_id, entra.auto_create, entra.trust_email) == (
        "https://login.microsoftonline.com/t-1/v2.0", "Kommunens konto", "preferred_username",
        ("bergen.kommune.no", "vestland.no"), "t-1", True, True)
    assert (feide.name, feide.display_name, feide.email_claim, feide.auto_create) == \
        ("feide", "Feide", "email", False)
    assert settings_from_environment({}) == ()
    with pytest.raises(RuntimeError, match="KLYNGE_OIDC_FEIDE_CLIENT_SECRET"):
        settings_from_environment({**environ, "KLYNGE_OIDC_FEIDE_CLIENT_SECRET": ""})
    with pytest.raises(RuntimeError, match="ALLOWED_DOMAINS"):
        settings_from_environment({**environ, "KLYNGE_OIDC_ENTRA_ALLOWED_DOMAINS": ""})


def test_password_login_off_without_a_provider_stops_the_app(app_config, make_app):
    app_config.update({"KLYNGE_OIDC_PROVIDERS": (), "KLYNGE_PASSWORD_LOGIN": False})
    with pytest.raises(RuntimeError, match="KLYNGE_PASSWORD_LOGIN=0"):
        make_app(app_config)
