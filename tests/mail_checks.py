"""Raw mail as mail programs read it, not as the library that wrote it reads it back.

`check_raw(raw)` looks at the header block byte by byte (RFC 5322 folding and line lengths,
RFC 2047 encoded words, RFC 2369/8058 list headers, address fields that cannot hide a second
recipient) and returns the problems it finds. `readings(raw)` reads Subject and the display
names and addresses of From and To with independent decoders:

* `compat32`: `email.header.decode_header` + `make_header` on the unfolded raw value, the
  legacy path that many Python programs still use (and `getaddresses` for the addresses);
* `default`: the email package's modern parser (`policy.default`), a separate parser of the
  same standard library;
* `strict`: the decoder below, written for these tests from RFC 2047 alone: an encoded word
  counts only as a whole white-space-delimited word, white space between two encoded words is
  dropped, every other character is kept as it is;
* `perl`: Perl's Encode `MIME-Header` decoder (Debian's perl), another family altogether,
  for Subject; and for To and From, whether a program that decodes the whole field before
  parsing it finds any other address.

None of these is the code that wrote the message (headers.py).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import shutil
import subprocess
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import getaddresses

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_NAME = re.compile(rb"[!-9;-~]+")
# Something that reads as an e-mail address, as mail programs find them in text.
ADDRESS_LIKE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# RFC 2047 (5)(3): what Q encoding may leave as it is in a display name.
Q_PHRASE_LITERAL = re.compile(r"[A-Za-z0-9!*+\-/=_]*")
NO_ENCODED_WORDS = {"message-id", "date", "list-unsubscribe", "list-unsubscribe-post",
                    "mime-version", "content-type", "content-transfer-encoding", "in-reply-to",
                    "references", "list-id"}
ADDRESS_FIELDS = ("from", "to", "cc", "reply-to")
EXACTLY_ONE = ("from", "to", "date", "message-id")
AT_MOST_ONE = ("subject", "cc", "reply-to", "mime-version", "content-type", "list-unsubscribe",
               "list-unsubscribe-post", "list-id")


@dataclass
class Field:
    name: str  # as written
    lines: list[bytes]  # the raw lines, first "Name: …", then continuation lines

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def value(self) -> str:
        """Unfolded (CRLF removed), without the name, the colon and the white space after it."""
        joined = b"".join(self.lines)[len(self.name) + 1:]
        return joined.decode("utf-8", "surrogateescape").lstrip(" \t")


def header_fields(raw: bytes) -> tuple[list[Field], list[str]]:
    """The header block's fields, and what is wrong with its lines."""
    problems: list[str] = []
    head, separator, _body = raw.partition(b"\r\n\r\n")
    if not separator:
        return [], ["no CRLF CRLF between the header block and the body"]
    fields: list[Field] = []
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            problems.append(f"bare CR or LF in a header line: {line[:60]!r}")
        if len(line) > 998:
            problems.append(f"header line over 998 octets ({len(line)})")
        if line[:1] in (b" ", b"\t"):
            if not fields:
                problems.append("the header block starts with a continuation line")
                continue
            if not line.strip():
                problems.append(f"a white-space-only line in {fields[-1].name}")
            fields[-1].lines.append(line)
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _NAME.fullmatch(name):
            problems.append(f"a header line that is neither a field nor a continuation: {line[:60]!r}")
            continue
        fields.append(Field(name.decode("ascii"), [line]))
    return fields, problems


def check_raw(raw: bytes, *, allow_8bit: bool = False) -> list[str]:
    """Everything wrong with the header block of `raw`, as readable sentences ([] when clean)."""
    fields, problems = header_fields(raw)
    head = raw.partition(b"\r\n\r\n")[0]
    if not allow_8bit and not head.isascii():
        problems.append("raw 8-bit octets in the header block (needs SMTPUTF8)")
    counts: dict[str, int] = {}
    for field in fields:
        counts[field.key] = counts.get(field.key, 0) + 1
        problems += _line_lengths(field)
        problems += _encoded_words(field)
        if field.key in ADDRESS_FIELDS:
            problems += _address_field(field)
    for key in EXACTLY_ONE:
        if counts.get(key, 0) != 1:
            problems.append(f"{counts.get(key, 0)} {key} fields (exactly one is required)")
    for key in AT_MOST_ONE:
        if counts.get(key, 0) > 1:
            problems.append(f"{counts[key]} {key} fields (at most one)")
    if counts.get("bcc"):
        problems.append("a Bcc field in a sent message")
    by_key = {field.key: field for field in fields}
    if "list-unsubscribe" in by_key:
        value = by_key["list-unsubscribe"].value
        if not value.isascii() or not re.fullmatch(r"<[^<>\s]+>(?:\s*,\s*<[^<>\s]+>)*", value):
            problems.append(f"List-Unsubscribe is not a plain list of <URI>: {value[:80]!r}")
        if "list-unsubscribe-post" in by_key:
            if by_key["list-unsubscribe-post"].value != "List-Unsubscribe=One-Click":
                problems.append("List-Unsubscribe-Post is not exactly List-Unsubscribe=One-Click")
            if "<https://" not in value:
                problems.append("one-click unsubscribe without an https: URI (RFC 8058)")
    return problems


