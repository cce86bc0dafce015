"""Finding gatherings: what is coming, what has been, and one by its address."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime

import sqlalchemy as sa
from flask import abort

from .errors import DomainError
from .extensions import db
from .links import base_host
from .models import Gathering, GatheringStatus

VISIBLE = (GatheringStatus.PUBLISHED, GatheringStatus.POSTPONED, GatheringStatus.CANCELLED)


def upcoming(now: datetime) -> list[Gathering]:
    """Public gatherings that have not ended, soonest first (postponed ones last)."""
    return list(db.session.scalars(
        sa.select(Gathering)
        .where(Gathering.status.in_(VISIBLE), Gathering.ends_at > now)
        .order_by(Gathering.starts_at)
    ))


def archive(now: datetime) -> list[Gathering]:
    """Public gatherings that have ended, most recent first."""
    return list(db.session.scalars(
        sa.select(Gathering)
        .where(Gathering.status.in_(VISIBLE), Gathering.ends_at <= now)
        .order_by(Gathering.starts_at.desc())
    ))


def get_public_or_404(slug: str) -> Gathering:
    """The published (or postponed, or cancelled) gathering at `slug`, or 404."""
    gathering = db.session.scalar(sa.select(Gathering).where(Gathering.slug == slug))
    if gathering is None or gathering.status not in VISIBLE:
        abort(404)
    return gathering


def slugify(text: str) -> str:
    """A readable URL part: "Frokostmøte på Ørnen" → "frokostmote-pa-ornen"."""
    folded = text.lower().translate(str.maketrans({"æ": "ae", "ø": "o", "å": "a"}))
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:80] or "samling"


def unique_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3`… if taken."""
    slug, n = base, 1
    while db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create(*, title: str, format: str, starts_at: datetime, ends_at: datetime,
           venue_name: str, now: datetime, slug: str | None = None, **details) -> Gathering:
    """A new gathering (a draft unless `status` says otherwise) with its own calendar UID."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if ends_at <= starts_at:
        raise DomainError("Slutttidspunktet må være etter starttidspunktet.")
    gathering = Gathering(
        slug=unique_slug(slug or slugify(f"{starts_at:%Y-%m-%d} {title}")),
        title=title,
        format=format,
        starts_at=starts_at,
        ends_at=ends_at,
        venue_name=venue_name,
        ical_uid=f"{uuid.uuid4()}@{base_host()}",
        ical_sequence=0,
        created_at=now,
        updated_at=now,
        **details,
    )
    db.session.add(gathering)
    db.session.flush()
    return gathering
