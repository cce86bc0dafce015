"""Whether a new password is good enough: long enough, and not easy to guess.

Guessability is zxcvbn's estimate (the maintained Python port of Dropbox's estimator): common
passwords, words, names, keyboard patterns, repeats, sequences, dates and years, with l33t
substitutions. Its word lists are English, so the words people here reach for first (the
network's name, Bergen, beredskap, passord…) and the person's own name and address are added
as "user inputs": a password built on them counts as easy to guess. zxcvbn's advice is in
English; it is said again here in the reader's language.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

# Norwegian words, and words of this service, that a guesser would try first: the network's
# founders by name first.
LOCAL_WORDS = (
    "bergen kommune", "universitetet i bergen", "bergen næringsråd", "uib", "bergen.kommune",
    "passord", "passordet", "hemmelig", "hemmeleg", "hemmelighet", "beredskap", "beredskapen",
    "beredskapsklyngen", "beredskapsklynge", "klynge", "klyngen", "bergen", "kommune",
    "kommunen", "universitet", "universitetet", "næringsråd", "naeringsrad", "arrangør",
    "arrangor", "admin", "administrator", "norge", "noreg", "vestland", "hordaland", "velkommen",
    "sommer", "sumar", "vinter", "høst", "haust", "vår", "januar", "februar", "mars", "april",
    "mai", "juni", "juli", "august", "september", "oktober", "november", "desember", "krise",
    "kriseledelse", "samfunnssikkerhet", "brann", "politi", "sivilforsvaret", "fjell", "fjord",
    "ulriken", "fløyen", "bryggen",
)

# zxcvbn's advice, word for word as it gives it, in our words (nn and en in the catalogues).
# tests/test_passwords.py checks that every text zxcvbn can give is here.
ADVICE = {
    "Use a few words, avoid common phrases.": _l("Bruk noen ord, og unngå vanlige uttrykk."),
    "No need for symbols, digits, or uppercase letters.":
        _l("Du trenger ikke symboler, sifre eller store bokstaver."),
    "Add another word or two. Uncommon words are better.":
        _l("Legg til ett eller to ord til. Uvanlige ord er best."),
    "Straight rows of keys are easy to guess.": _l("Rette rekker av taster er lette å gjette."),
    "Short keyboard patterns are easy to guess.":
        _l("Korte mønstre på tastaturet er lette å gjette."),
    "Use a longer keyboard pattern with more turns.":
        _l("Bruk et lengre mønster på tastaturet, med flere svinger."),
    'Repeats like "aaa" are easy to guess.': _l("Gjentakelser som «aaa» er lette å gjette."),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        _l("Gjentakelser som «abcabcabc» er bare litt vanskeligere å gjette enn «abc»."),
    "Avoid repeated words and characters.": _l("Unngå ord og tegn som gjentas."),
    'Sequences like "abc" or "6543" are easy to guess.':
        _l("Rekkefølger som «abc» eller «6543» er lette å gjette."),
    "Avoid sequences.": _l("Unngå rekkefølger."),
    "Recent years are easy to guess.": _l("Årstall fra de siste årene er lette å gjette."),
    "Avoid recent years.": _l("Unngå årstall fra de siste årene."),
    "Avoid years that are associated with you.": _l("Unngå årstall som har med deg å gjøre."),
    "Dates are often easy to guess.": _l("Datoer er ofte lette å gjette."),
    "Avoid dates and years that are associated with you.":
        _l("Unngå datoer og årstall som har med deg å gjøre."),
    "This is a top-10 common password.": _l("Dette er et av de ti vanligste passordene."),
    "This is a top-100 common password.": _l("Dette er et av de hundre vanligste passordene."),
    "This is a very common password.": _l("Dette er et svært vanlig passord."),
    "This is similar to a commonly used password.": _l("Dette ligner på et vanlig passord."),
    "A word by itself is easy to guess.": _l("Et ord alene er lett å gjette."),
    "Names and surnames by themselves are easy to guess.":
        _l("Fornavn og etternavn alene er lette å gjette."),
    "Common names and surnames are easy to guess.":
        _l("Vanlige fornavn og etternavn er lette å gjette."),
    "Capitalization doesn't help very much.": _l("Store bokstaver hjelper lite."),
    "All-uppercase is almost as easy to guess as all-lowercase.":
        _l("Bare store bokstaver er nesten like lett å gjette som bare små."),
    "Reversed words aren't much harder to guess.":
        _l("Ord skrevet baklengs er ikke mye vanskeligere å gjette."),
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        _l("Forutsigbare bytter, som «@» i stedet for «a», hjelper lite."),
}

# zxcvbn keeps the user inputs of the current check in a module-level dictionary, so two checks
# at once (a threaded server) must take turns.
_zxcvbn_lock = threading.Lock()
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def context_words(texts: Iterable[str]) -> list[str]:
    """The words in a person's name, address and the like, for zxcvbn's user inputs."""
    words: list[str] = []
    for text in texts:
        text = (text or "").strip().lower()
        if not text:
            continue
        words.append(text)
        words.append(text.replace(" ", ""))
        words.extend(w for w in _WORD.findall(text) if len(w) >= 3)
    return list(dict.fromkeys(words))


def problem(password: str, *, min_length: int, min_score: int,
            context: Iterable[str] = ()) -> str | None:
    """Why `password` will not do, as one message a person can act on; None if it will."""
    if len(password) < min_length:
        return _("Passordet må ha minst %(minimum)s tegn.", minimum=min_length)
    if not password.strip():
        return _("Passordet kan ikke bare være mellomrom.")
    user_inputs = context_words([*context, *LOCAL_WORDS])
    with _zxcvbn_lock:
        result = zxcvbn(password, user_inputs=user_inputs)
    if result["score"] >= min_score:
        return None
    sentences = [_("Passordet er for lett å gjette.")]
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        sentences.append(_("Unngå navnet ditt, e-postadressen din og ord som har med oss å gjøre, "
                           "som «beredskap», «Bergen» eller «passord»."))
    feedback = result["feedback"]
    for text in [feedback["warning"], *feedback["suggestions"]]:
        if text and text in ADVICE:
            sentences.append(str(ADVICE[text]))
    if len(sentences) == 1:
        sentences.append(str(ADVICE["Add another word or two. Uncommon words are better."]))
    return " ".join(dict.fromkeys(sentences))
