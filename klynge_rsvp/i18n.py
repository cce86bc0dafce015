"""Languages: Bokmål first, Nynorsk and English (Flask-Babel).

The language is chosen by, in order: the visitor's own choice (a cookie set by the language
switcher), the browser's Accept-Language, Bokmål. The catalogues (translations/*/LC_MESSAGES/
messages.po) are compiled to .mo when the app starts if they are missing or older than the .po,
so no generated file is kept in git.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import flask_wtf.i18n
from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, redirect, request
from flask_babel import Babel, get_locale
from wtforms.i18n import messages_path

from .redirects import same_site_path

LANGUAGES = {"nb": "Norsk (bokmål)", "nn": "Norsk (nynorsk)", "en": "English"}
DEFAULT_LANGUAGE = "nb"
COOKIE = "sprak"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

# Accept-Language tags that mean one of ours: "no" and "nb-NO" are Bokmål; "nn-NO" Nynorsk.
_ALIASES = {"no": "nb", "nb": "nb", "nn": "nn", "en": "en"}

babel = Babel()


def language_from(accept_language, cookie: str | None) -> str:
    """The language to use for a request: the visitor's choice, their browser's, or Bokmål."""
    if cookie in LANGUAGES:
        return cookie
    for tag, _quality in accept_language:  # already sorted by quality
        primary = tag.lower().replace("_", "-").split("-")[0]
        if primary in _ALIASES:
            return _ALIASES[primary]
    return DEFAULT_LANGUAGE


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    if not request:
        return DEFAULT_LANGUAGE
    return language_from(request.accept_languages, request.cookies.get(COOKIE))


def current_language() -> str:
    """The language of the current request (or of a force_locale block)."""
    locale = get_locale()
    return str(locale.language) if locale else DEFAULT_LANGUAGE


def compile_catalogues(directory: Path = TRANSLATIONS) -> None:
    """Compile each messages.po to messages.mo when the .mo is missing or older."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parent.parent.name)
        # A temporary file of this process's own, renamed over the .mo (atomic: no process
        # reads half a file), so that processes starting together (gunicorn's workers, the
        # test processes) each write their own copy and the last rename wins.
        with tempfile.NamedTemporaryFile(dir=mo_path.parent, prefix="messages.", suffix=".mo.tmp",
                                         delete=False) as mo_file:
            temporary = Path(mo_file.name)
            try:
                write_mo(mo_file, catalogue)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        temporary.replace(mo_path)


@functools.lru_cache(maxsize=8)
def _wtforms_catalogue(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


def wtforms_translations() -> support.Translations | None:
    """WTForms' own messages in the current language, read from disk once per process.

    Flask-WTF reads and parses wtforms.mo again for every request that builds a form (about a
    millisecond, twice per registration); this replaces its loader (flask_wtf.i18n's
    `_get_translations`) with one that keeps each language's catalogue.
    """
    if not request or "babel" not in current_app.extensions:
        return None
    return _wtforms_catalogue(str(get_locale()))


def init_app(app: Flask) -> None:
    """Babel, the language switcher and the template globals."""
    compile_catalogues()
    flask_wtf.i18n._get_translations = wtforms_translations  # see its docstring
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    app.add_template_global(current_language)
    app.add_template_global(LANGUAGES, "languages")

    # A plain link (GET): choosing a language changes nothing but this visitor's preference.
    @app.get("/sprak/<language>")
    def choose_language(language):
        """Remember the visitor's language and go back to where they were."""
        response = redirect(same_site_path(request.args.get("tilbake"), "/"), 303)
        if language in LANGUAGES:
            response.set_cookie(COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax",
                                secure=app.config["SESSION_COOKIE_SECURE"], httponly=True)
        return response
