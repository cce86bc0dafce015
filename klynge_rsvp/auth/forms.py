"""The forms of an organiser's login steps and own account."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


def code_field(label):
    return StringField(label, validators=[
        DataRequired(_l("Skriv inn koden.")), Length(max=40, message=_l("Koden er for lang.")),
    ], render_kw={"autocomplete": "one-time-code", "autocapitalize": "none",
                  "spellcheck": "false"})


def new_password_fields():
    password = PasswordField(_l("Nytt passord"), validators=[
        DataRequired(_l("Skriv inn et nytt passord.")),
        Length(max=500, message=_l("Passordet er for langt.")),
    ], render_kw={"autocomplete": "new-password"})
    again = PasswordField(_l("Det nye passordet en gang til"), validators=[
        DataRequired(_l("Skriv inn det nye passordet en gang til.")),
        EqualTo("password", _l("Passordene er ikke like.")),
    ], render_kw={"autocomplete": "new-password"})
    return password, again


def current_password_field():
    return PasswordField(_l("Nåværende passord"), validators=[
        DataRequired(_l("Skriv inn passordet du bruker nå.")),
        Length(max=500, message=_l("Passordet er for langt.")),
    ], render_kw={"autocomplete": "current-password"})


class CodeForm(FlaskForm):
    code = code_field(_l("Kode"))
    submit = SubmitField(_l("Logg inn"))


class EnrolForm(FlaskForm):
    code = code_field(_l("Koden appen viser"))
    submit = SubmitField(_l("Slå på tofaktor"))


class PasswordChangeForm(FlaskForm):
    current = current_password_field()
    password, password_again = new_password_fields()
    submit = SubmitField(_l("Bytt passord"))


class RecoveryCodesForm(FlaskForm):
    current = current_password_field()
    submit = SubmitField(_l("Lag nye gjenopprettingskoder"))
