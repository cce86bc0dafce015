"""What the forms share: filters that tidy what was typed, and validators that refuse what
cannot be stored or shown safely (line breaks in one-line fields, control characters, invisible
characters that change how a name reads, an address mail cannot be delivered to).

Used by the public forms and the organisers' forms alike.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from wtforms.validators import ValidationError

from . import addresses

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


def strip(value):
    """A form filter: surrounding white space off a text."""
    return value.strip() if isinstance(value, str) else value


def normalise_newlines(value):
    """A form filter: every line break written as \\n, surrounding white space off."""
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
