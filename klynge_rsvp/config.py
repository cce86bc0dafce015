"""Settings, read from the environment; see the README for each one."""

import os
from pathlib import Path

INSECURE_DEFAULT_SECRET = "dev-only-not-secret"  # noqa: S105 (refused outside debug/testing)


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def instance_path() -> str | None:
    """KLYNGE_INSTANCE_PATH, the folder for the default SQLite database; None: Flask's own
    (instance/ in a checkout, <venv>/var/klynge_rsvp-instance when installed)."""
    path = os.environ.get("KLYNGE_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def from_environment(instance_path: str) -> dict:
    """The app's configuration from environment variables, with the embedded defaults."""
    default_db = "sqlite:///" + str(Path(instance_path) / "klynge.sqlite3")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", INSECURE_DEFAULT_SECRET),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "Beredskapsklyngen <beredskapsklyngen@localhost>"
        ),
        "KLYNGE_BASE_URL": os.environ.get("KLYNGE_BASE_URL", "http://127.0.0.1:5000"),
        "KLYNGE_TIMEZONE": os.environ.get("KLYNGE_TIMEZONE", "Europe/Oslo"),
        "KLYNGE_NETWORK_NAME": os.environ.get("KLYNGE_NETWORK_NAME", "Beredskapsklyngen"),
        "KLYNGE_SENDER_THREAD": _bool("KLYNGE_SENDER_THREAD"),
        "KLYNGE_MAILBOX": _bool("KLYNGE_MAILBOX", default=True),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "20")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Calendar replies (Accept/Decline in Outlook, Gmail, Apple) read from the organiser
        # mailbox over IMAP; nothing is read while REPLY_IMAP_HOST is empty.
        "REPLY_IMAP_HOST": os.environ.get("REPLY_IMAP_HOST", ""),
        "REPLY_IMAP_PORT": _int("REPLY_IMAP_PORT", 993 if _bool("REPLY_IMAP_TLS", True) else 143),
        "REPLY_IMAP_USER": os.environ.get("REPLY_IMAP_USER", ""),
        "REPLY_IMAP_PASSWORD": os.environ.get("REPLY_IMAP_PASSWORD", ""),
        "REPLY_IMAP_TLS": _bool("REPLY_IMAP_TLS", default=True),
        "REPLY_IMAP_FOLDER": os.environ.get("REPLY_IMAP_FOLDER", "INBOX"),
        "REPLY_IMAP_DONE_FOLDER": os.environ.get("REPLY_IMAP_DONE_FOLDER", "Klynge/Behandlet"),
        "REPLY_IMAP_TIMEOUT": float(os.environ.get("REPLY_IMAP_TIMEOUT", "30")),
        "REPLY_FETCH_SECONDS": float(os.environ.get("REPLY_FETCH_SECONDS", "120")),
        "REPLY_AUTHSERV_ID": os.environ.get("REPLY_AUTHSERV_ID", ""),
        # Days after a gathering ends that its personal data is kept (privacy.purge_personal_data).
        "PERSONAL_DATA_RETENTION_DAYS": _int("PERSONAL_DATA_RETENTION_DAYS", 365),
        # Days after a gathering ends that diet and accessibility answers (possibly health data,
        # GDPR article 9) are kept.
        "NEEDS_RETENTION_DAYS": _int("NEEDS_RETENTION_DAYS", 14),
        # Days a mailing-list sign-up waits to be confirmed, and an address that left is kept.
        # Days after a gathering ends that its feedback survey takes answers (feedback.py).
        "FEEDBACK_OPEN_DAYS": _int("FEEDBACK_OPEN_DAYS", 14),
        "MAILING_LIST_UNCONFIRMED_DAYS": _int("MAILING_LIST_UNCONFIRMED_DAYS", 30),
        "MAILING_LIST_UNSUBSCRIBED_DAYS": _int("MAILING_LIST_UNSUBSCRIBED_DAYS", 30),
        # Organiser sessions end after this long without a request, and this long after login.
        "KLYNGE_SESSION_IDLE_MINUTES": _int("KLYNGE_SESSION_IDLE_MINUTES", 120),
        "KLYNGE_SESSION_MAX_HOURS": _int("KLYNGE_SESSION_MAX_HOURS", 12),
        # Who must log in with a second factor (TOTP): "administrators" or "all".
        "KLYNGE_REQUIRE_TOTP": os.environ.get("KLYNGE_REQUIRE_TOTP", "administrators").strip(),
        # --- Signing in with an employer's account (issue 18; README "Signing in with your
        # employer's account"). The providers (KLYNGE_OIDC_*) are read by auth/oidc.py.
        # KLYNGE_PASSWORD_LOGIN=0 switches password login off for everyone.
        "KLYNGE_PASSWORD_LOGIN": _bool("KLYNGE_PASSWORD_LOGIN", default=True),
        # ---
        # Webhooks (webhooks.py, README "Webhooks"): the connect and read timeout of one
        # delivery; http:// and loopback addresses allowed (development and tests only); days a
        # delivery is kept in the log.
        "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5")),
        "WEBHOOK_ALLOW_LOOPBACK": _bool("WEBHOOK_ALLOW_LOOPBACK"),
        "WEBHOOK_RETENTION_DAYS": _int("WEBHOOK_RETENTION_DAYS", 30),
        **{key: os.environ.get(key) or default for key, default in FORM_LIMITS.items()},
    }


