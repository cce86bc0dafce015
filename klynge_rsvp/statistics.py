"""The figures on the organisers' overview, each aggregated in one SQL query, and their charts.

However many gatherings and registrations there are, the overview runs the same few queries:
every count is a GROUP BY in the database, never a loop over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .extensions import db
from .labels import SECTOR_LABELS
from .models import (
    FigureSnapshot,
    Gathering,
    GatheringStatus,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    Sector,
)


@dataclass(frozen=True)
class UpcomingFill:
    """An upcoming gathering and how full it is."""

    gathering_id: int
    title: str
    slug: str
    status: GatheringStatus
    starts_at: datetime
    capacity: int | None
    confirmed: int
    waiting: int

    @property
    def fill_rate(self) -> float | None:
        """Confirmed seats as a share of the capacity (None: no limit)."""
        if not self.capacity:
            return None
        return self.confirmed / self.capacity


@dataclass(frozen=True)
class PastAttendance:
    """A gathering that has been held: who had a seat, who came, who did not."""

    gathering_id: int
    title: str
    slug: str
    starts_at: datetime
    registered: int
    attended: int

    @property
    def no_shows(self) -> int:
        return max(self.registered - self.attended, 0)

    @property
    def attendance_recorded(self) -> bool:
        """Whether anyone was checked in (the network's older gatherings had no check-in)."""
        return self.attended > 0


@dataclass(frozen=True)
class SectorReach:
    sector: Sector
    organisations: int
    people: int

    @property
    def label(self) -> str:
        return str(SECTOR_LABELS[self.sector])


@dataclass(frozen=True)
class Reach:
    """Distinct organisations and people across all gatherings, and their split by sector."""

    organisations: int
    people: int
    sectors: list[SectorReach]


def _count_where(condition) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def upcoming_fill(now: datetime) -> list[UpcomingFill]:
    """Gatherings that have not ended (drafts included, cancelled ones not), soonest first."""
    rows = db.session.execute(
        sa.select(
            Gathering.id, Gathering.title, Gathering.slug, Gathering.status, Gathering.starts_at,
            Gathering.capacity,
            _count_where(Registration.status == RegistrationStatus.CONFIRMED),
            _count_where(Registration.status == RegistrationStatus.WAITING),
        )
        .outerjoin(Registration, Registration.gathering_id == Gathering.id)
        .where(Gathering.ends_at > now, Gathering.status != GatheringStatus.CANCELLED)
        .group_by(Gathering.id)
        .order_by(Gathering.starts_at, Gathering.id)
    )
    return [UpcomingFill(*row[:6], confirmed=int(row[6]), waiting=int(row[7])) for row in rows]


# The overview shows this many held gatherings, the most recent: with every one ever held its
# attendance query, table and chart grew with the history (bench.growth: 14× slower at 1,000
# gatherings than at 20; docs/decisions/0034). The gathering list has them all.
PAST_ON_OVERVIEW = 12


def past_attendance(now: datetime, limit: int | None = None) -> list[PastAttendance]:
    """Gatherings that were held (published and ended), most recent first; only the `limit`
    most recent when given (the registrations of the others are not read).

    Registered: those who had a seat when it was held. Attended: those checked in at the door.
    """
    seated = Registration.status == RegistrationStatus.CONFIRMED
    held = (sa.select(Gathering.id)
            .where(Gathering.ends_at <= now, Gathering.status == GatheringStatus.PUBLISHED)
            .order_by(Gathering.starts_at.desc(), Gathering.id.desc()))
    if limit is not None:
        held = held.limit(limit)
    held = held.subquery()
    rows = db.session.execute(
        sa.select(
            Gathering.id, Gathering.title, Gathering.slug, Gathering.starts_at,
            _count_where(seated),
            _count_where(sa.and_(seated, Registration.checked_in_at.is_not(None))),
        )
        .join(held, held.c.id == Gathering.id)
        .outerjoin(Registration, Registration.gathering_id == Gathering.id)
        .group_by(Gathering.id)
        .order_by(Gathering.starts_at.desc(), Gathering.id.desc())
    )
    return [PastAttendance(*row[:4], registered=int(row[4]), attended=int(row[5]))
            for row in rows]


def reach() -> Reach:
    """Distinct organisations and people that have registered for any gathering.

    People are told apart by address, so only registrations still holding one count (an
    anonymised registration has lost it); organisations survive anonymisation and all count.
    Someone who changed employer counts once in all but in each sector they came from, so the
    sectors can add up to more than the whole.
    """
    # One row per person, saying in which sectors they have registered: a single grouping of
    # the registrations (counting distinct addresses overall and again per sector sorted them
    # twice, which was most of the overview's time).
    in_sector = [sa.func.max(sa.case((Organisation.sector == sector, 1), else_=0)).label(sector.name)
                 for sector in Sector]
    people = (sa.select(*in_sector)
              .join_from(Registration, Organisation, Registration.organisation_id == Organisation.id)
              .where(Registration.anonymised_at.is_(None))
              .group_by(Registration.email_key)
              .subquery())
    total, *per_sector = db.session.execute(
        sa.select(sa.func.count(), *(sa.func.coalesce(sa.func.sum(column), 0) for column in people.c))
    ).one()
    organisations = dict(db.session.execute(
        sa.select(Organisation.sector, sa.func.count())
        .where(sa.exists().where(Registration.organisation_id == Organisation.id))
        .group_by(Organisation.sector)
    ).all())
    sectors = [SectorReach(sector, organisations.get(sector, 0), int(persons))
               for sector, persons in zip(Sector, per_sector, strict=True)]
    return Reach(organisations=sum(organisations.values()), people=total, sectors=sectors)


# reach() reads every registration that still holds an address, so unlike the rest of the
# overview it grows with the history (at 100,000 registrations the first overview in a minute
# took 4–5 times as long as at 1,000). The worker computes it twice a minute and stores it
# (store_reach, the job "reach"); the overview reads what was stored, the same for every web
# process (docs/decisions/0038). Stored figures older than REACH_STORED_MAX_AGE mean no worker
# has run the job lately: the overview then computes them itself and reuses them for
# REACH_MAX_AGE in its process, as before. Either way they are at most a minute old, as the
# overview says.
REACH_SNAPSHOT = "reach"
REACH_REFRESH_SECONDS = 30
REACH_STORED_MAX_AGE = timedelta(minutes=1)
REACH_MAX_AGE = timedelta(minutes=1)
_REACH_CACHE = "klynge_recent_reach"


def _reach_body(figures: Reach) -> dict:
    return {"organisations": figures.organisations, "people": figures.people,
            "sectors": {s.sector.value: [s.organisations, s.people] for s in figures.sectors}}


def _reach_of(body: dict) -> Reach:
    sectors = body["sectors"]
    return Reach(organisations=int(body["organisations"]), people=int(body["people"]),
                 sectors=[SectorReach(sector, *map(int, sectors.get(sector.value, (0, 0))))
                          for sector in Sector])


def store_reach(now: datetime) -> Reach:
    """Compute reach() and store it as of `now` for every process to read (no commit)."""
    figures = reach()
    body = _reach_body(figures)
    stored = db.session.execute(
        sa.update(FigureSnapshot).where(FigureSnapshot.name == REACH_SNAPSHOT)
        .values(computed_at=now, body=body)).rowcount
    if not stored:
        try:
            with db.session.begin_nested():
                db.session.add(FigureSnapshot(name=REACH_SNAPSHOT, computed_at=now, body=body))
        except sa.exc.IntegrityError:
            pass  # another worker stored it first, as fresh as this
    return figures


def stored_reach(now: datetime) -> Reach | None:
    """The reach the worker stored, if it is younger than REACH_STORED_MAX_AGE at `now`."""
    snapshot = db.session.get(FigureSnapshot, REACH_SNAPSHOT)
    if snapshot is None or not timedelta(0) <= now - snapshot.computed_at < REACH_STORED_MAX_AGE:
        return None
    return _reach_of(snapshot.body)


def recent_reach(now: datetime) -> Reach:
    """The reach the worker stored; without a fresh one, reach() as of at most REACH_MAX_AGE
    ago in this process (computed again only when older than that)."""
    stored = stored_reach(now)
    if stored is not None:
        return stored
    cached = current_app.extensions.get(_REACH_CACHE)
    if cached is not None and timedelta(0) <= now - cached[0] < REACH_MAX_AGE:
        return cached[1]
    figures = reach()
    current_app.extensions[_REACH_CACHE] = (now, figures)
    return figures


def forget_recent_reach() -> None:
    """Drop this process's reused reach figures (the stored ones stay)."""
    current_app.extensions.pop(_REACH_CACHE, None)


def failed_mail_count() -> int:
    """Messages the sender gave up on: an organiser should look at them."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.FAILED)
    )


# --- charts: plain data in, SVG markup out -----------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A part of a bar: its value, where it starts and how wide it is (percent of the width)."""

    value: int
    kind: str  # a CSS modifier: "filled", "hatched"…
    start: float
    width: float


@dataclass(frozen=True)
class ChartRow:
    label: str
    note: str  # the numbers, in words, below the bar
    segments: tuple[Segment, ...]
    top: int  # y of the row's label, in pixels


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart: one row per item, its label above the bar, its numbers below."""

    id: str
    title: str
    description: str
    rows: tuple[ChartRow, ...]
    height: int

    ROW_HEIGHT = 72
    BAR_TOP = 24  # within a row: the label's baseline is at 17, the numbers' at 60
    BAR_HEIGHT = 18


LABEL_MAX = 34


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[:LABEL_MAX - 1].rstrip() + "…"


def bar_chart(chart_id: str, title: str, description: str,
              items: list[tuple[str, list[tuple[int, str]], int, str]]) -> BarChart:
    """Lay out a chart. Each item: (label, [(value, kind), …], scale, note).

    A bar's segments are drawn side by side as shares of `scale` (a capacity, or the largest
    value in the chart), never wider than the whole.
    """
    rows = []
    for index, (label, parts, scale, note) in enumerate(items):
        segments, start = [], 0.0
        for value, kind in parts:
            width = min(100.0 * value / scale, 100.0 - start) if scale > 0 else 0.0
            segments.append(Segment(value=value, kind=kind, start=round(start, 2),
                                    width=round(max(width, 0.0), 2)))
            start += max(width, 0.0)
        rows.append(ChartRow(label=_short(label), note=note, segments=tuple(segments),
                             top=index * BarChart.ROW_HEIGHT))
    return BarChart(id=chart_id, title=title, description=description, rows=tuple(rows),
                    height=max(len(rows), 1) * BarChart.ROW_HEIGHT)


def svg(chart: BarChart) -> Markup:
    """The chart as inline SVG: a titled image (title and description for screen readers).

    Widths are percentages of the SVG's own width and text is in pixels, so the chart fills any
    screen and its text stays readable at 320 px. Styling comes from the site's stylesheet.
    Texts are escaped; everything else is a number (plain f-strings: Markup.format, which
    escapes every argument, was a tenth of the overview's time).
    """
    chart_id = escape(chart.id)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    out = [f'<svg class="chart" id="{chart_id}" width="100%" height="{chart.height}" role="img" '
           f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{title_id}">{escape(chart.title)}</title>'
           f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
           f'<defs><pattern id="{chart_id}-hatch" class="chart__hatch" width="6" height="6" '
           'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           '<rect width="6" height="6" class="chart__hatch-ground"/>'
           '<line x1="0" y1="0" x2="0" y2="6" class="chart__hatch-line"/></pattern></defs>']
    hatch = f' fill="url(#{chart_id}-hatch)"'
    for row in chart.rows:
        bar_y = row.top + BarChart.BAR_TOP
        out.append(f'<g class="chart__row"><text class="chart__label" x="0" y="{row.top + 17}">'
                   f'{escape(row.label)}</text>')
        out.append(f'<rect class="chart__track" x="0" y="{bar_y}" width="100%" '
                   f'height="{BarChart.BAR_HEIGHT}"/>')
        for segment in row.segments:
            if segment.width <= 0:
                continue
            out.append(f'<rect class="chart__bar chart__bar--{escape(segment.kind)}" '
                       f'x="{segment.start}%" y="{bar_y}" width="{segment.width}%" '
                       f'height="{BarChart.BAR_HEIGHT}"{hatch if segment.kind == "hatched" else ""}/>')
        out.append(f'<text class="chart__note" x="0" y="{row.top + 60}">{escape(row.note)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every text in it went through escape() above)


def _percent(part: int, whole: int) -> str:
    return _("%(percent)s %%", percent=round(100 * part / whole)) if whole else "–"


def fill_chart(upcoming: list[UpcomingFill]) -> BarChart:
    """Upcoming gatherings: confirmed seats against capacity."""
    largest = max([u.confirmed for u in upcoming if not u.capacity] or [0])
    items = []
    for u in upcoming:
        if u.capacity and u.waiting:
            note = _("%(confirmed)s av %(capacity)s (%(percent)s), %(waiting)s venter",
                     confirmed=u.confirmed, capacity=u.capacity,
                     percent=_percent(u.confirmed, u.capacity), waiting=u.waiting)
        elif u.capacity:
            note = _("%(confirmed)s av %(capacity)s (%(percent)s)", confirmed=u.confirmed,
                     capacity=u.capacity, percent=_percent(u.confirmed, u.capacity))
        elif u.waiting:
            note = _("%(confirmed)s påmeldt, ingen grense, %(waiting)s venter",
                     confirmed=u.confirmed, waiting=u.waiting)
        else:
            note = _("%(confirmed)s påmeldt, ingen grense", confirmed=u.confirmed)
        items.append((u.title, [(u.confirmed, "filled")], u.capacity or largest, note))
    return bar_chart("fill", _("Påmelding til kommende samlinger"),
                     _("Påmeldte med plass for hver kommende samling, som andel av kapasiteten."),
                     items)


def attendance_chart(past: list[PastAttendance]) -> BarChart:
    """Held gatherings: who came (solid) and who did not (hatched)."""
    largest = max([p.registered for p in past] or [0])
    items = []
    for p in past:
        if p.attendance_recorded:
            note = _("%(attended)s møtte, %(no_shows)s uteble (av %(registered)s)",
                     attended=p.attended, no_shows=p.no_shows, registered=p.registered)
            parts = [(p.attended, "filled"), (p.no_shows, "hatched")]
        else:
            note = _("%(registered)s påmeldt, oppmøte ikke ført", registered=p.registered)
            parts = [(p.registered, "muted")]
        items.append((p.title, parts, largest, note))
    return bar_chart("attendance", _("Oppmøte på gjennomførte samlinger"),
                     _("For hver gjennomførte samling: hvor mange som møtte (hel farge) og hvor "
                       "mange som uteble (skravert), av dem som hadde plass."), items)


def sector_charts(figures: Reach) -> tuple[BarChart, BarChart]:
    """Organisations and people by sector."""
    def chart(chart_id, title, description, values):
        whole = sum(values)
        largest = max([*values, 0])
        items = [(s.label, [(v, "filled")], largest, f"{v} ({_percent(v, whole)})")
                 for s, v in zip(figures.sectors, values, strict=True)]
        return bar_chart(chart_id, title, description, items)

    return (
        chart("sector-organisations", _("Virksomheter etter sektor"),
              _("Antall virksomheter i hver sektor."), [s.organisations for s in figures.sectors]),
        chart("sector-people", _("Personer etter sektor"), _("Antall personer i hver sektor."),
              [s.people for s in figures.sectors]),
    )
