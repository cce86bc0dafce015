"""Mail header fields written byte for byte (RFC 5322 folding, RFC 2047 encoded words).

Why not the email package's own writer: on Python 3.11 and 3.12, `policy.SMTP` re-folds every
header it is given. It glues an encoded word to the plain text after it
(`=?utf-8?b?w5g=?=stlandet`, which strict readers show as code), turns the space between two
words into the folding white space between two encoded words (which every decoder drops:
"sommertid – øvelse" arrives as "sommertid –øvelse"), RFC 2047-encodes a long
`List-Unsubscribe` (so Gmail cannot read its address), and, folding a long `To`, writes an
encoded display name back decoded and unquoted ("Nordmann, Kari" became two addresses).

The rules kept here, for every header the service writes:

* Plain words stay plain. A run of words that needs encoding (non-ASCII, or an ASCII word that
  could be taken for an encoded word, or one too long to fold) becomes encoded words that hold
  the spaces between those words themselves; the white space around the run is real white
  space beside plain text, which decoders keep. So no space is lost or added.
* Every encoded word is at most 75 characters, whole characters only (a UTF-8 sequence, and a
  character with its combining marks or emoji modifiers, never split between two words), and
  separated from its neighbours by folding white space.
* Q encoding uses only the characters RFC 2047 (5)(3) allows in a display name, so a decoded
  name can never carry `,`, `<` or `"` into the address list unencoded.
* Lines are folded at white space to at most 78 characters where the text allows (an address
  or a URI is never broken) and never exceed 998.
* A display name with an "@" is not written at all: a program that decodes the header before
  parsing it could see a second recipient. Nor is one with a run of words that needs more than
  one encoded word (see display_name_words).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable, Iterator
from email.utils import format_datetime

from .. import addresses
from ..names import shown_name

MAX_LINE = 78
HARD_LIMIT = 998
MAX_ENCODED_WORD = 75
_Q_PREFIX, _B_PREFIX, _SUFFIX = "=?utf-8?q?", "=?utf-8?b?", "?="

# RFC 5322 atext: what a display-name word may hold without quotes.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
# Printable ASCII: a word made of these needs no encoding (unless it could pass for one).
_PRINTABLE = re.compile(r"[!-~]+")
# Specials that, glued to a letter that needs encoding ("(Åse)"), would reach a program that
# decodes the field before parsing it unquoted, and could hide the address in a comment, a quoted
# string or a group there. A comma or a full stop only splits off a name (no address).
_BREAKS_NAIVE_PARSING = re.compile(r'[()<>\[\]"\\;:]')
# RFC 2047 (5)(3): in Q encoding, only these stand for themselves (in any header).
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_WHITESPACE = re.compile(r"[ \t]+")


class HeaderError(ValueError):
    """A header value that cannot be written (a line break, a non-ASCII URI)."""


# --- the fields --------------------------------------------------------------------------------


def unstructured(name: str, text: str) -> bytes:
    """An unstructured field such as Subject: plain words as they are, the rest encoded."""
    refuse_line_breaks(name, text)
    folder = _Folder(name)
    for separator, word, encode in _words(text, _needs_encoding):
        if encode:
            folder.add_encoded(separator, word)
        else:
            folder.add(separator, word)
    return folder.bytes()


def mailbox(name: str, display_name: str, address: str) -> bytes:
    """A field with one mailbox (From, To, Reply-To): `Display Name <address>`.

    The address is written for SMTP (addresses.for_smtp: an internationalised domain in
    punycode). The display name is left out when it is empty or holds an address.
    """
    return mailboxes(name, [(display_name, address)])


def mailboxes(name: str, people: Iterable[tuple[str, str]]) -> bytes:
    """An address-list field: each `Display Name <address>`, separated by commas."""
    folder = _Folder(name, structured=True)
    for index, (display_name, address) in enumerate(people):
        if index:
            folder.append(",")
        address = addresses.for_smtp(address)
        refuse_line_breaks(name, display_name + address)
        phrase = display_name_words(display_name)
        if not phrase:
            folder.add(" ", address)
            continue
        _add_phrase(folder, phrase)
        folder.add(" ", f"<{address}>")
    return folder.bytes()


def display_name_words(display_name: str) -> list[tuple[str, str]]:
    """The display name as (kind, text) words: "atom", "quoted" or "encoded"; [] for none.

    White space between words becomes one space (a display name is only shown; the mail's
    text greets the person by their name as typed). No display name is written when the name
    holds an "@" (it could pass for a second recipient in programs that decode before they
    parse), when a word that needs encoding also holds a special such as "(" or '"' (those
    programs would read a comment or a quoted string that swallows the address), or when a run
    of words that needs encoding does not fit one encoded word: readers
    disagree about the white space between two encoded words in a display name (Python's
    parser keeps it; RFC 2047 drops it), and no split of the run reads alike in both.
    """
    words = display_name.split()
    if not words or "@" in display_name:
        return []
    kinds = []
    for word in words:
        if _needs_encoding(word):
            kinds.append("encoded")
        elif _ATOM.fullmatch(word):
            kinds.append("atom")
        else:
            kinds.append("quoted")
    if "encoded" not in kinds:
        return [("quoted", " ".join(words))] if "quoted" in kinds else list(zip(kinds, words, strict=True))
    phrase: list[tuple[str, str]] = []
    for kind, word in zip(kinds, words, strict=True):
        if kind == "encoded" and phrase and phrase[-1][0] == "encoded":
            phrase[-1] = ("encoded", f"{phrase[-1][1]} {word}")
        else:
            phrase.append((kind, word))
    for kind, run in phrase:
        if kind != "encoded":
            continue
        pieces = _pieces(run)
        if _next_word(pieces, MAX_ENCODED_WORD)[1] < len(pieces) or _BREAKS_NAIVE_PARSING.search(run):
            return []
    return phrase


def uri_list(name: str, uris: Iterable[str]) -> bytes:
    """A list of <URI> (RFC 2369: List-Unsubscribe, List-Help): ASCII, never encoded."""
    folder = _Folder(name)
    for index, uri in enumerate(uris):
        if not uri.isascii() or any(char in uri for char in " \t\r\n<>"):
            raise HeaderError(f"{name}: a URI must be ASCII without spaces or angle brackets")
        if index:
            folder.append(",")
        folder.add(" ", f"<{uri}>")
    return folder.bytes()


def list_id(description: str, identifier: str) -> bytes:
    """List-Id (RFC 2919): an optional phrase and the list's <id>."""
    folder = _Folder("List-Id", structured=True)
    refuse_line_breaks("List-Id", description + identifier)
    phrase = display_name_words(description)
    if phrase:
        _add_phrase(folder, phrase)
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+", identifier):
        raise HeaderError("List-Id: the identifier must be a dot-atom")
    folder.add(" ", f"<{identifier}>")
    return folder.bytes()


