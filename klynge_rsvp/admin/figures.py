"""Figures across gatherings: per organisation and per sector, on a page and as CSV."""

import re

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import exports, figures
from ..clock import utcnow
from ..labels import SECTOR_LABELS
from . import bp
from .gatherings import zone

CSV_HEADER = [
    _l("Type"), _l("Navn"), _l("Sektor"), _l("Samlinger"), _l("Personer"),
    _l("Av dem anonymiserte"), _l("Første samling"), _l("Siste samling"),
    _l("Kommer igjen"), _l("Ny i perioden"),
]


def _period(years: list[int]) -> figures.Period:
    """The period asked for: `?periode=2019`, or everything (anything else)."""
    chosen = request.args.get("periode", "")
    if re.fullmatch(r"[0-9]{4}", chosen) and int(chosen) in years:
        return figures.Period(int(chosen))
    return figures.Period()


def _figures():
    now, here = utcnow(), zone()
    years = figures.years(now, here)
    return figures.figures(now, _period(years), here), years, here


@bp.get("/tall", endpoint="figures")
def figures_page():
    """Organisations and sectors across gatherings, for a year or since the start; the
    organisations a page at a time (as the worker stored them, when it has lately)."""
    now, here = utcnow(), zone()
    years = figures.years(now, here)
    shown = figures.page_of(now, _period(years), here, request.args.get("side", type=int))
    return render_template("admin/figures/index.html", figures=shown.figures, shown=shown,
                           years=years, zone=here, sector_labels=SECTOR_LABELS, stated=figures)


def _local_date(instant, here):
    return instant.astimezone(here).strftime("%d.%m.%Y") if instant else ""


@bp.get("/tall.csv", endpoint="figures_csv")
def figures_csv():
    """The same figures as semicolon-separated CSV (organisations, then sectors)."""
    result, _years, here = _figures()
    sectors = {sector: str(label) for sector, label in SECTOR_LABELS.items()}
    table = [[_("Virksomhet"), row.name, sectors[row.sector], row.gatherings, row.people,
              row.anonymised, _local_date(row.first, here), _local_date(row.last, here),
              int(row.returning), int(result.is_new(row, here))]
             for row in result.organisations]
    table += [[_("Sektor"), sectors[row.sector], sectors[row.sector], row.gatherings, row.people,
               row.anonymised, _local_date(row.first, here), _local_date(row.last, here),
               row.returning, row.new]
              for row in result.sectors]
    table = [[exports.neutralise(value) for value in cells] for cells in table]
    name = f"tall-{result.period.year or 'alle'}.csv"
    return Response(exports.csv_bytes(table, CSV_HEADER), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})
