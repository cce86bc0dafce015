"""Forms behind a participant's manage link: change the details, cancel, register again.

The fields are checked as on the registration form: the validators come from
fields.py, as the registration form's, so a name refused there is refused here with the same words.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..fields import no_invisible_characters, normalise_newlines, plain_text, single_line, strip
from ..models import Registration, Sector
from ..organisations import clean_org_number, is_valid_org_number
from ..public.forms import SECTOR_CHOICES
from ..rsvp import Details


class DetailsForm(FlaskForm):
    """Name, job title, organisation and needs; never the address (a new address is a new
    registration)."""

    name = StringField(
        _l("Navn"), filters=[strip],
        validators=[DataRequired(_l("Skriv inn navnet ditt.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "name"},
    )
    job_title = StringField(
        _l("Stilling"), filters=[strip],
        validators=[Optional(), Length(max=200, message=_l("Stillingen kan være høyst 200 tegn.")),
                    single_line, no_invisible_characters],
        render_kw={"autocomplete": "organization-title"},
    )
    organisation = StringField(
        _l("Virksomhet eller organisasjon"), filters=[strip],
        validators=[DataRequired(_l("Skriv inn hvilken virksomhet du kommer fra.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "organization"},
    )
    sector = RadioField(_l("Sektor"), choices=SECTOR_CHOICES,
                        validators=[InputRequired(_l("Velg hvilken sektor virksomheten hører til."))])
    org_number = StringField(
        _l("Organisasjonsnummer (valgfritt)"), filters=[strip],
        validators=[Optional(), Length(max=20, message=_l("Organisasjonsnummeret er for langt."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    needs = TextAreaField(
        _l("Behov for tilrettelegging eller hensyn til kosthold (valgfritt)"),
        filters=[normalise_newlines],
        validators=[Optional(), Length(max=1000, message=_l("Teksten kan være høyst 1000 tegn.")),
                    plain_text],
    )
    submit = SubmitField(_l("Lagre endringene"))

    def validate_org_number(self, field):
        number = clean_org_number(field.data)
        if number and not is_valid_org_number(number):
            raise ValidationError(
                _("Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))
        field.data = number

    def fill_from(self, registration: Registration) -> None:
        """A GET shows the registration as it stands."""
        self.name.data = registration.name
        self.job_title.data = registration.job_title
        self.organisation.data = registration.organisation.name
        self.sector.data = registration.organisation.sector.value
        self.org_number.data = registration.organisation.org_number or ""
        self.needs.data = registration.needs

    def to_details(self) -> Details:
        return Details(name=self.name.data, job_title=self.job_title.data or "",
                       organisation_name=self.organisation.data, sector=Sector(self.sector.data),
                       org_number=self.org_number.data or None, needs=self.needs.data or "")


class CancelForm(FlaskForm):
    """Cancel my registration: the button on the confirmation page."""

    submit = SubmitField(_l("Ja, meld meg av"))


class RegisterAgainForm(FlaskForm):
    """Register again after cancelling (one button on the manage page)."""

    submit = SubmitField(_l("Meld meg på igjen"))
