"""A participant's emails come in the language they registered in, whoever caused them.

The organiser's request (here inside force_locale("nb")) moves or postpones the gathering; the
English and Nynorsk registrants still get their notice, subject, dates and calendar words in
their own language. Expected texts are looked up with gettext in the registrant's language, so
they hold with or without catalogues; the tests marked `needs_catalogues` also check that the
text really is translated (not Bokmål), and run once the catalogues exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, gettext

from klynge_rsvp import lifecycle, notifications, rsvp
from klynge_rsvp.i18n import TRANSLATIONS, current_language
from klynge_rsvp.models import Announcement, Audience, Subscriber
from klynge_rsvp.notifications.message import in_language, mail_language, to_registrant
from tests.conftest import NOW, registration_request
from tests.lifecycle_helpers import html_body, organiser, parse, queued, read_invite, text_body

TITLE = "Frokostmøte om beredskap"
START = datetime(2026, 2, 13, 7, 0, tzinfo=UTC)  # Friday 08.00 in Oslo (winter time)
NEW_START = datetime(2026, 2, 20, 7, 0, tzinfo=UTC)  # a week later, same hours

# How formatting.when writes the new time in each language (the dates need no catalogue).
NEW_WHEN = {
    "nb": "fredag 20. februar 2026 kl. 08.00–10.00",
    "nn": "fredag 20. februar 2026 kl. 08.00–10.00",
    "en": "Friday 20 February 2026, 08:00–10:00",
}
OLD_WHEN = {
    "nb": "fredag 13. februar 2026 kl. 08.00–10.00",
    "nn": "fredag 13. februar 2026 kl. 08.00–10.00",
    "en": "Friday 13 February 2026, 08:00–10:00",
}

needs_catalogues = pytest.mark.skipif(
    not all((TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").exists()
            for language in ("en", "nn")),
    reason="catalogues are generated after marking")


def said(language: str, message: str, **values) -> str:
    """`message` as gettext gives it in `language` (Bokmål itself when there is no catalogue)."""
    with force_locale(language):
        return gettext(message, **values)


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]*)"', html).group(1)


def register(gathering, n: int, language: str):
    """Person n registers while browsing in `language` (their registration keeps it)."""
    with force_locale(language):
        [outcome] = rsvp.register(gathering, registration_request(n, language=language), now=NOW)
    return outcome.registration


def mail_to(registration, kind: str):
    [row] = [row for row in queued(kind=kind) if row.registration_id == registration.id]
    return parse(row.message)


def summary(message) -> str:
    """The SUMMARY of the mail's calendar part."""
    invite = read_invite(message)
    assert invite is not None
    return invite.summary


@pytest.fixture
def story(ctx, make_gathering):
    """An English, a Nynorsk and a Bokmål registrant; then a Bokmål-speaking organiser moves the
    gathering a week on and, later, postpones it."""
    gathering = make_gathering(title=TITLE, starts_at=START, ends_at=START + timedelta(hours=2))
    people = {language: register(gathering, n, language)
              for n, language in enumerate(("en", "nn", "nb"), start=1)}
    mails = {language: {"confirmation": mail_to(registration, "confirmation")}
             for language, registration in people.items()}
    by = organiser()
    with force_locale("nb"):
        lifecycle.move(gathering, starts_at=NEW_START, ends_at=NEW_START + timedelta(hours=2),
                       venue_name=gathering.venue_name, venue_address=gathering.venue_address,
                       message="", now=NOW, by=by)
        lifecycle.postpone(gathering, message="", now=NOW, by=by)
        assert current_language() == "nb"  # the organiser's own language is left as it was
    for language, registration in people.items():
        mails[language]["moved"] = mail_to(registration, "gathering_moved")
        mails[language]["postponed"] = mail_to(registration, "gathering_postponed")
    return mails


# --- what holds with or without catalogues ----------------------------------------------


@pytest.mark.parametrize("language", ["en", "nn", "nb"])
def test_each_mail_is_composed_in_the_registrants_language(story, language):
    confirmation, moved, postponed = (story[language][kind]
                                      for kind in ("confirmation", "moved", "postponed"))
    for message in (confirmation, moved, postponed):
        assert html_lang(html_body(message)) == language

    assert confirmation["Subject"] == said(language, "Påmeldt: %(title)s", title=TITLE)
    assert said(language, "Du er påmeldt og har fått plass.") in text_body(confirmation)
    assert OLD_WHEN[language] in text_body(confirmation)

    assert moved["Subject"] == said(language, "Ny tid: %(title)s", title=TITLE)
    text = text_body(moved)
    # Before and now, both in the registrant's words (the organiser's request wrote Bokmål).
    assert f"{said(language, 'Før:')} {OLD_WHEN[language]}" in text
    assert f"{said(language, 'Nå:')}  {NEW_WHEN[language]}" in text
    assert said(language, "Slik er det nå:") in text
    assert summary(moved) == TITLE  # moved: the entry keeps its title

    assert postponed["Subject"] == said(language, "Utsatt: %(title)s", title=TITLE)
    assert summary(postponed) == said(language, "Utsatt: %(title)s", title=TITLE)
    assert NEW_WHEN[language] in text_body(postponed)  # "… som skulle vært <date> …"


