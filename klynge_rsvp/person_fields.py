"""The fields that describe a person and where they come from, written once for the forms that
ask for them: the registration form, the manage page's "change my details", and the organisers'
"register someone" and "edit a registration".

Each function returns a new unbound field, so a form lists them in the order its class names
them (WTForms orders fields by when they were made), and the error summary follows the page.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from .fields import no_invisible_characters, normalise_newlines, plain_text, single_line, strip
from .labels import SECTOR_LABELS
from .organisations import clean_org_number, is_valid_org_number

SECTOR_CHOICES = [SelectChoice(sector.value, label) for sector, label in SECTOR_LABELS.items()]


def name(required: str = _l("Skriv inn navnet ditt."), *, autocomplete: str = "name"):
    return StringField(
        _l("Navn"), filters=[strip],
        validators=[DataRequired(required),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": autocomplete},
    )


def job_title():
    return StringField(
        _l("Stilling"), filters=[strip],
        validators=[Optional(), Length(max=200, message=_l("Stillingen kan være høyst 200 tegn.")),
                    single_line, no_invisible_characters],
        render_kw={"autocomplete": "organization-title"},
    )


def needs():
    return TextAreaField(
        _l("Behov for tilrettelegging eller hensyn til kosthold (valgfritt)"),
        filters=[normalise_newlines],
        validators=[Optional(), Length(max=1000, message=_l("Teksten kan være høyst 1000 tegn.")),
                    plain_text],
    )


def organisation(required: str = _l("Skriv inn hvilken virksomhet du kommer fra."),
                 **render_kw):
    return StringField(
        _l("Virksomhet eller organisasjon"), filters=[strip],
        validators=[DataRequired(required),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "organization", **render_kw},
    )


def sector_given(form, field):
    """A sector chosen, or one Enhetsregisteret gives for the org number typed beside it: the
    script fills the choice in as the person types, and without it the number alone must do
    (the number's own validator, further down the form, puts the register's sector in)."""
    if field.data:
        return
    field.errors[:] = []  # not "not a valid choice" (pre_validate) for no choice: our words
    number = clean_org_number(getattr(getattr(form, "org_number", None), "data", None) or "")
    if number and is_valid_org_number(number):
        from . import registry
        from .clock import utcnow

        unit = registry.lookup(number, now=utcnow())
        if unit is not None and unit.sector is not None:
            field.data = unit.sector.value
            return
    raise StopValidation(_("Velg hvilken sektor virksomheten hører til."))


def sector():
    return RadioField(_l("Sektor"), choices=SECTOR_CHOICES, validators=[sector_given])


def valid_org_number(form, field):
    """Nine digits with a right check digit (MOD11), written without spaces."""
    number = clean_org_number(field.data)
    if number and not is_valid_org_number(number):
        raise ValidationError(
            _("Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))
    field.data = number
    if number:  # what Enhetsregisteret says: its name and sector, or an error (registry.py)
        from . import registry
        from .clock import utcnow

        registry.check_form(form, field, number, now=utcnow())


def org_number():
    return StringField(
        _l("Organisasjonsnummer (valgfritt)"), filters=[strip],
        validators=[Optional(), Length(max=20, message=_l("Organisasjonsnummeret er for langt.")),
                    valid_org_number],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )


def org_number_confirmed():
    """"Use the number anyway": shown only beside a number Enhetsregisteret has deleted."""
    return BooleanField(_l("Bruk organisasjonsnummeret likevel"))