# The registration form's limits (public/limits.py), in the `limits` notation: "200 per hour",
# "10 per hour;30 per day". Each window starts with its first count. Only a valid form counts;
# adding a colleague row never does. README ("Limits on the registration form") says why each.
FORM_LIMITS = {
    # Forms from one client address: an office of many behind one address (NAT) gets through.
    "REGISTRATION_RATE_LIMIT": "200 per hour",
    # Forms giving one address as the person's own: a person registers for a few gatherings.
    "REGISTRATION_ADDRESS_RATE_LIMIT": "10 per hour",
    # People (the person and colleagues) registered for one gathering by the form.
    "REGISTRATION_GATHERING_RATE_LIMIT": "300 per hour",
    # Colleagues registered by one address: two full forms (20 colleagues each) a day.
    "COLLEAGUE_RATE_LIMIT": "40 per day",
    # Colleagues registered from one client address.
    "COLLEAGUE_CLIENT_RATE_LIMIT": "100 per hour",
    # Mail to an address someone else typed: a colleague's (or a "not me" address typed as
    # the person's own).
    "UNSOLICITED_MAIL_RATE_LIMIT": "1 per day",
    # "You are already registered" with the link again, to one address (whoever types it).
    "LINK_RESEND_RATE_LIMIT": "1 per hour;3 per day",
}


def tuning_from_environment() -> dict:
    """OUTBOX_* tuning values (see DEFAULTS) overridden from the environment."""
    tuned = {}
    for key, default in DEFAULTS.items():
        if key.startswith("OUTBOX_") and os.environ.get(key):
            tuned[key] = type(default)(os.environ[key])
    return tuned


DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,  # a form left open over lunch must still submit
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 256 * 1024,
    # Delivery: the backoff before retry n is OUTBOX_RETRY_BASE * 2**(n-1), capped.
    "OUTBOX_MAX_ATTEMPTS": 12,
    "OUTBOX_RETRY_BASE_SECONDS": 30,
    "OUTBOX_RETRY_MAX_SECONDS": 3600,
    "OUTBOX_LEASE_SECONDS": 300,
    # Messages a worker claims per pass. A pass costs a claim and new SMTP connections (about 9 ms
    # on PostgreSQL); what one worker has not claimed, other workers can take meanwhile.
    "OUTBOX_BATCH_SIZE": 250,
    # SMTP connections a worker sends one batch over at once (fewer if the relay refuses more).
    "OUTBOX_SMTP_CONNECTIONS": 2,
    "OUTBOX_POLL_SECONDS": 2.0,
    "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
    "MAILING_LIST_RATE_LIMIT": "5 per hour",
    "CERTIFICATE_VERIFY_RATE_LIMIT": "30 per minute;300 per hour",  # /bevis/<code>, per client
    # Failed logins (password or code) per address, counted in the database for every server:
    # from the fifth in a row, the address is locked for a minute, doubling with each further
    # failure up to an hour. A day without failures forgets them.
    "LOGIN_LOCKOUT_THRESHOLD": 5,
    "LOGIN_LOCKOUT_SECONDS": 60,
    "LOGIN_LOCKOUT_MAX_SECONDS": 3600,
    "LOGIN_FAILURES_FORGOTTEN_HOURS": 24,
    # Time to type the code from the app after the password, before starting over.
    "LOGIN_CODE_SECONDS": 300,
    # … and to install an app and set up the second factor where it is required.
    "LOGIN_ENROL_SECONDS": 1800,
    "PASSWORD_MIN_LENGTH": 12,
    # zxcvbn's score (0-4) a new password must reach: 3 is "safely unguessable" online and
    # against a slow hash (at least 10^8 guesses).
    "PASSWORD_MIN_SCORE": 3,
    "PASSWORD_HASH_METHOD": "scrypt",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Webhooks: the wait before each retry (1 min, 5 min, 30 min, 2 h, 12 h; then given up), how
    # long a worker's claim on a delivery lasts, how many it claims per pass, and how often the
    # webhook sender looks for due deliveries when nothing wakes it.
    "WEBHOOK_RETRY_DELAYS": (60, 300, 1800, 7200, 43200),
    "WEBHOOK_LEASE_SECONDS": 300,
    "WEBHOOK_BATCH_SIZE": 20,
    "WEBHOOK_POLL_SECONDS": 2.0,
}
