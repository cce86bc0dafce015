"""Figures across gatherings: per organisation and per sector, who came, how often, since when.

Pure queries taking `now`; every figure is a GROUP BY in the database (a fixed number of
statements however many registrations there are), never a loop over registrations in Python.

Who "attended" a gathering (docs/decisions/0025-figures.md): a gathering counts once it is
published and has ended. If anyone was checked in at it, the gathering used check-in and only
those checked in attended; if nobody was (the network's older gatherings had no check-in), its
confirmed registrations attended.

The figures read every registration at an ended gathering, so they take longer as the history
grows (0.8 s at 100,000 registrations, against 25 ms at 1,000). The worker therefore computes them
for every period every few minutes and stores them (`store`, the job "figures"); the page reads
a period's totals and one page of its organisations (`stored_page`). Without fresh stored figures
(no worker ran the job lately) the page computes them itself (docs/decisions/0038).

People are told apart by address (`email_key`). An anonymised registration has lost its address
(it holds `slettet-<id>@invalid`, unique per registration), so it counts as one person of its
own: one per anonymised registration, never matched to anyone, never "returning". The page
shows how many of the people are such anonymised registrations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa

from .clock import from_local
from .extensions import db
from .models import (
    FigureSnapshot,
    Gathering,
    GatheringStatus,
    Organisation,
    Registration,
    RegistrationStatus,
    Sector,
)

# What the network says about itself on its own page (quoted in issue 17): stated, not measured.
STATED_SINCE = 2018
STATED_ORGANISATIONS = "170+"  # "more than 170 organisations"
STATED_PEOPLE = "~400"  # "about 400 people"


@dataclass(frozen=True)
class Period:
    """A calendar year in the display zone, or everything (year None)."""

    year: int | None = None

    def bounds(self, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
        if self.year is None:
            return None, None
        return (from_local(datetime.combine(date(self.year, 1, 1), time()), zone),
                from_local(datetime.combine(date(self.year + 1, 1, 1), time()), zone))


@dataclass(frozen=True)
class OrganisationFigures:
    organisation_id: int
    name: str
    sector: Sector
    gatherings: int  # attended within the period
    people: int  # distinct people within the period (anonymised registrations one each)
    anonymised: int  # of those people: anonymised registrations
    first: datetime  # its first gathering ever (up to the period's end)
    last: datetime  # its last gathering up to the period's end
    total_gatherings: int  # attended up to the period's end

    @property
    def returning(self) -> bool:
        """Has attended at least two gatherings (up to the period's end)."""
        return self.total_gatherings >= 2


@dataclass(frozen=True)
class SectorFigures:
    sector: Sector
    organisations: int
    gatherings: int
    people: int
    anonymised: int
    first: datetime | None
    last: datetime | None
    returning: int  # organisations
    new: int  # organisations whose first gathering is in the period


@dataclass(frozen=True)
class Totals:
    organisations: int
    gatherings: int
    people: int
    anonymised: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class Figures:
    period: Period
    organisations: list[OrganisationFigures]
    sectors: list[SectorFigures]
    totals: Totals  # within the period
    since_start: Totals  # everything measured, whatever the period

    def is_new(self, row: OrganisationFigures, zone: tzinfo) -> bool:
        start, _end = self.period.bounds(zone)
        return start is None or row.first >= start


def _attended(now: datetime, end: datetime | None):
    """One row per attendance: a registration counted as present at an ended gathering."""
    # The gatherings that used check-in, grouped once (a correlated NOT EXISTS per registration
    # scanned each gathering's registrations again for every one of them).
    used_check_in = (sa.select(Registration.gathering_id.label("gathering_id"))
                     .where(Registration.checked_in_at.is_not(None))
                     .group_by(Registration.gathering_id)
                     .subquery("used_check_in"))
    present = sa.or_(Registration.checked_in_at.is_not(None),
                     sa.and_(Registration.status == RegistrationStatus.CONFIRMED,
                             used_check_in.c.gathering_id.is_(None)))
    query = (sa.select(Registration.gathering_id.label("gathering_id"),
                       Registration.organisation_id.label("organisation_id"),
                       Organisation.sector.label("sector"),
                       Registration.email_key.label("person"),
                       sa.case((Registration.anonymised_at.is_not(None), 1), else_=0)
                       .label("anonymised"),
                       Gathering.starts_at.label("starts_at"))
             .join(Gathering, Gathering.id == Registration.gathering_id)
             .join(Organisation, Organisation.id == Registration.organisation_id)
             .outerjoin(used_check_in, used_check_in.c.gathering_id == Registration.gathering_id)
             .where(Gathering.status == GatheringStatus.PUBLISHED, Gathering.ends_at <= now,
                    present))
    if end is not None:
        query = query.where(Gathering.starts_at < end)
    return query.subquery("attended")


def _in(column, start):
    return sa.true() if start is None else column >= start


def _totals(rows, start) -> Totals:
    within = _in(rows.c.starts_at, start)
    result = db.session.execute(sa.select(
        sa.func.count(sa.distinct(sa.case((within, rows.c.organisation_id)))),
        sa.func.count(sa.distinct(sa.case((within, rows.c.gathering_id)))),
        sa.func.count(sa.distinct(sa.case((within, rows.c.person)))),
        sa.func.coalesce(sa.func.sum(sa.case((within, rows.c.anonymised), else_=0)), 0),
        sa.func.min(sa.case((within, rows.c.starts_at))),
        sa.func.max(sa.case((within, rows.c.starts_at))),
    )).one()
    return Totals(int(result[0]), int(result[1]), int(result[2]), int(result[3]),
                  result[4], result[5])


def figures(now: datetime, period: Period, zone: tzinfo) -> Figures:
    """The figures for `period` as of `now` (three statements for all years, four for one
    year, whatever the amount of data)."""
    start, end = period.bounds(zone)
    rows = _attended(now, end)
    within = _in(rows.c.starts_at, start)
    per_organisation = (
        sa.select(
            rows.c.organisation_id,
            sa.func.count(sa.distinct(sa.case((within, rows.c.gathering_id)))).label("gatherings"),
            sa.func.count(sa.distinct(sa.case((within, rows.c.person)))).label("people"),
            sa.func.coalesce(sa.func.sum(sa.case((within, rows.c.anonymised), else_=0)), 0)
            .label("anonymised"),
            sa.func.min(rows.c.starts_at).label("first"),
            sa.func.max(rows.c.starts_at).label("last"),
            sa.func.count(sa.distinct(rows.c.gathering_id)).label("total"),
        )
        .group_by(rows.c.organisation_id)
        .subquery("per_organisation")
    )
    organisation_rows = db.session.execute(
        sa.select(per_organisation.c.organisation_id, Organisation.name, Organisation.sector,
                  per_organisation.c.gatherings, per_organisation.c.people,
                  per_organisation.c.anonymised, per_organisation.c.first,
                  per_organisation.c.last, per_organisation.c.total)
        .join(Organisation, Organisation.id == per_organisation.c.organisation_id)
        .where(per_organisation.c.gatherings > 0)
        .order_by(per_organisation.c.gatherings.desc(), per_organisation.c.people.desc(),
                  Organisation.name, Organisation.id)
    ).all()
    organisations = [OrganisationFigures(row[0], row[1], row[2], int(row[3]), int(row[4]),
                                         int(row[5]), row[6], row[7], int(row[8]))
                     for row in organisation_rows]

    # Per sector: gatherings, people and dates from the attendances; returning and new from
    # the organisations' own groups (one statement with both groupings joined).
    by_sector = (
        sa.select(rows.c.sector,
                  sa.func.count(sa.distinct(sa.case((within, rows.c.gathering_id)))).label("g"),
                  sa.func.count(sa.distinct(sa.case((within, rows.c.person)))).label("p"),
                  sa.func.coalesce(sa.func.sum(sa.case((within, rows.c.anonymised), else_=0)), 0)
                  .label("a"),
                  sa.func.min(sa.case((within, rows.c.starts_at))).label("first"),
                  sa.func.max(sa.case((within, rows.c.starts_at))).label("last"))
        .group_by(rows.c.sector).subquery("by_sector"))
    active = per_organisation.c.gatherings > 0
    organisations_by_sector = (
        sa.select(Organisation.sector.label("sector"),
                  sa.func.count().label("o"),
                  sa.func.sum(sa.case((per_organisation.c.total >= 2, 1), else_=0)).label("r"),
                  sa.func.sum(sa.case((_in(per_organisation.c.first, start), 1), else_=0))
                  .label("n"))
        .join(Organisation, Organisation.id == per_organisation.c.organisation_id)
        .where(active)
        .group_by(Organisation.sector).subquery("organisations_by_sector"))
    sector_rows = {row.sector: row for row in db.session.execute(
        sa.select(by_sector, organisations_by_sector.c.o, organisations_by_sector.c.r,
                  organisations_by_sector.c.n)
        .join(organisations_by_sector, organisations_by_sector.c.sector == by_sector.c.sector)
    ).all()}
    sectors = []
    for sector in Sector:
        row = sector_rows.get(sector)
        sectors.append(SectorFigures(sector, int(row.o), int(row.g), int(row.p), int(row.a),
                                     row.first, row.last, int(row.r), int(row.n))
                       if row else SectorFigures(sector, 0, 0, 0, 0, None, None, 0, 0))
    totals = _totals(rows, start)
    since_start = totals if period.year is None else _totals(_attended(now, None), None)
    return Figures(period, organisations, sectors, totals=totals, since_start=since_start)


def years(now: datetime, zone: tzinfo) -> list[int]:
    """The years with an ended gathering, newest first (for the period filter)."""
    first, last = db.session.execute(
        sa.select(sa.func.min(Gathering.starts_at), sa.func.max(Gathering.starts_at))
        .where(Gathering.status == GatheringStatus.PUBLISHED, Gathering.ends_at <= now)).one()
    if first is None:
        return []
    return list(range(last.astimezone(zone).year, first.astimezone(zone).year - 1, -1))


# --- stored by the worker, read by the page ------------------------------------------------------

# Organisations per page (and per stored chunk): the page reads only the chunk it shows.
PAGE_SIZE = 50
REFRESH_SECONDS = 300
# Older stored figures mean no worker has stored them lately: the page computes them instead.
STORED_MAX_AGE = timedelta(minutes=15)
_PREFIX = "figures:"
_DATES = {"first", "last"}


@dataclass(frozen=True)
class FiguresPage:
    """A period's figures with one page of its organisations (`figures.organisations`)."""

    figures: Figures
    page: int  # 1-based, within 1..pages
    organisation_count: int
    computed_at: datetime | None  # when stored figures were computed; None: computed now

    # The interface of Flask-SQLAlchemy's pages, for the pager (admin/mail_log/_pagination.html).
    @property
    def pages(self) -> int:
        return _pages_for(self.organisation_count)

    @property
    def total(self) -> int:
        return self.organisation_count

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.organisation_count else 0

    @property
    def last(self) -> int:
        return min(self.page * PAGE_SIZE, self.organisation_count)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def _key(period: Period) -> str:
    return f"{_PREFIX}{period.year or 'alle'}"


def _row(value) -> list:
    return [item.isoformat() if isinstance(item, datetime) else item
            for item in dataclasses.astuple(value)]


def _of(cls, row: list):
    values = {}
    for item, field in zip(row, dataclasses.fields(cls), strict=True):
        if field.name in _DATES and item is not None:
            item = datetime.fromisoformat(item)
        elif field.name == "sector":
            item = Sector(item)
        values[field.name] = item
    return cls(**values)


def store(now: datetime, zone: tzinfo) -> int:
    """Compute the figures of every period as of `now` (all years, and each year) and store
    them in place of the stored ones (no commit). Returns how many periods were stored."""
    periods = [Period(), *(Period(year) for year in years(now, zone))]
    db.session.execute(sa.delete(FigureSnapshot).where(FigureSnapshot.name.startswith(_PREFIX)))
    for period in periods:
        result = figures(now, period, zone)
        db.session.add(FigureSnapshot(name=_key(period), computed_at=now, body={
            "sectors": [_row(row) for row in result.sectors],
            "totals": _row(result.totals), "since_start": _row(result.since_start),
            "organisations": len(result.organisations)}))
        for start in range(0, len(result.organisations), PAGE_SIZE):
            db.session.add(FigureSnapshot(
                name=f"{_key(period)}:{start // PAGE_SIZE + 1}", computed_at=now,
                body={"rows": [_row(row) for row in result.organisations[start:start + PAGE_SIZE]]}))
    db.session.flush()
    return len(periods)


def _pages_for(count: int) -> int:
    """Pages of PAGE_SIZE organisations for `count` of them (an empty list is one page)."""
    return max(-(-count // PAGE_SIZE), 1)


def _page_number(number: int | None, count: int) -> int:
    return min(max(number or 1, 1), _pages_for(count))


def stored_page(now: datetime, period: Period, number: int | None) -> FiguresPage | None:
    """Page `number` of the stored figures for `period`, if they were stored less than
    STORED_MAX_AGE before `now`; a number out of range gives the nearest page there is."""
    summary = db.session.get(FigureSnapshot, _key(period))
    if summary is None or not timedelta(0) <= now - summary.computed_at < STORED_MAX_AGE:
        return None
    body = summary.body
    page = _page_number(number, body["organisations"])
    chunk = db.session.get(FigureSnapshot, f"{_key(period)}:{page}")
    rows = chunk.body["rows"] if chunk is not None else []
    result = Figures(period, [_of(OrganisationFigures, row) for row in rows],
                     [_of(SectorFigures, row) for row in body["sectors"]],
                     totals=_of(Totals, body["totals"]),
                     since_start=_of(Totals, body["since_start"]))
    return FiguresPage(result, page, body["organisations"], summary.computed_at)


def page_of(now: datetime, period: Period, zone: tzinfo, number: int | None) -> FiguresPage:
    """Page `number` of the figures for `period`: as stored when fresh, else computed now."""
    stored = stored_page(now, period, number)
    if stored is not None:
        return stored
    result = figures(now, period, zone)
    page = _page_number(number, len(result.organisations))
    start = (page - 1) * PAGE_SIZE
    return FiguresPage(dataclasses.replace(
        result, organisations=result.organisations[start:start + PAGE_SIZE]),
        page, len(result.organisations), None)
