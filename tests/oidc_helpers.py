"""OpenID Connect providers on 127.0.0.1 for tests/test_oidc*.py and the browser sign-in.

`mock_provider` serves the maintained `oidc-provider-mock` package (Authlib's authorization
server: discovery, keys, authorization code with PKCE and nonce, ID tokens signed RS256,
userinfo, end_session). `TamperingProvider` is a small provider of our own, signing with a real
RSA key (joserfc), for what the mock cannot be made to do: an ID token with another issuer,
audience or signing key than it should have."""

from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from klynge_rsvp.auth.oidc import ProviderSettings

# oidc-provider-mock 0.3.4 (the newest for Python 3.11) calls Authlib APIs that Authlib 1.9
# deprecates; the suite turns warnings into errors, which would make the provider answer 500.
# Only these, and only in the tests that run the mock: `pytestmark = MOCK_WARNINGS`.
MOCK_WARNINGS = [pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
                 pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated"),
                 pytest.mark.filterwarnings("ignore:The httpx module is deprecated")]

CLIENT_ID = "klynge-rsvp"
CLIENT_SECRET = "not-a-real-secret"


@contextmanager
def _serve(wsgi_app):
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def mock_provider(**options):
    """oidc-provider-mock on a free port of 127.0.0.1; yields its issuer URL. (Imported here,
    under the tests' MOCK_WARNINGS, not when the test files are collected.)"""
    import oidc_provider_mock

    options.setdefault("require_nonce", True)
    with _serve(oidc_provider_mock.app(**options)) as url:
        yield url


def settings(issuer: str, **changes) -> ProviderSettings:
    values = {"name": "kommune", "issuer": issuer, "client_id": CLIENT_ID,
              "client_secret": CLIENT_SECRET, "display_name": "Bergen kommune"}
    return ProviderSettings(**{**values, **changes})


def set_user(issuer: str, sub: str, **claims) -> None:
    """What the provider will say about `sub` (the mock's own API)."""
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=10)
    assert response.status_code == 204, response.text


def authorize_at_provider(authorize_url: str, sub: str, **changed_params) -> str:
    """Sign in as `sub` at the mock (as its form does) and return where it sends the browser
    back to. `changed_params` alter the authorization request on the way, as an attacker in
    the middle would."""
    if changed_params:
        parts = urlsplit(authorize_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changed_params
        authorize_url = parts._replace(query=urlencode(query)).geturl()
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def local(url: str) -> str:
    """The path and query of a URL on the app (for the test client)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def start(client, provider_name: str = "kommune", next_path: str | None = None) -> str:
    """Press the provider's button on the login page; returns the provider's URL."""
    path = f"/arrangor/innlogging/sso/{provider_name}"
    response = client.get(path + (f"?next={next_path}" if next_path else ""))
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def sign_in(client, sub: str, provider_name: str = "kommune", **changed_params):
    """The whole round trip; returns the app's answer to the callback and its URL."""
    back = authorize_at_provider(start(client, provider_name), sub, **changed_params)
    return client.get(local(back)), back


DROP = object()


class TamperingProvider:
    """A provider of our own that answers the code flow, signing its ID tokens with a real
    key, but with whichever claims (or key) the test sets in `changes`."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.changes: dict = {}  # claims changed in the ID token (DROP: left out)
        self.userinfo: dict | None = None  # the userinfo endpoint's answer (None: no endpoint)
        self.sign_with_other_key = False
        self.codes: dict[str, dict] = {}
        self.url = ""
        self.app = self._make_app()

    def _make_app(self) -> Flask:
        app = Flask(__name__)

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                **({"userinfo_endpoint": f"{self.url}/userinfo"} if self.userinfo else {}),
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]})

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize():
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(request.args)
            return redirect(f"{request.args['redirect_uri']}?" + urlencode(
                {"code": code, "state": request.args["state"]}))

        @app.get("/userinfo")
        def userinfo():
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                return jsonify({"error": "invalid_token"}), 401
            return jsonify(self.userinfo)

        @app.post("/token")
        def token():
            asked = self.codes.pop(request.form.get("code", ""), None)
            if asked is None:
                return jsonify({"error": "invalid_grant"}), 400
            now = int(time.time())
            claims = {"iss": self.url, "sub": "tamper-1", "aud": asked["client_id"],
                      "iat": now, "exp": now + 300, "nonce": asked.get("nonce"),
                      "email": "kari@bergen.kommune.no", "email_verified": True,
                      **self.changes}
            claims = {k: v for k, v in claims.items() if v is not DROP}
            key = self.other_key if self.sign_with_other_key else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                            "expires_in": 300, "id_token": id_token})

        return app

    @contextmanager
    def serving(self):
        with _serve(self.app) as url:
            self.url = url
            yield self


