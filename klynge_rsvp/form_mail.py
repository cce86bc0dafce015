"""The registration form's mail, and a person's say over it.

Anyone can type anyone's address into the public form, as a colleague or as their own. Whoever
gets a mail from the form because of that can answer "not me": the registration is cancelled
(its seat goes to the waiting list), the personal data typed about them is erased, and the
form sends that address nothing more (a FormMailSuppression row) until its owner registers
themselves, which lifts it. How much the form may send at all is public/limits.py's part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from . import mailing_list, privacy, rsvp
from .errors import DomainError
from .extensions import db
from .models import FormMailSuppression, Gathering, Registration
from .stored_text import said


class AddressRefused(DomainError):
    """A colleague's address whose owner asked the form to send them nothing."""


def suppressed(keys: Iterable[str]) -> set[str]:
    """Those of these address keys the form must not send to on someone else's word."""
    keys = set(keys)
    if not keys:
        return set()
    return set(db.session.scalars(
        sa.select(FormMailSuppression.email_key).where(FormMailSuppression.email_key.in_(keys))))


def register(gathering: Gathering, request: rsvp.RegistrationRequest, *, now: datetime,
             may_resend_link: Callable[[str], bool] | None = None,
             newsletter: bool = False) -> list[rsvp.Outcome]:
    """Register through the public form: as rsvp.register, but a colleague whose address is
    suppressed is refused, and the person's own registration lifts a suppression of theirs.

    `newsletter`: the person ticked the newsletter box: their own address (never a
    colleague's) is signed up as on the list's own page (mailing_list.sign_up: a confirmation
    link, at most one an hour, nothing for an address already on the list). Not for an address
    whose owner once said "not me": that may not be them typing it.
    """
    colleagues = [rsvp.email_key(person.email) for person in request.colleagues]
    if suppressed(colleagues):
        raise AddressRefused(_("En av adressene i påmeldingen kan ikke meldes på av andre. "
                               "Se over skjemaet og send på nytt."))
    own_key = rsvp.email_key(request.person.email)
    was_refused = bool(suppressed([own_key]))
    outcomes = rsvp.register(gathering, request, now=now, may_resend_link=may_resend_link)
    if newsletter and not was_refused:
        mailing_list.sign_up(request.person.email, request.person.name, now=now)
    db.session.execute(sa.delete(FormMailSuppression).where(
        FormMailSuppression.email_key == own_key))
    return outcomes


def refuse(registration: Registration, *, now: datetime) -> None:
    """"Not me": cancel the registration (a freed seat goes to the waiting list; a last mail
    only takes the gathering out of their calendar, if it was there), erase what was typed
    about the person (the manage link stops working), and send their address nothing more
    from the form. Idempotent."""
    if registration.anonymised_at is not None:
        return
    key = registration.email_key
    rsvp.cancel(registration, now=now, note=said("note_not_me"), refused=True)
    privacy.anonymise(registration, now=now)
    if not suppressed([key]):
        try:
            with db.session.begin_nested():  # the same address refused at once elsewhere
                db.session.add(FormMailSuppression(email_key=key, created_at=now))
        except sa.exc.IntegrityError:
            pass
    db.session.flush()