def _line_lengths(field: Field) -> list[str]:
    problems = []
    for line in field.lines:
        if len(line) <= 78:
            continue
        # Over 78 only where nothing could be folded: one unbreakable token (a URI, an address).
        words = line.split()
        longest = max(words, key=len) if words else b""
        if len(longest) + 2 <= 78 - len(field.name) or ENCODED_WORD.fullmatch(longest.decode("latin-1")):
            problems.append(f"{field.name}: a line of {len(line)} characters that could be folded")
    return problems


def _encoded_words(field: Field) -> list[str]:
    problems = []
    value = field.value
    for match in ENCODED_WORD.finditer(value):
        word = match.group(0)
        where = f"{field.name}: {word[:40]}…"
        if field.key in NO_ENCODED_WORDS:
            problems.append(f"{where} an encoded word where RFC 2047 allows none")
        if len(word) > 75:
            problems.append(f"{where} is {len(word)} characters (at most 75)")
        before = value[match.start() - 1] if match.start() else " "
        after = value[match.end()] if match.end() < len(value) else " "
        if before not in " \t" or (after not in " \t" and not (field.key in ADDRESS_FIELDS and after == ",")):
            problems.append(f"{where} is glued to the text beside it")
        try:
            decode_word(word, strict=True)
        except ValueError as error:
            problems.append(f"{where} {error}")
        if field.key in ADDRESS_FIELDS and match.group(2) in "Qq" and \
                not Q_PHRASE_LITERAL.fullmatch(re.sub(r"=[0-9A-Fa-f]{2}", "", match.group(3))):
            problems.append(f"{where} Q-encoded display name with characters RFC 2047 (5)(3) forbids")
    return problems


def _address_field(field: Field) -> list[str]:
    problems = []
    value = field.value
    # No encoded word inside a quoted string or an <addr-spec>.
    for quoted in re.finditer(r'"(?:[^"\\]|\\.)*"|<[^>]*>', value):
        if ENCODED_WORD.search(quoted.group(0)):
            problems.append(f"{field.name}: an encoded word inside {quoted.group(0)[:40]!r}")
    mailboxes = read_mailboxes(value)
    if mailboxes is None:
        problems.append(f"{field.name}: cannot be read as a list of mailboxes: {value[:80]!r}")
        return problems
    real = {address.lower() for _, address in mailboxes}
    for name, address in mailboxes:
        for found in ADDRESS_LIKE.findall(name):
            if found.lower() != address.lower():
                problems.append(f"{field.name}: the display name {name!r} holds the address {found}")
    # A program that decodes the whole field before parsing it (RFC 2047 says not to) may split
    # an encoded name at a comma into a name-only item; it must never find another address.
    naive = {address.lower() for _, address in getaddresses([_compat32(value)]) if "@" in address}
    if naive != real:
        problems.append(f"{field.name}: decoding before parsing gives {sorted(naive)} instead of "
                        f"{sorted(real)}")
    return problems


# --- an RFC 2047 decoder of our own -----------------------------------------------------------


def decode_word(word: str, *, strict: bool = False) -> str:
    """One encoded word's text; ValueError when it is not valid (charset, encoding, bytes)."""
    match = ENCODED_WORD.fullmatch(word)
    if match is None:
        raise ValueError("is not an encoded word")
    charset, encoding, text = match.groups()
    charset = charset.split("*")[0]  # RFC 2231 language suffix
    try:
        codecs.lookup(charset)
    except LookupError as error:
        raise ValueError(f"names an unknown charset {charset!r}") from error
    if encoding in "Bb":
        try:
            data = base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise ValueError("is not valid base64") from error
    else:
        if strict and re.search(r"=(?![0-9A-Fa-f]{2})", text):
            raise ValueError("has a bad = escape in Q encoding")
        if strict and re.search(r"[^!-~]", text):
            raise ValueError("has a character Q encoding does not allow")
        data = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                      text.replace("_", " ").encode("ascii"))
    try:
        return data.decode(charset)
    except UnicodeDecodeError as error:
        raise ValueError(f"is not valid {charset} on its own (a character split between "
                         "encoded words?)") from error


