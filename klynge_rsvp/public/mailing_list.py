"""The network's newsletter: sign up (double opt-in), confirm, and leave in one click.

Every link in a mail leads to a page with one button: opening a link (as mail scanners do)
never changes anything. The answer to the sign-up form is the same whoever's address it is.
"""

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from .. import mailing_list
from ..clock import utcnow
from ..extensions import csrf, db, limiter
from ..fields import mail_address, no_invisible_characters, single_line, strip
from . import bp


class SignUpForm(FlaskForm):
    """An address (and, if they like, a name) for the newsletter."""

    email = StringField(_l("E-post"), filters=[strip], validators=[
        DataRequired(_l("Skriv inn e-postadressen din.")),
        Length(max=254, message=_l("E-postadressen er for lang.")),
        mail_address,
        single_line,
    ], render_kw={"autocomplete": "email", "type": "email"})
    name = StringField(_l("Navn (valgfritt)"), filters=[strip], validators=[
        Optional(), Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
        no_invisible_characters,
    ], render_kw={"autocomplete": "name"})
    submit = SubmitField(_l("Meld meg på nyhetsbrevet"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Ja, send meg nyhetsbrevet"))


def _sign_up_limit() -> str:
    return current_app.config.get("MAILING_LIST_RATE_LIMIT", "5 per hour")


def _private(body: str, status: int = 200, mimetype: str = "text/html") -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    # A page behind a personal link: never kept by a shared cache or the browser's history.
    response.headers["Cache-Control"] = "no-store"
    return response


def _unknown_link() -> Response:
    return _private(render_template("public/mailing_list/unknown_link.html"), 404)


@bp.get("/nyhetsbrev", endpoint="mailing_list")
def mailing_list_page():
    """The sign-up form."""
    return render_template("public/mailing_list/sign_up.html", form=SignUpForm())


@bp.post("/nyhetsbrev")
@limiter.limit(_sign_up_limit)
def mailing_list_sign_up():
    """Send a confirmation link; the answer is the same for every address."""
    form = SignUpForm()
    if not form.validate_on_submit():
        return render_template("public/mailing_list/sign_up.html", form=form), 422
    mailing_list.sign_up(form.email.data, form.name.data or "", now=utcnow())
    db.session.commit()  # the subscriber and the confirmation mail commit together
    return redirect(url_for(".mailing_list_check_inbox"), 303)


@bp.get("/nyhetsbrev/sjekk-innboksen")
def mailing_list_check_inbox():
    """What happens next (said the same way whether the address was new or known)."""
    return render_template("public/mailing_list/check_inbox.html")


@bp.get("/nyhetsbrev/bekreft/<token>")
def mailing_list_confirm(token):
    """The link in the confirmation mail: a page with one button (opening it changes nothing)."""
    subscriber = mailing_list.find_by_confirm_token(token)
    if subscriber is None:
        return _unknown_link()
    return _private(render_template("public/mailing_list/confirm.html", subscriber=subscriber,
                                    form=ConfirmForm()))


@bp.post("/nyhetsbrev/bekreft/<token>")
def mailing_list_confirm_post(token):
    """Put the address on the list."""
    subscriber = mailing_list.find_by_confirm_token(token)
    if subscriber is None:
        return _unknown_link()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    mailing_list.confirm(subscriber, now=utcnow())
    db.session.commit()
    return _private(render_template("public/mailing_list/confirmed.html", subscriber=subscriber))


@bp.get("/nyhetsbrev/avmelding/<token>")
def mailing_list_unsubscribe(token):
    """The unsubscribe link in every newsletter: a page with one button."""
    subscriber = mailing_list.find_by_unsubscribe_token(token)
    if subscriber is None:
        return _unknown_link()
    template = "unsubscribed.html" if subscriber.unsubscribed_at else "unsubscribe.html"
    return _private(render_template(f"public/mailing_list/{template}", subscriber=subscriber))


@bp.post("/nyhetsbrev/avmelding/<token>")
@csrf.exempt
def mailing_list_unsubscribe_post(token):
    """Leave the list: the button, or a mail program's one-click POST (RFC 8058).

    Exempt from CSRF: a mail program's POST carries no token (only the body
    `List-Unsubscribe=One-Click`). The unguessable token in the address is the authorisation,
    and the worst a forged request can do is what the link's owner asked for.
    """
    subscriber = mailing_list.find_by_unsubscribe_token(token)
    if subscriber is None:
        return _unknown_link()
    mailing_list.unsubscribe(subscriber, now=utcnow())
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return _private(_("Du er meldt av nyhetsbrevet.") + "\n", mimetype="text/plain")
    return _private(render_template("public/mailing_list/unsubscribed.html",
                                    subscriber=subscriber))