def test_no_norwegian_date_is_left_in_english_mail(story):
    for message in story["en"].values():
        english = text_body(message) + html_body(message)
        assert "fredag" not in english and "februar" not in english and " kl. " not in english
    assert "Friday 13 February 2026, 08:00–10:00" in text_body(story["en"]["confirmation"])


def test_an_unknown_language_is_bokmal(ctx, make_gathering):
    gathering = make_gathering(title=TITLE, starts_at=START, ends_at=START + timedelta(hours=2))
    registration = register(gathering, 1, "nb")
    registration.language = "de"
    assert mail_language("de") == mail_language(None) == "nb"
    with force_locale("en"):
        mail = notifications.compose_confirmation(registration, now=NOW)
    message = parse(mail.message)
    assert html_lang(html_body(message)) == "nb"
    assert OLD_WHEN["nb"] in text_body(message)


def test_a_bokmal_registrant_gets_bokmal_from_an_english_request(ctx, make_gathering):
    gathering = make_gathering(title=TITLE, starts_at=START, ends_at=START + timedelta(hours=2))
    registration = register(gathering, 1, "nb")
    with force_locale("en"):
        mail = notifications.compose_reminder(registration, now=NOW)
        assert current_language() == "en"
    message = parse(mail.message)
    assert message["Subject"] == f"Påminnelse: {TITLE} fredag 13. februar 2026"
    assert html_lang(html_body(message)) == "nb"
    assert OLD_WHEN["nb"] in text_body(message)


def test_a_mail_to_a_registrant_cannot_be_composed_outside_their_language(ctx, make_gathering):
    gathering = make_gathering(title=TITLE, starts_at=START, ends_at=START + timedelta(hours=2))
    registration = register(gathering, 1, "en")
    with pytest.raises(RuntimeError, match="in_language"):
        to_registrant("waiting_list", registration, "Venteliste", now=NOW, position=1)
    with in_language("nb"), pytest.raises(RuntimeError, match="in_language"):
        to_registrant("waiting_list", registration, "Venteliste", now=NOW, position=1)
    with in_language("en"):
        to_registrant("waiting_list", registration, "Waiting list", now=NOW, position=1)


def test_mailing_list_mail_is_bokmal_whatever_the_visitors_language(ctx, make_gathering):
    subscriber = Subscriber(email="leser@example.no", name="Leser", confirm_token="bekreft")
    with force_locale("en"):
        mail = notifications.compose_subscription_confirmation(subscriber, now=NOW)
    message = parse(mail.message)
    assert message["Subject"] == "Bekreft at du vil ha nyhetsbrevet fra Beredskapsklyngen"
    assert html_lang(html_body(message)) == "nb"


def test_an_announcement_to_a_registrant_comes_in_their_language(ctx, make_gathering):
    gathering = make_gathering(title=TITLE, starts_at=START, ends_at=START + timedelta(hours=2))
    announcement = Announcement(gathering=gathering, audience=Audience.CONFIRMED,
                                subject="Praktisk informasjon", body="Ta med legitimasjon.")
    with force_locale("nb"):
        mail = notifications.compose_announcement(
            announcement, to_name="Kari", to_email="kari@example.no", now=NOW,
            manage_url="https://rsvp.test/pamelding/x", language="en")
    message = parse(mail.message)
    assert message["Subject"] == "Praktisk informasjon"  # the organisers' words, as written
    assert html_lang(html_body(message)) == "en"
    assert OLD_WHEN["en"] in text_body(message)
    assert said("en", "Hei %(name)s,", name="Kari") in text_body(message)


# --- with the catalogues: really English and Nynorsk --------------------------------------


@needs_catalogues
@pytest.mark.parametrize("language", ["en", "nn"])
def test_the_words_are_translated(story, language):
    confirmation, moved, postponed = (story[language][kind]
                                      for kind in ("confirmation", "moved", "postponed"))
    bokmal = story["nb"]

    subjects = [confirmation["Subject"], moved["Subject"], postponed["Subject"]]
    assert subjects == [said(language, "Påmeldt: %(title)s", title=TITLE),
                        said(language, "Ny tid: %(title)s", title=TITLE),
                        said(language, "Utsatt: %(title)s", title=TITLE)]
    assert subjects != [bokmal[kind]["Subject"] for kind in ("confirmation", "moved",
                                                              "postponed")]

    differ = 0
    for message, paragraph in [
        (confirmation, "Du er påmeldt og har fått plass."),
        (moved, "Slik er det nå:"),
        (postponed, "Påmeldingen din er tatt vare på. Du trenger ikke gjøre noe nå."),
    ]:
        translated = said(language, paragraph)
        assert translated in text_body(message)
        # Nynorsk may rightly say a sentence as Bokmål does ("Du er påmeldt …").
        differ += translated != paragraph
    assert differ >= 2, f"too little of the mail is in {language}"

    assert summary(postponed) == said(language, "Utsatt: %(title)s", title=TITLE)
    assert summary(postponed) != f"Utsatt: {TITLE}"
    if language == "en":
        assert said(language, "Arrangør: %(host)s", host="Bergen kommune") != "Arrangør: Bergen kommune"
    assert NEW_WHEN[language] in text_body(moved)
    if language == "en":
        assert "Friday 20 February 2026, 08:00–10:00" in text_body(moved)
        assert "Hei " not in text_body(moved)
