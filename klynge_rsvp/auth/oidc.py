"""Organisers sign in with the account their employer gives them (OpenID Connect).

Authlib's Flask client does the protocol: the authorization code flow with PKCE (S256), a
`state` and a `nonce` kept in the signed session cookie, the code exchanged for tokens on the
back channel, and the ID token's signature (the provider's published keys), issuer (the one
configured here, not just the one discovery names), audience (our client id), expiry and nonce
checked. Nothing here decodes a JWT by hand.

What the checked ID token then means is decided here and in `organisers.sign_in_with_provider`:
a verified e-mail (the `email_verified` claim, or a provider trusted to vouch for its own
addresses), in an allowed domain and tenant where those are set, opens the active organiser
account with that address or the one already linked to the provider's subject. The provider's
MFA, told by `amr` or `acr`, stands in for our own second factor (docs/decisions/0015).

Providers come from the environment (README, "Signing in with your employer's account"):

    KLYNGE_OIDC_PROVIDERS=entra,feide
    KLYNGE_OIDC_ENTRA_ISSUER=https://login.microsoftonline.com/<tenant id>/v2.0
    KLYNGE_OIDC_ENTRA_CLIENT_ID=…  KLYNGE_OIDC_ENTRA_CLIENT_SECRET=…
    KLYNGE_OIDC_ENTRA_DISPLAY_NAME=Kommunens konto   KLYNGE_OIDC_ENTRA_EMAIL_CLAIM=email
    KLYNGE_OIDC_ENTRA_ALLOWED_DOMAINS=kommune.no   KLYNGE_OIDC_ENTRA_TENANT_ID=<tenant id>
    KLYNGE_OIDC_ENTRA_AUTO_CREATE=0   KLYNGE_OIDC_ENTRA_TRUST_EMAIL=0
    KLYNGE_OIDC_ENTRA_MFA_ACR=        (acr values that mean the person used MFA there)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError

from ..organisers import ProviderIdentity, SignInRefused
from . import sessions

log = logging.getLogger(__name__)

# What the session keeps of a sign-in with a provider between the callback and the logout:
# which provider, and the ID token as the `id_token_hint` of RP-initiated logout.
SIGN_IN_KEY = sessions.SIGN_IN_KEY
NEXT_KEY = "_klynge_sign_in_next"

# RFC 8176's amr values that alone say more than one factor was used.
MFA_AMR = frozenset({"mfa"})

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TIMEOUT = 10  # seconds for each call to a provider (discovery, keys, token, userinfo)


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    display_name: str
    email_claim: str = "email"
    allowed_domains: tuple[str, ...] = ()
    tenant_id: str = ""
    auto_create: bool = False
    trust_email: bool = False
    mfa_acr: tuple[str, ...] = ()
    scope: str = "openid email profile"


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _words(value: str | None) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[\s,]+", (value or "").strip()) if w)


def settings_from_environment(environ: Mapping[str, str]) -> tuple[ProviderSettings, ...]:
    """The providers KLYNGE_OIDC_PROVIDERS names, each from its KLYNGE_OIDC_<NAME>_* settings.
    A provider set up halfway stops the app at start-up, saying what is missing."""
    providers = []
    for name in _words(environ.get("KLYNGE_OIDC_PROVIDERS", "").lower()):
        if not _NAME.fullmatch(name):
            raise RuntimeError(f"KLYNGE_OIDC_PROVIDERS: {name!r} is not a name (a-z, 0-9, _).")

        def get(key: str, default: str = "", name: str = name) -> str:
            return environ.get(f"KLYNGE_OIDC_{name.upper()}_{key}", default).strip()

        missing = [key for key in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET") if not get(key)]
        if missing:
            raise RuntimeError(f"Provider {name!r} needs " + ", ".join(
                f"KLYNGE_OIDC_{name.upper()}_{key}" for key in missing) + ".")
        domains = tuple(d.lower().lstrip("@") for d in _words(get("ALLOWED_DOMAINS")))
        auto_create = _yes(get("AUTO_CREATE"))
        if auto_create and not domains:
            raise RuntimeError(f"KLYNGE_OIDC_{name.upper()}_AUTO_CREATE needs "
                               f"KLYNGE_OIDC_{name.upper()}_ALLOWED_DOMAINS: whose accounts?")
        providers.append(ProviderSettings(
            name=name, issuer=get("ISSUER").rstrip("/"), client_id=get("CLIENT_ID"),
            client_secret=get("CLIENT_SECRET"), display_name=get("DISPLAY_NAME", name.title()),
            email_claim=get("EMAIL_CLAIM", "email"), allowed_domains=domains,
            tenant_id=get("TENANT_ID"), auto_create=auto_create,
            trust_email=_yes(get("TRUST_EMAIL")), mfa_acr=_words(get("MFA_ACR")),
            scope=get("SCOPES", "openid email profile")))
    return tuple(providers)


# --- what a checked ID token means (pure) ----------------------------------------------------


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def identity_from_claims(settings: ProviderSettings, claims: Mapping) -> ProviderIdentity:
    """The person the provider vouches for, or SignInRefused saying why not."""
    subject = claims.get("sub")
    email = claims.get(settings.email_claim)
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignInRefused(_("Innloggingstjenesten sendte ikke hvem du er. Prøv igjen, eller "
                              "spør en administrator."))
    if not isinstance(email, str) or email.count("@") != 1 or len(email) > 254 \
            or any(c in email for c in "\r\n <>"):
        raise SignInRefused(_("Innloggingstjenesten sendte ingen e-postadresse for deg. Spør "
                              "en administrator."))
    email = email.strip()
    if settings.tenant_id and claims.get("tid") != settings.tenant_id:
        raise SignInRefused(_("Kontoen du logget inn med hører ikke til virksomheten som kan "
                              "logge inn her."))
    if settings.allowed_domains and _domain(email) not in settings.allowed_domains:
        raise SignInRefused(_("E-postadressen %(email)s hører ikke til et domene som kan logge "
                              "inn med %(provider)s.", email=email,
                              provider=settings.display_name))
    if claims.get("email_verified") is not True and not settings.trust_email:
        raise SignInRefused(_("Innloggingstjenesten har ikke bekreftet e-postadressen "
                              "%(email)s. Bekreft den der, eller spør en administrator.",
                              email=email))
    amr = claims.get("amr")
    amr = tuple(str(v)[:40] for v in amr) if isinstance(amr, list) else ()
    acr = claims.get("acr")
    name = claims.get("name")
    return ProviderIdentity(provider=settings.name, subject=subject, email=email,
                            name=name if isinstance(name, str) else "",
                            acr=acr if isinstance(acr, str) else None, amr=amr)


def used_mfa(settings: ProviderSettings, identity: ProviderIdentity) -> bool:
    """Whether the provider says the person used more than one factor there: `amr` holds
    "mfa", or `acr` is one this provider's settings name as multi-factor."""
    return bool(MFA_AMR & set(identity.amr)) or (
        identity.acr is not None and identity.acr in settings.mfa_acr)


