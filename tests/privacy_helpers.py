"""Where a person is still stored: every text and binary column of every table in the database,
raw mail decoded (RFC 2047 headers, base64 and quoted-printable bodies, folded lines).

The scan reads the schema from the database itself, so a table or column added later is
searched too. It shares no code with what it checks: the punycode form of an address comes from
Python's own IDNA codec, the decoding from the email package.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import sqlalchemy as sa

from klynge_rsvp.extensions import db


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    key: tuple  # the row's primary key
    form: str  # the form of the name or address that was found


@dataclass(frozen=True)
class Person:
    """A name and an address, and every form in which either can be stored."""

    name: str
    address: str
    name_parts: bool = True  # False for names whose parts others share ("Deltaker 1")

    def forms(self) -> list[str]:
        local, _, domain = self.address.rpartition("@")
        ascii_domain = ".".join(label.encode("idna").decode() for label in domain.split("."))
        found = [self.name, self.address, f"{local}@{ascii_domain}", local]
        if self.name_parts:  # each part of the name on its own ("Hei Åse,"), as a whole word
            found += [part for part in re.split(r"[\s-]+", self.name) if len(part) > 1]
        return list(dict.fromkeys(found))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _found_in(text: str, form: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_fold(form))}(?!\w)", _fold(text)) is not None


def _decoded_mail(raw: bytes) -> list[str]:
    """The texts a mail program shows of `raw`: every header decoded, every part's body."""
    if b"\n" not in raw or b":" not in raw.split(b"\n", 1)[0]:
        return []
    texts = []
    message = message_from_bytes(raw, policy=policy.compat32)
    for part in message.walk():
        for _name, value in part.items():
            try:
                texts.append(str(make_header(decode_header(str(value)))))
            except (ValueError, LookupError, UnicodeError):
                texts.append(str(value))
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            body = payload.decode(charset, errors="replace")
        except LookupError:
            body = payload.decode("utf-8", errors="replace")
        texts.append(body)
    return texts


def _texts(value) -> list[str]:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        texts = [value.decode("utf-8", errors="replace"), value.decode("latin-1"),
                 *_decoded_mail(value)]
    elif isinstance(value, dict | list):  # a JSON column: stored texts' parameters
        texts = [json.dumps(value, ensure_ascii=False)]
    else:
        texts = [str(value)]
    # Folded lines (RFC 5545 content lines, headers) unfolded, HTML entities read.
    unfolded = [re.sub(r"\r?\n[ \t]", "", text) for text in texts]
    return texts + unfolded + [html.unescape(text) for text in unfolded]


def _searchable(column_type) -> bool:
    return isinstance(column_type, sa.String | sa.Text | sa.LargeBinary | sa.types._Binary
                      | sa.JSON)


def scan(person: Person) -> list[Hit]:
    """Every place in the database that holds the person's name or address, in any form."""
    metadata = sa.MetaData()
    metadata.reflect(bind=db.session.connection())
    hits = []
    forms = person.forms()
    for table in metadata.sorted_tables:
        columns = [column for column in table.columns if _searchable(column.type)]
        key = list(table.primary_key.columns) or list(table.columns)[:1]
        if not columns:
            continue
        for row in db.session.execute(sa.select(*key, *columns)):
            for column, value in zip(columns, row[len(key):], strict=True):
                if value is None:
                    continue
                texts = _texts(value)
                for form in forms:
                    if any(_found_in(text, form) for text in texts):
                        hits.append(Hit(table.name, column.name, tuple(row[:len(key)]), form))
    return hits


def places(hits: list[Hit]) -> set[tuple[str, str]]:
    """(table, column) of each hit."""
    return {(hit.table, hit.column) for hit in hits}
