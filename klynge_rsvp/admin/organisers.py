"""Organiser accounts, managed by administrators: create, change role, deactivate, reactivate;
and help someone who is locked out: a new password, a reset second factor, an unlocked login.

The pages only; the rules (never lock yourself out, never leave the service without an active
administrator) are the account service's, in klynge_rsvp/organisers.py.
"""


import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from .. import login_throttle, organisers
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import no_invisible_characters, single_line, strip
from ..labels import ROLE_LABELS
from ..models import Organiser, OrganiserRole
from . import administrator_required, bp

# --- the pages ---------------------------------------------------------------------------------


_ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


def _new_password(label) -> PasswordField:
    return PasswordField(label, validators=[
        DataRequired(_l("Skriv inn et passord.")),
        Length(max=500, message=_l("Passordet er for langt.")),
    ], render_kw={"autocomplete": "new-password"})


def _new_password_again() -> PasswordField:
    return PasswordField(_l("Passordet en gang til"), validators=[
        DataRequired(_l("Skriv inn passordet en gang til.")),
        EqualTo("password", _l("Passordene er ikke like.")),
    ], render_kw={"autocomplete": "new-password"})


class NewOrganiserForm(FlaskForm):
    email = StringField(_l("E-post"), filters=[strip], validators=[
        DataRequired(_l("Skriv inn e-postadressen.")),
        Length(max=254, message=_l("Adressen er for lang.")),
        Email(_l("Skriv inn en gyldig e-postadresse."), check_deliverability=False), single_line,
    ], render_kw={"autocomplete": "off", "type": "email"})
    name = StringField(_l("Navn"), filters=[strip], validators=[
        DataRequired(_l("Skriv inn navnet.")), Length(max=200, message=_l("Navnet er for langt.")),
        single_line, no_invisible_characters,
    ], render_kw={"autocomplete": "off"})
    role = RadioField(_l("Rolle"), choices=_ROLE_CHOICES, default=OrganiserRole.ORGANISER.value,
                      validators=[InputRequired(_l("Velg en rolle."))])
    password = _new_password(_l("Passord"))
    password_again = _new_password_again()
    submit = SubmitField(_l("Opprett kontoen"))


class SetPasswordForm(FlaskForm):
    password = _new_password(_l("Nytt passord"))
    password_again = _new_password_again()
    submit = SubmitField(_l("Sett nytt passord"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Rolle"), choices=_ROLE_CHOICES, validators=[InputRequired()])
    submit = SubmitField(_l("Endre rolle"))


def get_account_or_404(organiser_id: int) -> Organiser:
    """The account, or 404."""
    return db.session.get(Organiser, organiser_id) or abort(404)


@bp.get("/arrangorer", endpoint="organisers")
@administrator_required
def organisers_index():
    """Every account, with its role and status."""
    accounts = db.session.scalars(
        sa.select(Organiser).order_by(Organiser.active.desc(), Organiser.name, Organiser.email)
    ).all()
    locked = login_throttle.locked_accounts(accounts, now=utcnow())
    return render_template("admin/organisers/index.html", accounts=accounts, roles=ROLE_LABELS,
                           role_choices=_ROLE_CHOICES, locked=locked)


@bp.route("/arrangorer/ny", methods=["GET", "POST"])
@administrator_required
def new_organiser():
    """Create an account with a password to give the person."""
    form = NewOrganiserForm()
    if form.validate_on_submit():
        try:
            account = organisers.create_account(
                email=form.email.data, name=form.name.data, role=OrganiserRole(form.role.data),
                password=form.password.data, by=current_user._get_current_object(),
                now=utcnow())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Kontoen for %(email)s er opprettet. Gi passordet til personen på en "
                    "trygg måte, for eksempel muntlig.", email=account.email), "success")
            return redirect(url_for(".organisers"), 303)
    return render_template("admin/organisers/new.html", form=form,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"]), \
        422 if form.errors or form.form_errors else 200


@bp.post("/arrangorer/<int:organiser_id>/rolle")
@administrator_required
def change_organiser_role(organiser_id):
    """Make the account an administrator or an organiser."""
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    account, role = get_account_or_404(organiser_id), OrganiserRole(form.role.data)
    _act(organisers.change_role, account, role,
         done=_("%(email)s har nå rollen %(role)s.", email=account.email,
                role=str(ROLE_LABELS[role]).lower()))
    return redirect(url_for(".organisers"), 303)


@bp.post("/arrangorer/<int:organiser_id>/deaktiver")
@administrator_required
def deactivate_organiser(organiser_id):
    """Close the account: it can no longer log in."""
    account = get_account_or_404(organiser_id)
    _act(organisers.deactivate, account, done=_("Kontoen for %(email)s er deaktivert.", email=account.email))
    return redirect(url_for(".organisers"), 303)


@bp.post("/arrangorer/<int:organiser_id>/aktiver")
@administrator_required
def reactivate_organiser(organiser_id):
    """Open a closed account again."""
    account = get_account_or_404(organiser_id)
    _act(organisers.reactivate, account, done=_("Kontoen for %(email)s er aktiv igjen.", email=account.email))
    return redirect(url_for(".organisers"), 303)


@bp.route("/arrangorer/<int:organiser_id>/passord", methods=["GET", "POST"])
@administrator_required
def set_organiser_password(organiser_id):
    """Give someone who forgot their password a new one, to pass on in person."""
    account = get_account_or_404(organiser_id)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            organisers.give_new_password(account, form.password.data, by=current_user._get_current_object(),
                         now=utcnow())
        except DomainError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("%(email)s har fått nytt passord og er logget ut overalt. Gi passordet til "
                    "personen på en trygg måte, for eksempel muntlig.", email=account.email),
                  "success")
            return redirect(url_for(".organisers"), 303)
    return render_template("admin/organisers/password.html", form=form, account=account,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"]), \
        422 if form.errors else 200


@bp.post("/arrangorer/<int:organiser_id>/tofaktor/nullstill")
@administrator_required
def reset_organiser_second_factor(organiser_id):
    """Remove someone's second factor (a lost phone); they set up a new one."""
    account = get_account_or_404(organiser_id)
    _act(organisers.reset_second_factor, account,
         done=_("Tofaktor for %(email)s er nullstilt, og personen er logget ut. Ved neste "
                "innlogging setter personen opp tofaktor på nytt.", email=account.email))
    return redirect(url_for(".organisers"), 303)


@bp.post("/arrangorer/<int:organiser_id>/las-opp")
@administrator_required
def unlock_organiser(organiser_id):
    """Lift the lock failed logins put on someone's address."""
    account = get_account_or_404(organiser_id)
    _act(organisers.unlock, account, done=_("Innloggingen for %(email)s er låst opp.", email=account.email))
    return redirect(url_for(".organisers"), 303)


def _act(rule, account: Organiser, *args, done: str) -> None:
    """Apply one of the rules above, commit, and say what happened (or why not)."""
    try:
        changed = rule(account, *args, by=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        if changed:
            flash(done, "success")
