"""Organisers' API keys: the list, making one (its token shown once), revoking one.

An organiser sees and revokes their own keys; an administrator sees and revokes everyone's. The
rules are the service's (klynge_rsvp/api_tokens.py).
"""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from .. import api_tokens
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import no_invisible_characters, single_line, strip
from ..labels import API_SCOPE_LABELS, API_TOKEN_STATE_LABELS
from . import bp
from .gatherings import me
from .once import done_before, once_field, remember_done

NEVER = "never"


class NewApiTokenForm(FlaskForm):
    name = StringField(_l("Navn på nøkkelen"), filters=[strip], validators=[
        DataRequired(_l("Gi nøkkelen et navn.")),
        Length(max=api_tokens.NAME_MAX, message=_l("Navnet er for langt.")),
        single_line, no_invisible_characters,
    ], render_kw={"autocomplete": "off"})
    gatherings = BooleanField(_l("Samlinger: alle samlinger, også utkast, med antall påmeldte"))
    registrations = BooleanField(_l("Påmeldinger: navn, e-post, virksomhet, stilling, behov og "
                                    "innsjekking for alle som har meldt seg på"))
    answers = BooleanField(_l("Svar på arrangørenes egne spørsmål, sammen med påmeldingene"))
    lifetime = RadioField(_l("Hvor lenge nøkkelen virker"), choices=[
        SelectChoice("30", _l("30 dager")), SelectChoice("90", _l("90 dager")),
        SelectChoice("365", _l("Ett år")), SelectChoice(NEVER, _l("Til den trekkes tilbake")),
    ], default="90", validators=[InputRequired(_l("Velg hvor lenge nøkkelen skal virke."))])
    submit = SubmitField(_l("Lag nøkkelen"))
    once = once_field()  # a reload of the token's page makes no second key (once.py)

    def validate_gatherings(self, field):
        if not (field.data or self.registrations.data or self.answers.data):
            raise ValidationError(_("Velg minst én ting nøkkelen skal kunne lese."))

    def scopes(self) -> list[str]:
        return [scope for scope, chosen in ((api_tokens.GATHERINGS_READ, self.gatherings.data),
                                            (api_tokens.REGISTRATIONS_READ,
                                             self.registrations.data),
                                            (api_tokens.ANSWERS_READ, self.answers.data))
                if chosen]

    def lifetime_days(self) -> int | None:
        return None if self.lifetime.data == NEVER else int(self.lifetime.data)


class RevokeApiTokenForm(FlaskForm):
    submit = SubmitField(_l("Trekk tilbake nøkkelen"))


def _scopes(token) -> str:
    """What the key may read, in words."""
    return ", ".join(str(API_SCOPE_LABELS.get(scope, scope)) for scope in token.scope_list)


def _token_or_404(token_id: int):
    """A key the organiser may see (their own; any for an administrator), or 404."""
    return api_tokens.find_for(me(), token_id) or abort(404)


@bp.get("/api-nokler", endpoint="api_tokens")
def index():
    """The keys, newest first, with what they may read and whether they work."""
    now = utcnow()
    tokens = api_tokens.visible_to(me())
    return render_template("admin/api_tokens/index.html", tokens=tokens, now=now,
                           states={token.id: api_tokens.state(token, now=now) for token in tokens},
                           state_labels=API_TOKEN_STATE_LABELS, scope_labels=API_SCOPE_LABELS)


@bp.route("/api-nokler/ny", methods=["GET", "POST"], endpoint="api_token_new")
def new():
    """Make a key; the page that answers shows its token, this once."""
    form = NewApiTokenForm()
    if form.validate_on_submit():
        if done_before(form.once.data):  # the token's page reloaded
            flash(_("Nøkkelen er allerede laget. Tokenet vises bare én gang: trenger du det, "
                    "trekk tilbake nøkkelen og lag en ny."), "info")
            return redirect(url_for(".api_tokens"), 303)
        try:
            token, secret = api_tokens.create(me(), name=form.name.data, scopes=form.scopes(),
                                              lifetime_days=form.lifetime_days(), now=utcnow())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            remember_done(form.once.data)
            response = render_template("admin/api_tokens/created.html", token=token,
                                       secret=secret, scopes=_scopes(token))
            # Shown once: not kept by the browser's cache, nor by anything between.
            return response, 200, {"Cache-Control": "no-store"}
    status = 422 if form.errors or form.form_errors else 200
    return render_template("admin/api_tokens/new.html", form=form), status


@bp.route("/api-nokler/<int:token_id>/tilbakekall", methods=["GET", "POST"],
          endpoint="api_token_revoke")
def revoke(token_id):
    """Revoke a key, after a confirmation page; it stops working at once."""
    token = _token_or_404(token_id)
    form = RevokeApiTokenForm()
    if form.validate_on_submit():
        try:
            revoked = api_tokens.revoke(token, by=me(), now=utcnow())
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            if revoked:
                flash(_("API-nøkkelen «%(name)s» er trukket tilbake og virker ikke lenger.",
                        name=token.name), "success")
        return redirect(url_for(".api_tokens"), 303)
    return render_template("admin/api_tokens/revoke.html", token=token, form=form,
                           scopes=_scopes(token))
