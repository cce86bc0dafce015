"""Every word a person reads goes through the translation system, and every catalogue is
complete: a template with bare text, or a message without a Nynorsk or English translation,
fails here."""

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from klynge_rsvp import PROJECT_ROOT
from klynge_rsvp.i18n import TRANSLATIONS

TEMPLATES = PROJECT_ROOT / "templates"
# Visible attribute values: text a person reads or a screen reader speaks.
_VISIBLE_ATTRIBUTE = re.compile(
    r"""\b(?:alt|title|aria-label|placeholder|aria-description)\s*=\s*(["'])([^"']*)\1""",
    re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.DOTALL | re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
# A {% trans %} block is translated as a whole: its inside is not bare text.
_TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.DOTALL)


def template_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".txt"})


def bare_text(source: str) -> list[str]:
    """Pieces of text outside Jinja tags and expressions that contain letters."""
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # lexing only
    source = _TRANS_BLOCK.sub("", source)
    data = "".join(value for _line, kind, value in environment.lex(source) if kind == "data")
    data = _BLOCK.sub(" ", _COMMENT.sub(" ", data))
    found = [value for _quote, value in _VISIBLE_ATTRIBUTE.findall(data)
             if _LETTER.search(unescape(value))]
    for piece in _TAG.sub("\n", data).splitlines():
        piece = unescape(piece).strip()
        if _LETTER.search(piece):
            found.append(piece)
    return found


def test_there_are_templates():
    assert len(template_files()) > 50


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_has_no_text_outside_the_translation_system(path):
    assert bare_text(path.read_text(encoding="utf-8")) == []


def test_the_checker_finds_bare_text():
    assert bare_text("<p>Hei {{ name }}</p>") == ["Hei"]
    assert bare_text('<img alt="Et bilde" src="x.png">') == ["Et bilde"]
    assert bare_text("<p>{{ _('Hei') }} {{ name }}</p>") == []
    assert bare_text("{% trans %}Hei{% endtrans %}") == []
    assert bare_text("<p>· – 08.00</p>") == []


def catalogue(language: str):
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po_file:
        return read_po(po_file, locale=language)


@pytest.mark.parametrize("language", ["nn", "en"])
def test_catalogue_is_complete(language):
    messages = [m for m in catalogue(language) if m.id]
    assert len(messages) > 100
    missing = [m.id for m in messages
               if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert missing == []
    assert fuzzy == []


def test_catalogues_hold_every_message_in_the_code():
    """The .po files were updated after the last change to a translatable string."""
    from babel.messages.extract import extract_from_dir

    mapping = [("klynge_rsvp/**.py", "python"), ("templates/**.html", "jinja2"),
               ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                "lazy_gettext": None, "lazy_ngettext": (1, 2), "_n": (1, 2)}
    in_code = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
            str(PROJECT_ROOT), method_map=mapping, keywords=keywords,
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"},
                         "templates/**.txt": {"extensions": "jinja2.ext.i18n"}}):
        in_code.add(message if isinstance(message, str) else message[0])
    for language in ("nb", "nn", "en"):
        in_catalogue = {m.id if isinstance(m.id, str) else m.id[0]
                        for m in catalogue(language) if m.id}
        assert sorted(in_code - in_catalogue) == [], language