def token(name: str, value: str) -> bytes:
    """A field whose value is a short fixed ASCII text (List-Unsubscribe-Post, MIME-Version)."""
    refuse_line_breaks(name, value)
    if not re.fullmatch(r"[ -~]+", value) or len(name) + 2 + len(value) > MAX_LINE:
        raise HeaderError(f"{name}: the value must be short printable ASCII")
    return f"{name}: {value}\r\n".encode("ascii")


def message_id(value: str) -> bytes:
    """Message-ID: <left@right>, on one line (never folded or encoded)."""
    if not re.fullmatch(r"<[!-;=?-~]+@[!-;=?-~]+>", value):
        raise HeaderError(f"Message-ID: {value!r} is not <left@right>")
    return f"Message-ID: {value}\r\n".encode("ascii")


def date(when) -> bytes:
    """Date: in RFC 5322 form, with the offset of the aware datetime given."""
    return f"Date: {format_datetime(when)}\r\n".encode("ascii")


# --- words, runs and encoded words --------------------------------------------------------------


def refuse_line_breaks(name: str, value: str) -> None:
    if any(char in value for char in "\r\n\x00\u2028\u2029\x85\x0b\x0c"):
        raise HeaderError(f"a line break in the mail header {name}")


def _needs_encoding(word: str) -> bool:
    """A word that cannot be written as it is: not printable ASCII, looks like an encoded word
    (any "=?"), or too long for a line of its own."""
    return not _PRINTABLE.fullmatch(word) or "=?" in word or len(word) > MAX_LINE - 1


def _words(text: str, needs_encoding) -> Iterator[tuple[str, str, bool]]:
    """(white space before, word or encoded run, whether to encode) for `text`, trimmed.

    Words that need encoding next to each other form one run, with the white space between
    them inside it: between two encoded words white space is not text (RFC 2047 6.2), so it
    must travel inside the encoding to arrive. White space beside a plain word is kept as it
    was typed.
    """
    parts = _WHITESPACE.split(text.strip(" \t"))
    if parts == [""]:
        return
    separators = [" ", *_WHITESPACE.findall(text.strip(" \t"))]
    run: list[str] = []
    run_separator = " "
    for separator, word in zip(separators, parts, strict=True):
        if needs_encoding(word):
            if run:
                run += [separator, word]
            else:
                run, run_separator = [word], separator
            continue
        if run:
            yield run_separator, "".join(run), True
            run = []
        yield separator, word, False
    if run:
        yield run_separator, "".join(run), True


def _add_phrase(folder: _Folder, phrase: list[tuple[str, str]]) -> None:
    """A display name's words: atoms as they are, quoted strings, each encoded run as one
    encoded word (display_name_words made sure each fits one)."""
    for kind, word in phrase:
        if kind == "encoded":
            folder.add(" ", _next_word(_pieces(word), MAX_ENCODED_WORD)[0])
        else:
            folder.add(" ", _quoted(word) if kind == "quoted" else word)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clusters(text: str) -> list[str]:
    """`text` in pieces that must stay together in one encoded word: a character with the
    combining marks, variation selectors, emoji modifiers and joiners that follow it, and
    regional-indicator pairs (flags). Splitting these would show as separate glyphs in mail
    programs that decode each encoded word on its own."""
    pieces: list[str] = []
    for char in text:
        code = ord(char)
        joins = pieces and (
            unicodedata.category(char) in ("Mn", "Mc", "Me")
            or code == 0x200D or pieces[-1].endswith("\u200d")
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F
            or (0x1F1E6 <= code <= 0x1F1FF and _open_flag(pieces[-1]))
        )
        if joins:
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _open_flag(piece: str) -> bool:
    """Whether `piece` is a single regional indicator waiting for its pair."""
    return len(piece) == 1 and 0x1F1E6 <= ord(piece) <= 0x1F1FF


