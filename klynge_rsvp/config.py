"""Settings, read from the environment; see the README for each one."""

import os
import re
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
        # Sites that may show the registration form in a frame (public/embed.py): origins
        # such as "https://beredskapsklynge.no", separated by spaces or commas. Empty: none.
        # Checked at start-up (embed_origins below).
        "KLYNGE_EMBED_ORIGINS": os.environ.get("KLYNGE_EMBED_ORIGINS", ""),
        # Enhetsregisteret (Brønnøysundregistrene's open API; registry.py): an empty URL turns
        # the look-ups off. The timeout is for the whole look-up (enhet, then underenhet).
        "KLYNGE_BRREG_URL": os.environ.get("KLYNGE_BRREG_URL",
                                           "https://data.brreg.no/enhetsregisteret/api").strip(),
        "KLYNGE_BRREG_TIMEOUT": float(os.environ.get("KLYNGE_BRREG_TIMEOUT", "2")),
        "ORG_LOOKUP_RATE_LIMIT": os.environ.get("ORG_LOOKUP_RATE_LIMIT",
                                                "30 per minute;300 per hour"),
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
    # Woken by new mail, a worker waits this long before its pass, so that the confirmations
    # committed meanwhile share the pass's claim and SMTP connections (with TLS and a login, a
    # relay's connection costs more than the message): at 25 registrations a second, about five
    # a pass instead of one.
    "OUTBOX_GATHER_SECONDS": 0.2,
    "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
    "MAILING_LIST_RATE_LIMIT": "5 per hour",
    "CERTIFICATE_VERIFY_RATE_LIMIT": "30 per minute;300 per hour",  # /bevis/<code>, per client
    # How long what Enhetsregisteret said is kept (registry.py): a unit found, and a number it
    # does not know or has deleted (such a number may be registered tomorrow).
    "BRREG_FOUND_DAYS": 7,
    "BRREG_NOT_FOUND_DAYS": 1,
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


class SettingError(RuntimeError):
    """A setting the app cannot work with: it refuses to start, and says which and why."""


def embed_origins(value) -> tuple[str, ...]:
    """KLYNGE_EMBED_ORIGINS as origins ("https://beredskapsklynge.no", "http://host:8080"),
    lower case, the host in IDNA, a default port left out. `value` is the setting as written
    (origins separated by spaces or commas) or already a list. Anything that is not a
    scheme://host[:port] origin is refused with a SettingError naming it."""
    from urllib.parse import urlsplit

    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    origins = []
    for item in items:
        def refuse(why: str, item=item):
            raise SettingError(
                f"KLYNGE_EMBED_ORIGINS: {item!r} is not an origin ({why}). Write each site as "
                "scheme://host or scheme://host:port, e.g. https://beredskapsklynge.no, "
                "separated by spaces or commas.")

        try:
            parts = urlsplit(item)
            port = parts.port
        except ValueError:
            refuse("the port must be a number from 1 to 65535")
        if parts.scheme.lower() not in ("http", "https"):
            refuse("it must start with https:// or http://")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            refuse("no user name or password")
        if parts.path not in ("", "/") or parts.query or parts.fragment or item.endswith(("?", "#")):
            refuse("no path, query or fragment after the host")
        host = parts.hostname or ""
        if not host or "*" in host or not re.fullmatch(r"[\w.\-\[\]:]+", host):
            refuse("a host name is needed, without wildcards")
        try:
            host = host.encode("idna").decode("ascii") if not host.startswith("[") else host
        except UnicodeError:
            refuse("the host name is not valid")
        if port == 0:
            refuse("the port must be a number from 1 to 65535")
        scheme = parts.scheme.lower()
        default = {"http": 80, "https": 443}[scheme]
        origin = f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)
