"""A gathering's registrations as a spreadsheet: CSV for any program, .xlsx for Excel.

Pure builders: they take registrations (anything with the same attributes) and return data.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

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
_WIDTHS = [24, 30, 28, 11, 18, 22, 12, 10, 30, 30, 17, 17]


def neutralise(value):
    """A text that a spreadsheet would take for a formula, made plain text with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _local(instant: datetime | None, zone: tzinfo) -> datetime | None:
    # Spreadsheets know no time zones: the wall time in Oslo, without an offset.
    return instant.astimezone(zone).replace(tzinfo=None) if instant else None


def row(registration, *, waiting_position: int | None, zone: tzinfo) -> list:
    """One registration as spreadsheet cells (texts neutralised, times in `zone`)."""
    organisation = registration.organisation
    values = [
        registration.name, registration.email, organisation.name,
        str(SECTOR_LABELS.get(organisation.sector, organisation.sector.value)),
        organisation.org_number or "", registration.job_title or "",
        str(STATUS_LABELS.get(registration.status.value, registration.status.value)), waiting_position,
        registration.needs or "", registration.comment or "",
        _local(registration.created_at, zone), _local(registration.checked_in_at, zone),
    ]
    return [neutralise(value) for value in values]


def rows(registrations, *, waiting_positions: dict[int, int], zone: tzinfo) -> list[list]:
    """The rows for `registrations`, in their order."""
    return [row(r, waiting_position=waiting_positions.get(r.id), zone=zone) for r in registrations]


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
    """An Excel workbook: a bold, frozen header row with filters, then one row per person."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(title)
    sheet.append([str(heading) for heading in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cells in table:
        # Characters an .xlsx cannot hold are dropped, and the result checked again for a formula.
        sheet.append([neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)) if isinstance(value, str)
                      else value for value in cells])
    for column, width in zip(sheet.iter_cols(min_row=1), _WIDTHS, strict=False):
        sheet.column_dimensions[column[0].column_letter].width = width
        for cell in column[1:]:
            if isinstance(cell.value, datetime):
                cell.number_format = "dd.mm.yyyy hh:mm"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
