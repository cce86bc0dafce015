"""Finding the gatherings the public API lists: one page of them, and their number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..gatherings import VISIBLE, seats_left_by_gathering
from ..models import Gathering

WHEN = ("upcoming", "past")


@dataclass(frozen=True)
class GatheringPage:
    gatherings: list[Gathering]
    seats_left: dict[int, int | None]
    total: int


def _listed(when: str, now: datetime):
    """Public gatherings (published, postponed, cancelled; never drafts), upcoming (not ended)
    or past (ended), as the front page and the archive divide them."""
    ended = Gathering.ends_at <= now
    return sa.and_(Gathering.status.in_(VISIBLE), ended if when == "past" else sa.not_(ended))


def page_of(when: str, *, page: int, per_page: int, now: datetime) -> GatheringPage:
    """Page `page` (from 1) of `per_page` gatherings: upcoming soonest first, past latest first,
    the id breaking ties so a page never shifts between two requests. Four queries, however
    long the page: the total, the page, the programmes and the seats of all of it (past the
    last page, only the total)."""
    condition = _listed(when, now)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Gathering).where(condition))
    order = ((Gathering.starts_at.desc(), Gathering.id.desc()) if when == "past"
             else (Gathering.starts_at, Gathering.id))
    offset = (page - 1) * per_page
    if offset >= (total or 0):  # past the end: no query (nor an offset the database can't hold)
        return GatheringPage([], {}, total or 0)
    found = list(db.session.scalars(
        sa.select(Gathering).where(condition).order_by(*order).limit(per_page).offset(offset)
        .options(selectinload(Gathering.programme))))  # each item's subEvent: one query for all
    return GatheringPage(found, seats_left_by_gathering(found), total or 0)
