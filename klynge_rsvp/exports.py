"""A gathering's registrations as a spreadsheet: CSV for any program, .xlsx for Excel.

Pure builders: they take registrations as plain rows (anything with the same attributes) and
return data.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .models import Organisation, Registration
from .statistics import SECTOR_LABELS

# In the organiser's language (the one the download is made in); cells hold plain strings.
HEADER = [
    _l("Navn"), _l("E-post"), _l("Virksomhet"), _l("Sektor"), _l("Organisasjonsnummer"), _l("Stilling"),
    _l("Status"), _l("Plass på venteliste"), _l("Behov"), _l("Kommentar"), _l("Påmeldt"), _l("Sjekket inn"),
]
STATUS_LABELS = {"confirmed": _l("Har plass"), "waiting": _l("Venteliste"), "cancelled": _l("Avmeldt")}
# A spreadsheet runs a cell that starts with one of these as a formula (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "%d.%m.%Y %H:%M"
XLSX_DATE_FORMAT = "dd.mm.yyyy hh:mm"
_WIDTHS = [24, 30, 28, 11, 18, 22, 12, 10, 30, 30, 17, 17]
# What a row reads besides the id, name, email and organisation_name that every list of
# registrations reads: plain columns, since loading 10,000 whole Registration objects took
# longer than writing them out as CSV.
COLUMNS = (Registration.job_title, Registration.status, Registration.needs, Registration.comment,
           Registration.created_at, Registration.checked_in_at, Organisation.sector,
           Organisation.org_number)

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
        labels: Labels | None = None) -> list:
    """One registration as spreadsheet cells (texts neutralised, times in `zone`).

    `registration`: a row with the COLUMNS below and the list's id, name, email and
    organisation_name (see admin.registrations.registration_rows), or anything shaped alike.
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
    ]
    return [neutralise(value) for value in values]


def rows(registrations, *, waiting_positions: dict[int, int], zone: tzinfo) -> list[list]:
    """The rows for `registrations`, in their order."""
    labels = translated_labels()
    return [row(r, waiting_position=waiting_positions.get(r.id), zone=zone, labels=labels)
            for r in registrations]


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    return str(value)


def csv_bytes(table: list[list], header: list[str] = HEADER) -> bytes:
    """Semicolon-separated UTF-8 with a byte-order mark: how Norwegian Excel opens æøå right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(heading) for heading in header])
    writer.writerows([_csv_text(value) for value in cells] for cells in table)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(table: list[list], header: list[str] = HEADER, title: str = _l("Påmeldinger")) -> bytes:
    """An Excel workbook: a bold, frozen header row with filters, then one row per person.

    Written row by row (openpyxl's write-only mode): a normal workbook keeps an object per cell
    and took twice as long for a big gathering.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(title))
    # Column widths and the frozen header must be in place before the first row is written.
    for index, width in enumerate(_WIDTHS[:len(header)], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_styled(sheet, str(heading), font=bold) for heading in header])
    for cells in table:
        sheet.append([_xlsx_value(sheet, value) for value in cells])
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(header), 1))}{len(table) + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _styled(sheet, value, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _xlsx_value(sheet, value):
    if value == "":
        return None  # no cell at all: an empty one reads back the same and costs a tag
    if isinstance(value, str):
        # Characters an .xlsx cannot hold are dropped, and the result checked again for a formula.
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    if isinstance(value, datetime):
        return _styled(sheet, value, number_format=XLSX_DATE_FORMAT)
    return value
