"""The registration form."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import addresses, calendars
from ..models import Sector
from ..organisations import SECTOR_LABELS, clean_org_number, is_valid_org_number
from ..rsvp import Person, RegistrationRequest

MAX_COLLEAGUES = 20
# Characters that have no business in a name or title, and that could split a mail header
# or a calendar line: C0/C1 controls (CR and LF among them) and the Unicode line separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Characters that show nothing but change what is shown: the bidi controls (U+202A–U+202E,
# U+2066–U+2069, U+200E/U+200F, U+061C) that make "Kari" read as another name in organiser pages
# and exports, and the other invisible format characters (category Cf: U+200B zero-width space,
# U+2060, U+FEFF, U+00AD …), private-use characters and the blank "letters" used to fake an
# empty name (Hangul fillers, the blank Braille pattern).
_INVISIBLE_CATEGORIES = {"Cf", "Co"}
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
# Joiners are part of how some languages are written: U+200D inside an emoji sequence (👩‍🚒), and
# U+200C/U+200D between two letters of a script that shapes with them (Persian names take
# U+200C). Kept there only: between Latin letters or at either end they only hide something.
_ZERO_WIDTH_JOINERS = {"\u200c", "\u200d"}
_JOINING_SCRIPTS = {"ARABIC", "SYRIAC", "NKO", "MONGOLIAN", "DEVANAGARI", "BENGALI", "GURMUKHI",
                    "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM", "SINHALA"}
_EMOJI_MODIFIERS = re.compile("[\ufe0f\U0001f3fb-\U0001f3ff]")

SECTOR_CHOICES = [SelectChoice(sector.value, label) for sector, label in SECTOR_LABELS.items()]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _normalise_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else value


def single_line(form, field):
    """Refuse line breaks and control characters in one-line fields."""
    if field.data and _CONTROL.search(field.data):
        raise ValidationError(_("Feltet kan ikke inneholde linjeskift eller kontrolltegn."))


def invisible_characters(text: str) -> list[str]:
    """The invisible and direction-changing characters in `text` (joiners where a script or an
    emoji sequence needs them excepted), as U+XXXX."""
    found = []
    for index, character in enumerate(text):
        if character in _ZERO_WIDTH_JOINERS and _joins(text, index):
            continue
        if unicodedata.category(character) in _INVISIBLE_CATEGORIES or character in _BLANK_LETTERS:
            found.append(f"U+{ord(character):04X}")
    return found


def _joins(text: str, index: int) -> bool:
    before = _EMOJI_MODIFIERS.sub("", text[:index])[-1:]
    after = text[index + 1:index + 2]
    if not before or not after:
        return False
    if text[index] == "\u200d" and unicodedata.category(before) == unicodedata.category(after) == "So":
        return True
    scripts = {unicodedata.name(character, "").split(" ")[0] for character in (before, after)}
    return len(scripts) == 1 and scripts <= _JOINING_SCRIPTS


def no_invisible_characters(form, field):
    """Refuse invisible characters and direction controls in names, titles and organisations:
    they can make one name look like another (U+202E turns "Kari" around) and hide in exports."""
    if isinstance(field.data, str) and (found := invisible_characters(field.data)):
        raise ValidationError(_(
            "Teksten inneholder usynlige tegn eller tegn som snur skriveretningen (%(characters)s), "
            "ofte fra kopiering. Skriv den inn på nytt for hånd, uten dem.",
            characters=", ".join(dict.fromkeys(found))))


def plain_text(form, field):
    """Refuse control characters (other than line breaks and tabs) in free text."""
    if field.data and _TEXT_CONTROL.search(field.data):
        raise ValidationError(_("Teksten inneholder tegn som ikke kan lagres."))


def mail_address(form, field):
    """An address mail can be delivered to: checked with email-validator, written as people
    read it (the domain in Unicode, lower case). A non-ASCII part before the @ is refused with
    its reason: only relays with SMTPUTF8 can deliver to it, and ours may not."""
    if not field.data:
        return
    try:
        checked = addresses.check(field.data)
    except addresses.AddressError as error:
        if addresses.has_non_ascii_local_part(field.data) and "@" in field.data:
            raise ValidationError(_(
                "Adressen har tegn som æ, ø eller å foran @. Mange e-postservere kan ikke levere "
                "til slike adresser, så vi kan ikke bruke den. Bruk gjerne en annen adresse du "
                "har, for eksempel med oe og aa i stedet.")) from error
        raise ValidationError(
            _("Skriv inn en gyldig e-postadresse, for eksempel navn@virksomhet.no.")) from error
    field.data = checked.normalized


def not_the_organisers(form, field):
    """A registrant's address must not be the one the invitations come from: calendar programs
    would take the invitation for the person's own meeting (ORGANIZER = ATTENDEE)."""
    if field.data and addresses.key(field.data) == addresses.key(calendars.organizer()[1]):
        raise ValidationError(_("Dette er adressen invitasjonene sendes fra. Skriv inn din egen "
                                "e-postadresse."))


def _email_validators(required: bool):
    presence = DataRequired(_l("Skriv inn e-postadressen.")) if required else Optional()
    return [
        presence,
        Length(max=254, message=_l("E-postadressen er for lang.")),
        mail_address,
        single_line,
        not_the_organisers,
    ]


