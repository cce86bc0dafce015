"""Forms for organisers acting on registrations."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from .. import person_fields
from ..fields import single_line, strip
from ..manage.forms import DetailsForm
from ..public.forms import RegistrationForm, email_validators, mode_field


class OnBehalfForm(RegistrationForm):
    """The public registration form, worded for an organiser registering someone else."""

    name = person_fields.name(_l("Skriv inn navnet."), autocomplete="off")
    organisation = person_fields.organisation(
        _l("Skriv inn hvilken virksomhet personen kommer fra."), autocomplete="off")
    consent = BooleanField(
        _l("Personen har sagt ja til at opplysningene lagres, slik personvernerklæringen beskriver."),
        validators=[DataRequired(_l("Bekreft at personen har sagt ja til at opplysningene lagres."))],
    )
    submit = SubmitField(_l("Meld på"))
    mode = mode_field(_l("Hvordan deltar personen?"))


class CancelRegistrationForm(FlaskForm):
    """Cancel someone's registration, after seeing who it is."""

    note = StringField(_l("Begrunnelse (valgfritt, vises bare for arrangørene)"), filters=[strip],
                       validators=[Optional(), Length(max=300, message=_l("Høyst 300 tegn.")), single_line])
    submit = SubmitField(_l("Ja, meld av"))


class EditRegistrationForm(DetailsForm):
    """An organiser changes the same fields as the person can, and may correct the address."""

    name = person_fields.name(_l("Skriv inn navnet."), autocomplete="off")
    email = StringField(_l("E-post"), filters=[strip], validators=email_validators(True),
                        render_kw={"autocomplete": "off", "type": "email"})
    organisation = person_fields.organisation(
        _l("Skriv inn hvilken virksomhet personen kommer fra."), autocomplete="off")
    submit = SubmitField(_l("Lagre"))

    def fill_from(self, registration) -> None:
        super().fill_from(registration)
        self.email.data = registration.email
