"""How much the registration form may cause: per client address, per address typed, per
gathering, and per address someone else typed.

Counted with Flask-Limiter's storage (RATELIMIT_STORAGE_URI; `redis://…` shares the counts
between every app process), through the `limits` strategy the extension uses. Each window
starts with its first count ("1 per day": 24 hours from the first). Only a form that is
valid counts; adding a colleague row never does. Addresses are counted under a keyed hash, so
the store holds no address.

A form is checked before it is registered (`FormBudget.stops`, which counts nothing) and
counted after (`FormBudget.take`, before the commit): a form another request overtook in
between is refused then, and rolled back.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from limits import RateLimitItem, parse_many
from limits.errors import StorageError

from ..extensions import limiter


class LimitsUnavailable(Exception):
    """The counter store did not answer (e.g. Redis is down): nothing may be sent unchecked."""


@dataclass(frozen=True)
class Recipient:
    """An address in the form: which field it is in, as typed, and its key (addresses.key)."""

    field: str
    email: str
    key: str


@dataclass(frozen=True)
class Stop:
    """A limit that stops the form: what to tell the person, beside which field (None: above the
    form), and after how many seconds trying again can help (0: not said)."""

    message: str
    field: str | None = None
    retry_after: int = 0


@dataclass(frozen=True)
class _Count:
    setting: str  # the config key holding the limit, e.g. "200 per hour"
    identity: tuple[str, ...]
    cost: int
    stop: Stop  # retry_after is filled in from the window when it stops the form
    say_when: bool = True  # False: the wait would tell when someone else used the address


class FormBudget:
    """The counts one valid registration form would take, and the mail gate for rsvp."""

    def __init__(self, gathering_id: int, *, client: str, registrant: Recipient,
                 colleagues: list[Recipient], suppressed: set[str]):
        # Unsolicited mail: to an address someone else typed. A colleague's, and the person's
        # own when its owner once said "not me" (whoever types it now may not be them).
        unsolicited = list({r.key: r for r in [
            *([registrant] if registrant.key in suppressed else []), *colleagues]}.values())
        self.refused = [r for r in colleagues if r.key in suppressed]
        self.counts = [
            _Count("REGISTRATION_RATE_LIMIT", ("client", client), 1, Stop(_(
                "For mange forsøk fra nettverket ditt. Det du skrev, er tatt vare på."))),
            _Count("REGISTRATION_ADDRESS_RATE_LIMIT", ("address", _hash(registrant.key)), 1,
                   Stop(_("Denne adressen er brukt i mange påmeldinger den siste tiden."),
                        field=registrant.field)),
            _Count("REGISTRATION_GATHERING_RATE_LIMIT", ("gathering", str(gathering_id)),
                   1 + len(colleagues), Stop(_(
                       "Det kommer svært mange påmeldinger til denne samlingen akkurat nå. Det "
                       "du skrev, er tatt vare på."))),
        ]
        if colleagues:
            self.counts += [
                _Count("COLLEAGUE_RATE_LIMIT", ("colleagues-by", _hash(registrant.key)),
                       len(colleagues), Stop(_(
                           "Du har meldt på mange kolleger det siste døgnet. Be kollegene melde "
                           "seg på selv, eller fjern noen av dem fra skjemaet."))),
                _Count("COLLEAGUE_CLIENT_RATE_LIMIT", ("colleagues-from", client),
                       len(colleagues), Stop(_(
                           "Det er meldt på mange kolleger fra nettverket ditt den siste tiden. "
                           "Be kollegene melde seg på selv, eller fjern noen av dem fra "
                           "skjemaet."))),
            ]
        self.counts += [
            _Count("UNSOLICITED_MAIL_RATE_LIMIT", ("unsolicited", _hash(r.key)), 1,
                   _unsolicited_stop(r, own=r is registrant), say_when=False)
            for r in unsolicited if r not in self.refused
        ]

    def stops(self) -> list[Stop]:
        """What would stop this form now (counts nothing)."""
        refused = [_unsolicited_stop(r) for r in self.refused]
        return refused + _guard(lambda: [self._stop(c) for c in self.counts if _over(c, test=True)])

    def take(self) -> list[Stop]:
        """Count the form; what stops it if another request used the budget since `stops`."""
        return _guard(lambda: [self._stop(c) for c in self.counts if _over(c, test=False)])

    def may_resend_link(self, key: str) -> bool:
        """Count a mail with the link to an address already registered: whether it may go
        (LINK_RESEND_RATE_LIMIT: one an hour and three a day, whoever types the address)."""
        count = _Count("LINK_RESEND_RATE_LIMIT", ("link", _hash(key)), 1, Stop(""))
        return not _guard(lambda: _over(count, test=False))

    def _stop(self, count: _Count) -> Stop:
        if not count.say_when:
            return count.stop
        wait = max(math.ceil(limiter.limiter.get_window_stats(item, *_identity(count)).reset_time
                             - time.time()) for item in _over(count, test=True) or _items(count))
        return Stop(f"{count.stop.message} {_try_again_in(wait)}", count.stop.field, max(wait, 1))


def _items(count: _Count) -> list[RateLimitItem]:
    return parse_many(current_app.config[count.setting])


def _over(count: _Count, *, test: bool) -> list[RateLimitItem]:
    """The limits of `count` it would go over (test) or went over (hit; every one is hit)."""
    strategy = limiter.limiter
    identity = _identity(count)
    if test:
        return [item for item in _items(count)
                if not strategy.test(item, *identity, cost=count.cost)]
    return [item for item in _items(count) if not strategy.hit(item, *identity, cost=count.cost)]


def _identity(count: _Count) -> tuple[str, ...]:
    return ("form", *count.identity)


def _guard(check):
    """Run a check against the counter store; LimitsUnavailable when it does not answer."""
    try:
        return check()
    except (StorageError, *_storage_errors()) as error:
        raise LimitsUnavailable(str(error)) from error


def _storage_errors() -> tuple[type[Exception], ...]:
    errors = limiter.storage.base_exceptions
    return errors if isinstance(errors, tuple) else (errors,)


def _hash(key: str) -> str:
    """An address key as the counter store holds it: a hash keyed with SECRET_KEY."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:32]


def _unsolicited_stop(recipient: Recipient, *, own: bool = False) -> Stop:
    # One message whether the owner said "not me" or someone typed the address lately, and no
    # time to wait: the page must not tell which, or when.
    if own:
        return Stop(_("Vi kan ikke sende mer e-post til denne adressen fra skjemaet i dag. Prøv "
                      "igjen i morgen, eller skriv til arrangøren."), field=recipient.field)
    return Stop(_("Vi kan ikke sende e-post til %(email)s på vegne av andre akkurat nå: adressen "
                  "har nylig fått en påmelding fra noen andre, eller eieren har bedt om å slippe "
                  "slik e-post. Be personen melde seg på selv, eller fjern adressen fra skjemaet.",
                  email=recipient.email), field=recipient.field)


def _try_again_in(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if minutes <= 90:
        return ngettext("Prøv igjen om %(num)s minutt.", "Prøv igjen om %(num)s minutter.",
                        minutes)
    hours = math.ceil(minutes / 60)
    return ngettext("Prøv igjen om %(num)s time.", "Prøv igjen om %(num)s timer.", hours)