def strict_unstructured(value: str) -> str:
    """An unstructured field's text: only whole words are encoded words; the white space
    between two encoded words goes, any other white space stays."""
    out: list[str] = []
    previous_encoded = False
    space = ""
    for token in re.split(r"([ \t]+)", value.strip(" \t")):
        if not token:
            continue
        if token.isspace():
            space = token
            continue
        encoded = ENCODED_WORD.fullmatch(token) is not None
        if not (encoded and previous_encoded):
            out.append(space)
        out.append(decode_word(token) if encoded else token)
        previous_encoded, space = encoded, ""
    return "".join(out)


_MAILBOX_TOKEN = re.compile(r'\s+|"(?:[^"\\]|\\.)*"|<[^<>]*>|,|[^\s"<>,]+')


def read_mailboxes(value: str) -> list[tuple[str, str]] | None:
    """An address list as (display name, address) pairs, read by RFC 5322 and RFC 2047: words
    joined by one space, encoded words next to each other without it; None if malformed."""
    result: list[tuple[str, str]] = []
    words: list[tuple[str, bool]] = []
    address = None
    for token in _MAILBOX_TOKEN.findall(value):
        if token.isspace():
            continue
        if token == ",":
            if address is None and len(words) == 1 and "@" in words[0][0]:
                address, words = words[0][0], []
            if address is None:
                return None
            result.append((_phrase(words), address))
            words, address = [], None
        elif token.startswith("<"):
            address = token[1:-1]
        elif token.startswith('"'):
            words.append((re.sub(r"\\(.)", r"\1", token[1:-1]), False))
        else:
            encoded = ENCODED_WORD.fullmatch(token) is not None
            words.append((decode_word(token) if encoded else token, encoded))
    if address is None and len(words) == 1 and "@" in words[0][0]:
        address, words = words[0][0], []
    if address is None:
        return None
    result.append((_phrase(words), address))
    return result


def _phrase(words: list[tuple[str, bool]]) -> str:
    text = ""
    for index, (word, encoded) in enumerate(words):
        if index and not (encoded and words[index - 1][1]):
            text += " "
        text += word
    return text


# --- the readings ---------------------------------------------------------------------------------


def _compat32(value: str) -> str:
    return str(make_header(decode_header(value)))


@dataclass
class Reading:
    subject: str | None
    to: list[tuple[str, str]]
    sender: list[tuple[str, str]]


def readings(raw: bytes) -> dict[str, Reading]:
    """Subject, To and From as each independent decoder reads them."""
    fields, _ = header_fields(raw)
    by_key = {field.key: field.value for field in fields}
    subject = by_key.get("subject")
    found: dict[str, Reading] = {}

    def compat32_mailboxes(value: str) -> list[tuple[str, str]]:
        return [(_compat32(name), address) for name, address in getaddresses([value])]

    found["compat32"] = Reading(
        subject=None if subject is None else _compat32(subject),
        to=compat32_mailboxes(by_key["to"]), sender=compat32_mailboxes(by_key["from"]))
    parsed = message_from_bytes(raw, policy=policy.default)
    found["default"] = Reading(
        subject=None if parsed["Subject"] is None else str(parsed["Subject"]),
        to=[(a.display_name, a.addr_spec) for a in parsed["To"].addresses],
        sender=[(a.display_name, a.addr_spec) for a in parsed["From"].addresses])
    found["strict"] = Reading(
        subject=None if subject is None else strict_unstructured(subject),
        to=read_mailboxes(by_key["to"]) or [], sender=read_mailboxes(by_key["from"]) or [])
    return found


def perl_available() -> bool:
    return shutil.which("perl") is not None and subprocess.run(
        ["perl", "-MEncode", "-e", "1"], capture_output=True, check=False).returncode == 0


def perl_decode(values: list[str]) -> list[str]:
    """Perl Encode's MIME-Header reading of each (unfolded, ASCII) header value."""
    script = ('use Encode; binmode STDOUT, ":encoding(UTF-8)"; '
              'while (my $line = <STDIN>) { chomp $line; '
              'print Encode::decode("MIME-Header", $line), "\\n"; }')
    run = subprocess.run(["perl", "-e", script], input="\n".join(values) + "\n",
                         capture_output=True, text=True, encoding="utf-8", check=True, timeout=60)
    return run.stdout.split("\n")[:len(values)]
