"""Settings: refuse an insecure secret in production; the mailbox never in production."""

import pytest

from klynge_rsvp import create_app
from klynge_rsvp.config import INSECURE_DEFAULT_SECRET


@pytest.mark.parametrize("secret", [None, "", INSECURE_DEFAULT_SECRET, "short"])
def test_production_refuses_missing_or_default_secret(app_config, secret):
    config = {**app_config, "TESTING": False, "DEBUG": False, "SECRET_KEY": secret}
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_mailbox_is_for_organisers_outside_debug(app_config):
    config = {**app_config, "TESTING": False, "DEBUG": False,
              "SECRET_KEY": "a-long-random-production-secret-value"}
    response = create_app(config).test_client().get("/e-post/")
    assert response.status_code == 302
    assert "/arrangor/innlogging" in response.headers["Location"]


def test_no_mailbox_at_all_with_an_smtp_server(app_config):
    config = {**app_config, "MAIL_SERVER": "smtp.example.org"}
    assert create_app(config).test_client().get("/e-post/").status_code == 404


def test_https_base_url_makes_cookies_secure(app_config):
    app = create_app({**app_config, "KLYNGE_BASE_URL": "https://klynge.bergen.kommune.no"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "Strict-Transport-Security" in app.test_client().get("/personvern").headers
