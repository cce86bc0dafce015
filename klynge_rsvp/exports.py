"""A gathering's registrations as a spreadsheet: CSV for any program, .xlsx for Excel.

Pure builders: they take registrations as plain rows (anything with the same attributes) and
return data, or write it as it comes: a download of 50,000 people is read from the database in
batches (rsvp.registration_batches) and written out batch by batch, in the same memory as one of
50 (`csv_chunks`, `write_xlsx`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo

import xlsxwriter
from flask_babel import lazy_gettext as _l

from .labels import ATTENDANCE_MODE_LABELS, SECTOR_LABELS, STATUS_LABELS
from .models import Organisation, Registration

# In the organiser's language (the one the download is made in); cells hold plain strings.
HEADER = [
    _l("Navn"), _l("E-post"), _l("Virksomhet"), _l("Sektor"), _l("Organisasjonsnummer"), _l("Stilling"),
    _l("Status"), _l("Plass på venteliste"), _l("Behov"), _l("Kommentar"), _l("Påmeldt"), _l("Sjekket inn"),
]
# A hybrid gathering's download says how each person attends (participation.py): one more column.
WITH_MODE = [*HEADER, _l("Deltakelse")]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "%d.%m.%Y %H:%M"
XLSX_DATE_FORMAT = "dd.mm.yyyy hh:mm"
# Control characters an .xlsx (XML 1.0) cannot hold; tab, LF and CR can stay.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WIDTHS = [24, 30, 28, 11, 18, 22, 12, 10, 30, 30, 17, 17, 12]
# What a row reads besides the id, name, email and organisation_name that every list of
# registrations reads: plain columns, since loading 10,000 whole Registration objects took
# longer than writing them out as CSV.
COLUMNS = (Registration.job_title, Registration.status, Registration.needs, Registration.comment,
           Registration.created_at, Registration.checked_in_at, Organisation.sector,
           Organisation.org_number, Registration.mode)

# Sector → label and status value → label, as plain strings in the current language.
Labels = tuple[dict, dict]


def translated_labels() -> Labels:
    """The sector and status labels translated once (not once per row of a long export)."""
    return ({sector: str(label) for sector, label in SECTOR_LABELS.items()},
            {status: str(label) for status, label in STATUS_LABELS.items()})


def neutralise(value):
    """A text that a spreadsheet would take for a formula, made plain text with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _local(instant: datetime | None, zone: tzinfo) -> datetime | None:
    # Spreadsheets know no time zones: the wall time in Oslo, without an offset.
    return instant.astimezone(zone).replace(tzinfo=None) if instant else None


def row(registration, *, waiting_position: int | None, zone: tzinfo,
        labels: Labels | None = None, with_mode: bool = False) -> list:
    """One registration as spreadsheet cells (texts neutralised, times in `zone`).

    `registration`: a row with the COLUMNS below and the list's id, name, email and
    organisation_name (see rsvp.registration_rows), or anything shaped alike.
    """
    sectors, statuses = labels or translated_labels()
    status = registration.status.value
    values = [
        registration.name, registration.email, registration.organisation_name,
        sectors.get(registration.sector, registration.sector.value),
        registration.org_number or "", registration.job_title or "",
        statuses.get(status, status), waiting_position,
        registration.needs or "", registration.comment or "",
        _local(registration.created_at, zone), _local(registration.checked_in_at, zone),
        *([_mode_text(registration.mode)] if with_mode else []),
    ]
    return [neutralise(value) for value in values]


def _mode_text(mode) -> str:
    return str(ATTENDANCE_MODE_LABELS[mode]) if mode in ATTENDANCE_MODE_LABELS else ""


def rows(registrations, *, waiting_positions: dict[int, int] | None = None, zone: tzinfo,
         with_mode: bool = False, labels: Labels | None = None) -> list[list]:
    """The rows for `registrations`, in their order (`with_mode`: WITH_MODE's last column).
    A place on the waiting list comes from `waiting_positions` (id → place), or else from each
    row's own `place` (rsvp.waiting_places)."""
    labels = labels or translated_labels()
    return [row(r, waiting_position=(r.place if waiting_positions is None
                                     else waiting_positions.get(r.id)),
                zone=zone, labels=labels, with_mode=with_mode)
            for r in registrations]


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    return str(value)


def csv_chunks(batches: Iterable[list[list]], header: list[str] = HEADER) -> Iterator[bytes]:
    """Semicolon-separated UTF-8 with a byte-order mark (how Norwegian Excel opens æøå right),
    one chunk for the header and one per batch of rows, as the batches come."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(heading) for heading in header])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for table in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_text(value) for value in cells] for cells in table)
        yield buffer.getvalue().encode("utf-8")


def csv_bytes(table: list[list], header: list[str] = HEADER) -> bytes:
    """`csv_chunks` of one table, as one value."""
    return b"".join(csv_chunks([table], header))


def write_xlsx(target, batches: Iterable[list[list]], header: list[str] = HEADER,
               title: str = _l("Påmeldinger")) -> None:
    """An Excel workbook into `target` (a path or a binary file): a bold, frozen header row with
    filters, then one row per person, batch by batch as they come.

    Written row by row by XlsxWriter in constant-memory mode (each row goes to a temporary file
    as it is written): about twice as fast as openpyxl's write-only mode, in flat memory. Texts
    are always written as text, never as a formula or a link, whatever they start with.
    """
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(str(title))
    for index, width in enumerate(_WIDTHS[:len(header)]):
        sheet.set_column(index, index, width)
    sheet.freeze_panes(1, 0)
    bold = workbook.add_format({"bold": True})
    for column, heading in enumerate(header):
        sheet.write_string(0, column, str(heading), bold)
    when = workbook.add_format({"num_format": XLSX_DATE_FORMAT})
    row_number = 0
    for table in batches:
        for cells in table:
            row_number += 1
            for column, value in enumerate(cells):
                if value is None or value == "":
                    continue  # no cell at all: an empty one reads back the same and costs a tag
                if isinstance(value, str):
                    # Characters an .xlsx cannot hold are dropped, then checked again for a formula.
                    sheet.write_string(row_number, column, neutralise(_NOT_IN_XLSX.sub("", value)))
                elif isinstance(value, datetime):
                    sheet.write_datetime(row_number, column, value, when)
                else:
                    sheet.write_number(row_number, column, value)
    sheet.autofilter(0, 0, row_number, max(len(header), 1) - 1)
    workbook.close()


def xlsx_bytes(table: list[list], header: list[str] = HEADER, title: str = _l("Påmeldinger")) -> bytes:
    """`write_xlsx` of one table, as one value."""
    buffer = io.BytesIO()
    write_xlsx(buffer, [table], header, title)
    return buffer.getvalue()


def header_with_questions(questions, *, with_mode: bool = False) -> list:
    """HEADER (WITH_MODE for a hybrid gathering) and a column per question of the organisers'
    (its words, made formula-safe)."""
    return [*(WITH_MODE if with_mode else HEADER),
            *(neutralise(question.label) for question in questions)]


def with_answers(table: list[list], registration_ids: list[int], questions,
                 answers: dict[int, dict[int, str]]) -> list[list]:
    """Each row of `table` (one per registration id, in order) with its answers to the
    questions after it, as text; a text a spreadsheet would run as a formula is neutralised."""
    if not questions:
        return table
    return [[*cells, *(neutralise(answers.get(registration_id, {}).get(question.id, ""))
                       for question in questions)]
            for cells, registration_id in zip(table, registration_ids, strict=True)]
