"""Demo data: the network's real history (`HISTORY` below) and one gathering to register for.

The history was copied into this module from the network's own list of its gatherings (the
seed file the project started from); this module is now the only copy the demo needs.

The seed lists the gatherings by date, venue and theme. It gives no clock times, so the times
below are the usual ones for each format (breakfast 08.00–10.00, lunch 11.30–13.30, the brain
storm a working day): an assumption, not history.

The seed writes the fifth date as "19.12.05". Read as dd.mm.yy that is 19 December 2005, years
before the network began in February 2018; the list is in date order and the fourth gathering
was 13.06.19, so the fifth is 5 December 2019 written yy.mm.dd. We record 2019-12-05.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from . import gatherings
from .clock import from_local, local_zone
from .extensions import db
from .models import Gathering, GatheringStatus

NETWORK_DESCRIPTION = (
    "Beredskapsklyngen er et uformelt kunnskapsnettverk for samfunnssikkerhet og beredskap, "
    "etablert etter initiativ fra Bergen kommune, Universitetet i Bergen og Bergen næringsråd. "
    "Samfunnssikkerhetens hus koordinerer aktivitetene."
)
HOSTS = "Bergen kommune, Universitetet i Bergen og Bergen næringsråd"


@dataclass(frozen=True)
class HistoricGathering:
    number: int
    format: str
    day: date
    start: time
    end: time
    venue_name: str
    venue_address: str
    theme: str
    status: GatheringStatus = GatheringStatus.PUBLISHED
    status_message: str = ""


HISTORY = [
    HistoricGathering(1, "Frokostmøte", date(2018, 2, 23), time(8), time(10),
                      "Ole Bull Scene", "Øvre Ole Bulls plass 3, 5012 Bergen",
                      "La oss skape en nasjonal beredskapsklynge"),
    HistoricGathering(2, "Hjernedugnad", date(2018, 5, 15), time(9), time(15),
                      "Scandic Ørnen", "Lars Hilles gate 18, 5008 Bergen",
                      "Hjernedugnad om Samfunnssikkerhetens hus"),
    HistoricGathering(3, "Frokostseminar", date(2018, 12, 4), time(8), time(10),
                      "Universitetsaulaen i Bergen", "Muséplass 3, 5007 Bergen",
                      "Ut av siloene"),
    # The seed says "Radisson Blue Bryggen": the hotel is Radisson Blu Royal Hotel, Bryggen.
    HistoricGathering(4, "Frokostmøte", date(2019, 6, 13), time(8), time(10),
                      "Radisson Blu Royal Hotel, Bryggen", "Dreggsallmenningen 1, 5003 Bergen",
                      "Kan standarder bedre samfunnssikkerhet og beredskap – har vi noe å lære "
                      "av hverandre?"),
    # Written "19.12.05" in the seed: 5 December 2019 (see the module docstring).
    HistoricGathering(5, "Lunsjseminar", date(2019, 12, 5), time(11, 30), time(13, 30),
                      "Grand konferanse- og festlokaler", "Bergen",
                      "Når hvert ord teller tyngre: Risiko- og krisekommunikasjon"),
    HistoricGathering(6, "Lunsjsamling", date(2020, 5, 5), time(11, 30), time(13, 30),
                      "Høgskulen på Vestlandet, campus Bergen", "Inndalsveien 28, 5063 Bergen",
                      "Innovasjon og utvikling", status=GatheringStatus.POSTPONED,
                      status_message="Vi kommer tilbake med ny dato."),
]


def next_demo_day(today: date) -> date:
    """A Thursday about four weeks ahead, outside the Christmas break: the demo gathering."""
    day = today + timedelta(days=28)
    if (day.month == 12 and day.day >= 18) or (day.month == 1 and day.day <= 6):
        day = date(day.year + (day.month == 12), 1, 7)
    return day + timedelta(days=(3 - day.weekday()) % 7)


def load(*, now: datetime) -> bool:
    """Load the demo data into an empty database; returns False if there was data already."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Gathering)):
        return False
    zone = local_zone(current_app.config["KLYNGE_TIMEZONE"])
    for past in HISTORY:
        gatherings.create(
            title=past.theme,
            theme=past.theme,
            format=past.format,
            starts_at=from_local(datetime.combine(past.day, past.start), zone),
            ends_at=from_local(datetime.combine(past.day, past.end), zone),
            venue_name=past.venue_name,
            venue_address=past.venue_address,
            host=HOSTS,
            description=f"Beredskapsklyngens samling nr. {past.number}. {NETWORK_DESCRIPTION}",
            status=past.status,
            status_message=past.status_message,
            now=now,
            slug=gatherings.slugify(f"{past.day:%Y-%m-%d} {past.format}"),
        )
    day = next_demo_day(now.astimezone(zone).date())
    starts_at = from_local(datetime.combine(day, time(8)), zone)
    gatherings.create(
        title="Beredskap når strømmen går",
        theme="Hva skjer i byen vår når strømmen er borte i tre døgn – og hvem gjør hva?",
        format="Frokostmøte",
        starts_at=starts_at,
        ends_at=from_local(datetime.combine(day, time(10)), zone),
        venue_name="Bergen rådhus, Store sal",
        venue_address="Rådhusgaten 10, 5014 Bergen",
        host=HOSTS,
        description=(
            "Et demo-arrangement. Frokost fra 07.45. Innledninger fra kommunen, nettselskapet og "
            "frivilligheten, deretter samtale i plenum.\n\n" + NETWORK_DESCRIPTION
        ),
        capacity=60,
        registration_deadline=starts_at - timedelta(days=2),
        status=GatheringStatus.PUBLISHED,
        now=now,
        slug=gatherings.slugify(f"{day:%Y-%m-%d} Frokostmøte"),
    )
    return True