# --- set-up ----------------------------------------------------------------------------------


def providers() -> tuple[ProviderSettings, ...]:
    return current_app.config["KLYNGE_OIDC_PROVIDERS"]


def provider_named(name: str) -> ProviderSettings:
    """The configured provider of this name; 404 for any other."""
    for provider in providers():
        if provider.name == name:
            return provider
    abort(404)


def _client(name: str):
    return current_app.extensions["klynge_oidc"].create_client(name)


def init_app(app: Flask) -> None:
    """Register each configured provider with Authlib (discovery happens on first use)."""
    oauth = OAuth(app)
    for provider in app.config["KLYNGE_OIDC_PROVIDERS"]:
        oauth.register(
            provider.name, client_id=provider.client_id, client_secret=provider.client_secret,
            server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": provider.scope, "code_challenge_method": "S256",
                           "default_timeout": _TIMEOUT})
    app.extensions["klynge_oidc"] = oauth
    if not app.config["KLYNGE_PASSWORD_LOGIN"] and not app.config["KLYNGE_OIDC_PROVIDERS"]:
        raise RuntimeError("KLYNGE_PASSWORD_LOGIN=0 needs a provider in KLYNGE_OIDC_PROVIDERS: "
                           "nobody could log in.")


def _redirect_uri(name: str) -> str:
    return current_app.config["KLYNGE_BASE_URL"].rstrip("/") + url_for(".sign_in_callback",
                                                                       name=name)


# --- the protocol steps (the views are in auth/__init__.py) ---------------------------------

# What a failed protocol step can raise: Authlib's errors (a state that is not ours, an error
# from the provider, a token without what it must have), joserfc's (signature, issuer,
# audience, expiry, nonce), the network's, and a provider answering with something not JSON.
PROTOCOL_ERRORS = (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError,
                   TypeError)


def start(settings: ProviderSettings):
    """The redirect to the provider, with a new state, nonce and PKCE verifier kept in the
    session. Raises one of PROTOCOL_ERRORS when the provider cannot be asked."""
    return _client(settings.name).authorize_redirect(_redirect_uri(settings.name))


def finish(settings: ProviderSettings) -> tuple[ProviderIdentity, str]:
    """The person the provider's answer (this request) vouches for, and the ID token. Raises
    one of PROTOCOL_ERRORS when the answer or its ID token is not right (a state that is not
    this session's, or used before; the code refused; the token's signature, issuer,
    audience, expiry or nonce), SignInRefused when the person may not enter."""
    client = _client(settings.name)
    token = client.authorize_access_token(
        claims_options={"iss": {"essential": True, "values": [settings.issuer]},
                        "aud": {"essential": True, "values": [settings.client_id]},
                        "exp": {"essential": True}, "nonce": {"essential": True}},
        leeway=60)
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        raise ValueError("no ID token")
    claims = dict(claims)
    if settings.email_claim not in claims:
        claims = _with_userinfo(client, token, claims)
    return identity_from_claims(settings, claims), token["id_token"]


def _with_userinfo(client, token: dict, claims: dict) -> dict:
    """Claims the ID token lacks (Feide sends the e-mail only here), from the userinfo
    endpoint, for the same subject (OpenID Connect Core 5.3.2)."""
    if not client.load_server_metadata().get("userinfo_endpoint"):
        return claims
    info = client.userinfo(token=token)
    if info.get("sub") != claims.get("sub"):
        raise ValueError("userinfo is about another subject")
    return {**info, **claims}


def logout_target(sign_in: Mapping | None) -> str | None:
    """Where to send the browser to end the session at the provider too (RP-initiated
    logout), if the sign-in was with one that offers it."""
    if not isinstance(sign_in, Mapping):
        return None
    name = sign_in.get("provider")
    if not any(p.name == name for p in providers()):
        return None
    try:
        client = _client(name)
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        return client.create_logout_url(
            post_logout_redirect_uri=current_app.config["KLYNGE_BASE_URL"].rstrip("/")
            + url_for(".login"),
            id_token_hint=sign_in.get("id_token") or None,
            client_id=client.client_id)["url"]
    except (*PROTOCOL_ERRORS, RuntimeError) as error:
        log.warning("no logout at %s: %r", name, error)
        return None


def display_name(name: str) -> str:
    return next((p.display_name for p in providers() if p.name == name), name)