class ColleagueForm(Form):
    """One colleague registered along with the person filling in the form."""

    name = StringField(_l("Navn"), filters=[_strip],
                       validators=[Optional(), Length(max=200, message=_l("Navnet er for langt.")),
                                   single_line, no_invisible_characters],
                       render_kw={"autocomplete": "off"})
    email = StringField(_l("E-post"), filters=[_strip], validators=_email_validators(False),
                        render_kw={"autocomplete": "off", "type": "email"})
    job_title = StringField(_l("Stilling"), filters=[_strip],
                            validators=[Optional(), Length(max=200, message=_l("Stillingen er for lang.")),
                                        single_line, no_invisible_characters],
                            render_kw={"autocomplete": "off"})

    needs = TextAreaField(
        _l("Behov for tilrettelegging eller hensyn til kosthold (valgfritt)"),
        filters=[_normalise_newlines],
        validators=[Optional(), Length(max=1000, message=_l("Teksten kan være høyst 1000 tegn.")),
                    plain_text],
    )
    # How the error summary names a field of this row: "Kollega 2: E-post: …".
    row_label = _l("Kollega %(number)s")

    def is_blank(self) -> bool:
        return not (self.name.data or self.email.data or self.job_title.data or self.needs.data)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not self.name.data:
            self.name.errors = [*self.name.errors, _("Skriv inn navnet til kollegaen.")]
            ok = False
        if not self.email.data:
            self.email.errors = [*self.email.errors, _("Skriv inn e-postadressen til kollegaen.")]
            ok = False
        return ok


class RegistrationForm(FlaskForm):
    """Register for a gathering: yourself, and optionally colleagues."""

    name = StringField(
        _l("Navn"), filters=[_strip],
        validators=[DataRequired(_l("Skriv inn navnet ditt.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "name"},
    )
    email = StringField(_l("E-post"), filters=[_strip], validators=_email_validators(True),
                        render_kw={"autocomplete": "email", "type": "email"})
    job_title = StringField(
        _l("Stilling"), filters=[_strip],
        validators=[Optional(), Length(max=200, message=_l("Stillingen kan være høyst 200 tegn.")),
                    single_line, no_invisible_characters],
        render_kw={"autocomplete": "organization-title"},
    )
    needs = TextAreaField(
        _l("Behov for tilrettelegging eller hensyn til kosthold (valgfritt)"),
        filters=[_normalise_newlines],
        validators=[Optional(), Length(max=1000, message=_l("Teksten kan være høyst 1000 tegn.")),
                    plain_text],
    )
    organisation = StringField(
        _l("Virksomhet eller organisasjon"), filters=[_strip],
        validators=[DataRequired(_l("Skriv inn hvilken virksomhet du kommer fra.")),
                    Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
                    no_invisible_characters],
        render_kw={"autocomplete": "organization"},
    )
    sector = RadioField(_l("Sektor"), choices=SECTOR_CHOICES,
                        validators=[InputRequired(_l("Velg hvilken sektor virksomheten hører til."))])
    org_number = StringField(
        _l("Organisasjonsnummer (valgfritt)"), filters=[_strip],
        validators=[Optional(), Length(max=20, message=_l("Organisasjonsnummeret er for langt."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    colleagues = FieldList(FormField(ColleagueForm), min_entries=0, max_entries=MAX_COLLEAGUES)
    comment = TextAreaField(
        _l("Kommentar til arrangøren (valgfritt)"), filters=[_normalise_newlines],
        validators=[Optional(), Length(max=2000, message=_l("Teksten kan være høyst 2000 tegn.")),
                    plain_text],
    )
    consent = BooleanField(
        _l("Jeg samtykker til at opplysningene lagres slik det er beskrevet over."),
        validators=[DataRequired(_l("Du må samtykke for å melde deg på."))],
    )
    add_colleague = SubmitField(_l("Legg til en kollega"))
    # The row a "Fjern" button names (its value is the row's index); no validation runs.
    remove_colleague = StringField()
    submit = SubmitField(_l("Meld meg på"))

    def validate_org_number(self, field):
        number = clean_org_number(field.data)
        if number and not is_valid_org_number(number):
            raise ValidationError(
                _("Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))
        field.data = number

    def colleague_to_remove(self) -> int | None:
        """The index of the colleague row whose "Fjern" button was pressed, if one was."""
        value = (self.remove_colleague.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 4 else None

    def remove_colleague_row(self, index: int) -> int | None:
        """Take out the row with that index, keeping what was typed in the others; returns the
        index of the row now in its place (None: it was the last)."""
        rows = self.colleagues.entries
        position = next((n for n, entry in enumerate(rows)
                         if entry.name == f"{self.colleagues.name}-{index}"), None)
        if position is None:
            return None
        rows.pop(position)
        return int(rows[position].name.rsplit("-", 1)[1]) if position < len(rows) else None

    def filled_colleagues(self) -> list[ColleagueForm]:
        return [entry.form for entry in self.colleagues if not entry.form.is_blank()]

    def to_request(self, language: str = "nb") -> RegistrationRequest:
        """The form as a request for the rsvp service."""
        return RegistrationRequest(
            person=Person(self.name.data, self.email.data, self.job_title.data or "",
                          needs=self.needs.data or ""),
            organisation_name=self.organisation.data,
            sector=Sector(self.sector.data),
            org_number=self.org_number.data or None,
            comment=self.comment.data or "",
            consent=bool(self.consent.data),
            colleagues=[Person(c.name.data, c.email.data, c.job_title.data or "",
                               needs=c.needs.data or "")
                        for c in self.filled_colleagues()],
            language=language,
        )