def _q(data: bytes) -> str:
    return "".join(chr(b) if b in _Q_LITERAL else "_" if b == 0x20 else f"={b:02X}" for b in data)


def _q_length(data: bytes) -> int:
    return sum(1 if b in _Q_LITERAL or b == 0x20 else 3 for b in data)


def _b_length(size: int) -> int:
    return 4 * ((size + 2) // 3)


_OVERHEAD = len(_Q_PREFIX) + len(_SUFFIX)  # the same for "b"
# The longest piece that fits one encoded word in either encoding (B: 63 characters of base64).
_LONGEST_PIECE = 3 * ((MAX_ENCODED_WORD - _OVERHEAD) // 4)


def _pieces(text: str) -> list[bytes]:
    """`text` as UTF-8 pieces that may be put in separate encoded words (see clusters); a
    cluster too long for one encoded word (a letter under dozens of combining marks) is split
    between its characters, never inside one."""
    pieces: list[bytes] = []
    for cluster in clusters(text):
        data = cluster.encode("utf-8")
        if len(data) <= _LONGEST_PIECE:
            pieces.append(data)
        else:
            pieces.extend(char.encode("utf-8") for char in cluster)
    return pieces


def _next_word(pending: list[bytes], limit: int) -> tuple[str, int] | None:
    """The encoded word that takes the most pieces from the front of `pending` within `limit`
    characters (Q when Q and B take as many: it stays readable), and how many it took."""
    best: tuple[str, int] | None = None
    for use_q in (True, False):
        count = size = q_length = 0
        for piece in pending:
            grown_q, grown_size = q_length + _q_length(piece), size + len(piece)
            if _OVERHEAD + (grown_q if use_q else _b_length(grown_size)) > limit:
                break
            count, size, q_length = count + 1, grown_size, grown_q
        if count and (best is None or count > best[1]):
            data = b"".join(pending[:count])
            word = (f"{_Q_PREFIX}{_q(data)}{_SUFFIX}" if use_q
                    else f"{_B_PREFIX}{base64.b64encode(data).decode('ascii')}{_SUFFIX}")
            best = (word, count)
    return best


# --- folding ------------------------------------------------------------------------------------


class _Folder:
    """Builds one header field line by line; folds only at white space (CRLF before it)."""

    def __init__(self, name: str, *, structured: bool = False):
        self.name = name
        self.lines = [f"{name}:"]
        # An unstructured value (Subject, a URI list) never begins on a continuation line:
        # some parsers (Python's among them) then read it with a leading space. An address
        # field may: a leading fold is only white space to every address parser.
        self.structured = structured

    def append(self, text: str) -> None:
        """Text glued to what came before (the comma after an address)."""
        self.lines[-1] += text

    def add(self, separator: str, word: str) -> None:
        """A word after white space: on this line if it fits, else at the start of the next
        (straight after the colon only in a structured field, and only if that helps)."""
        at_colon = len(self.lines) == 1 and self.lines[0] == f"{self.name}:"
        fits = len(self.lines[-1]) + len(separator) + len(word) <= MAX_LINE
        if fits or (at_colon and not (self.structured and len(separator + word) <= MAX_LINE)):
            self.lines[-1] += separator + word
        else:
            self.lines.append(separator + word)

    def add_encoded(self, separator: str, text: str) -> None:
        """`text` as encoded words, the first on this line if one fits, each separated from
        the next by folding white space (which decoders drop between encoded words)."""
        pending = _pieces(text)
        gap = separator
        while pending:
            room = MAX_LINE - len(self.lines[-1]) - len(gap)
            found = _next_word(pending, min(MAX_ENCODED_WORD, room))
            if found is None:  # not even one piece fits on this line: a new line
                self.lines.append("")
                found = _next_word(pending, MAX_ENCODED_WORD)
            word, count = found
            self.lines[-1] += gap + word
            del pending[:count]
            gap = " "

    def bytes(self) -> bytes:
        for line in self.lines:
            if len(line.encode("utf-8")) > HARD_LIMIT:
                raise HeaderError(f"{self.name}: a header line over {HARD_LIMIT} octets")
        return ("\r\n".join(self.lines) + "\r\n").encode("utf-8")


def to_header(name: str, address: str) -> bytes:
    """The To field: the name as typed where it can be (quoted or encoded where it must be;
    none when it reads as a link, names.shown_name), the address in its SMTP form; folded at
    white space only (`mailbox`)."""
    refuse_line_breaks("To", name)  # before a name is left out: never silently
    return mailbox("To", shown_name(name), address)
