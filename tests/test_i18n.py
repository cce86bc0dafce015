"""Choosing the language: the visitor's choice, then the browser's, then Bokmål."""

import sys

import pytest
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from klynge_rsvp.extensions import db
from klynge_rsvp.i18n import language_from, wtforms_translations


def accept(header: str) -> LanguageAccept:
    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize(("header", "cookie", "expected"), [
    ("no", None, "nb"),                       # "no" means Bokmål
    ("nb-NO,nb;q=0.9", None, "nb"),
    ("nn-NO", None, "nn"),
    ("en-GB,en;q=0.8", None, "en"),
    ("de-DE,de;q=0.9", None, "nb"),           # unknown: Bokmål
    ("de-DE,en;q=0.5,nn;q=0.7", None, "nn"),  # the best one we have, by quality
    ("", None, "nb"),
    ("en", "nn", "nn"),                       # the visitor's own choice wins
    ("en", "klingon", "en"),                  # a cookie we do not know is ignored
])
def test_language_from(header, cookie, expected):
    assert language_from(accept(header), cookie) == expected


def test_switcher_remembers_and_goes_back_within_the_site(client):
    response = client.get("/sprak/nn?tilbake=/arkiv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/arkiv"
    assert "sprak=nn" in response.headers["Set-Cookie"]
    evil = client.get("/sprak/en?tilbake=//evil.example/")
    assert evil.headers["Location"] == "/"
    unknown = client.get("/sprak/xx?tilbake=/")
    assert "Set-Cookie" not in unknown.headers


def test_wtforms_own_messages_are_read_from_disk_once_per_language(app, make_gathering):
    """Flask-WTF parsed wtforms.mo again for every request that built a form (twice per
    registration); the catalogue is now kept per language, and still follows the visitor's."""
    with app.app_context():
        slug = make_gathering().slug
        db.session.commit()
    opened: list[str] = []
    watching = [True]

    def watch(event, args):
        if watching[0] and event == "open" and str(args[0]).endswith("wtforms.mo"):
            opened.append(str(args[0]))

    sys.addaudithook(watch)  # a hook can't be removed: it stops watching instead
    try:
        for language in ("nb", "en", "nb", "en", "nb", "en"):
            client = app.test_client()
            client.set_cookie("sprak", language)
            assert client.get(f"/samlinger/{slug}").status_code == 200
        with app.test_request_context(headers={"Cookie": "sprak=en"}):
            assert wtforms_translations().gettext("Not a valid choice.") == "Not a valid choice."
        with app.test_request_context(headers={"Cookie": "sprak=nb"}):
            assert wtforms_translations().gettext("Not a valid choice.") != "Not a valid choice."
    finally:
        watching[0] = False
    assert len(opened) <= 2, opened  # at most once per language, in this whole process


def test_processes_starting_together_compile_the_catalogues_without_failing(tmp_path):
    """gunicorn's workers, or the test processes of a fresh checkout, start together and each
    finds the .mo files missing: every one compiles them, none fails, and each .mo is whole.
    (One shared temporary name made all but one fail with FileNotFoundError.)"""
    import os
    import shutil
    import threading

    from babel.support import Translations

    from klynge_rsvp.i18n import TRANSLATIONS, compile_catalogues

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        target = tmp_path / po.relative_to(TRANSLATIONS)
        target.parent.mkdir(parents=True)
        shutil.copyfile(po, target)
    failures = []
    for _round in range(5):
        for mo in tmp_path.glob("*/LC_MESSAGES/messages.mo"):
            mo.unlink()
        start = threading.Barrier(6)

        def starting(start=start):
            start.wait()
            try:
                compile_catalogues(tmp_path)
            except Exception as failure:  # any failure is the finding
                failures.append(failure)

        workers = [threading.Thread(target=starting) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert failures == []
    assert sorted(os.listdir(tmp_path / "nn" / "LC_MESSAGES")) == ["messages.mo", "messages.po"]
    english = Translations.load(str(tmp_path), ["en"])
    assert english.gettext("Digitalt") == "Online"
