"""Forms for organisers acting on registrations."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..fields import no_invisible_characters, single_line, strip
from ..public.forms import RegistrationForm


class OnBehalfForm(RegistrationForm):
    """The public registration form, worded for an organiser registering someone else."""

    name = StringField(
        _l("Navn"), filters=[strip],
        validators=[DataRequired(_l("Skriv inn navnet.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "off"},
    )
    organisation = StringField(
        _l("Virksomhet eller organisasjon"), filters=[strip],
        validators=[DataRequired(_l("Skriv inn hvilken virksomhet personen kommer fra.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "off"},
    )
    consent = BooleanField(
        _l("Personen har sagt ja til at opplysningene lagres, slik personvernerklæringen beskriver."),
        validators=[DataRequired(_l("Bekreft at personen har sagt ja til at opplysningene lagres."))],
    )
    submit = SubmitField(_l("Meld på"))


class CancelRegistrationForm(FlaskForm):
    """Cancel someone's registration, after seeing who it is."""

    note = StringField(_l("Begrunnelse (valgfritt, vises bare for arrangørene)"), filters=[strip],
                       validators=[Optional(), Length(max=300, message=_l("Høyst 300 tegn.")), single_line])
    submit = SubmitField(_l("Ja, meld av"))
