"""What an organiser's session cookie carries, and whether it still counts.

The cookie is Flask's signed session: it cannot be forged, but a copy of it can be replayed.
So it is checked against the account on every request (by the user loader): the account's
session version (raised by logout, deactivation, a new password, a new or reset second factor,
which ends every session of the account on every server), the time since the last request
(idle timeout) and since the login (absolute timeout). Flask-Login's "remember me" cookie is
never set, and a session it would restore has no login record here, so it counts for nothing.

Between the password and the code (or the set-up of a second factor) the session holds a
pending login: who, which step, since when. Nobody is logged in until that step is done.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import Organiser

LOGIN_KEY = "_klynge_login"
PENDING_KEY = "_klynge_pending"
# A sign-in with an OpenID Connect provider (auth/oidc.py): which provider, and its ID token
# for RP-initiated logout.
SIGN_IN_KEY = "_klynge_sign_in"
# The idle clock is moved on at most once a minute, so the cookie is not rewritten on every
# request.
_TOUCH_EVERY = 60

FLASK_LOGIN_KEYS = ("_user_id", "_fresh", "_id")

CODE = "code"  # the password was right; the code from the app (or a recovery code) is next
ENROL = "enrol"  # the password was right; a second factor is required and must be set up first


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    absolute: timedelta


def _seconds(now: datetime) -> int:
    return int(now.timestamp())


def start(session: MutableMapping, organiser: Organiser, *, now: datetime,
          provider_mfa: bool = False) -> None:
    """Record a complete login (Flask-Login's login_user sets the account id beside it).
    `provider_mfa`: the person used MFA at their OpenID Connect provider, which stands in for
    our own second factor for this login (docs/decisions/0015-openid-connect.md)."""
    session.pop(PENDING_KEY, None)
    session[LOGIN_KEY] = {"id": organiser.id, "v": organiser.session_version,
                          "at": _seconds(now), "seen": _seconds(now)}
    if provider_mfa:
        session[LOGIN_KEY]["mfa"] = True


def renew(session: MutableMapping, organiser: Organiser) -> None:
    """Keep this session after the account's version was raised by its own owner (a new
    password or second factor ends the other sessions, not this one). The login time stays."""
    state = dict(session.get(LOGIN_KEY) or {})
    if state.get("id") == organiser.id:
        state["v"] = organiser.session_version
        session[LOGIN_KEY] = state


def end(session: MutableMapping) -> None:
    """Forget the login and any pending one."""
    forget_login(session)
    session.pop(PENDING_KEY, None)
    session.pop(SIGN_IN_KEY, None)


def forget_login(session: MutableMapping) -> None:
    """Forget a login that no longer counts (and Flask-Login's record of it), keeping a
    pending one."""
    for key in (LOGIN_KEY, *FLASK_LOGIN_KEYS):
        session.pop(key, None)


def still_valid(session: MutableMapping, organiser: Organiser | None, *, now: datetime,
                limits: Limits, second_factor_needed: bool) -> bool:
    """Whether the session's login still counts for this account right now."""
    state = session.get(LOGIN_KEY)
    if organiser is None or not isinstance(state, dict) or state.get("id") != organiser.id:
        return False
    if not organiser.active or state.get("v") != organiser.session_version:
        return False
    if second_factor_needed and not organiser.has_second_factor and state.get("mfa") is not True:
        return False  # e.g. made an administrator since: set up a second factor first
    at, seen, clock = state.get("at", 0), state.get("seen", 0), _seconds(now)
    if clock - seen > limits.idle.total_seconds() or clock - at > limits.absolute.total_seconds():
        return False
    return at <= clock + 60  # a login "from the future": another server's clock, or forged


def touch(session: MutableMapping, *, now: datetime) -> None:
    """Note a request, for the idle timeout."""
    state = session.get(LOGIN_KEY)
    if isinstance(state, dict) and _seconds(now) - state.get("seen", 0) >= _TOUCH_EVERY:
        session[LOGIN_KEY] = {**state, "seen": _seconds(now)}


def begin_pending(session: MutableMapping, organiser: Organiser, step: str, *,
                  now: datetime) -> None:
    """The password was right; `step` (CODE or ENROL) comes next."""
    forget_login(session)
    session[PENDING_KEY] = {"id": organiser.id, "v": organiser.session_version, "step": step,
                            "at": _seconds(now)}


def pending(session: MutableMapping, organiser_for, *, now: datetime,
            max_age: timedelta) -> tuple[Organiser, str] | None:
    """The account and step of a pending login still in time, or None.

    `organiser_for(id)` loads the account; the pending login counts only while the account is
    active and its session version is the one the password step saw."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    age = _seconds(now) - state.get("at", 0)
    if age > max_age.total_seconds() or age < -60:
        return None
    organiser = organiser_for(state.get("id"))
    if organiser is None or not organiser.active or state.get("v") != organiser.session_version:
        return None
    return organiser, state.get("step")
