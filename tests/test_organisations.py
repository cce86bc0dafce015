"""Organisation names and numbers (pure functions)."""

import pytest

from klynge_rsvp.organisations import clean_org_number, is_valid_org_number, name_key, tidy_name


@pytest.mark.parametrize("number", ["974760673", "937885644", "983971636"])
def test_valid_org_numbers(number):
    assert is_valid_org_number(number)


@pytest.mark.parametrize("number", [
    "974760674",     # wrong check digit
    "97476067",      # too short
    "9747606730",    # too long
    "97476067a",     # not digits
    "",
    "٩٧٤٧٦٠٦٧٣",     # Arabic-Indic digits are digits to Python, not to Brønnøysund
])
def test_invalid_org_numbers(number):
    assert not is_valid_org_number(number)


def test_number_whose_check_digit_would_be_ten_is_invalid():
    # 12345678x: weighted sum 3+4+21+24+25+24+21+16 = 138, 138 % 11 = 6 → check 5.
    assert is_valid_org_number("123456785")
    # Find a prefix with remainder 1 (check digit would be 10): no last digit makes it valid.
    prefix = next(p for p in (f"{n:08d}" for n in range(10_000_000, 10_001_000))
                  if sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), p, strict=True)) % 11 == 1)
    assert not any(is_valid_org_number(prefix + str(d)) for d in range(10))


def test_clean_org_number():
    assert clean_org_number(" 974 760 673 ") == "974760673"
    assert clean_org_number("974.760.673") == "974760673"


def test_names_fold_case_space_and_unicode_form():
    assert tidy_name("  Bergen   Røde\tKors ") == "Bergen Røde Kors"
    decomposed = "Bergen Ro\u0308de Kors"  # ö written as o + combining diaeresis
    assert name_key(decomposed) == name_key("bergen röde kors")
    assert name_key("Bergen Røde Kors") == name_key(" bergen røde  kors")
    assert name_key("Bergen Røde Kors") != name_key("Bergen Røde Kors Ungdom")


# --- however typed (issue 16) -------------------------------------------------------------------

import sqlalchemy as sa  # noqa: E402

from klynge_rsvp import organisations, rsvp  # noqa: E402
from klynge_rsvp.errors import DomainError  # noqa: E402
from klynge_rsvp.extensions import db  # noqa: E402
from klynge_rsvp.models import AuditEntry, Organisation, Registration, Sector  # noqa: E402
from klynge_rsvp.stored_text import shown  # noqa: E402
from tests.conftest import NOW, registration_request  # noqa: E402

SAME = [
    ("Universitetet i Bergen", "Universitetet i bergen."),
    ("Universitetet i Bergen", "Universitetet i Bergen (UiB)"),
    ("Universitetet i Bergen", "UNIVERSITETET I BERGEN"),
    ("Bergen næringsråd", "bergen naeringsrad"),
    ("Bergen næringsråd", "Bergen Næringsråd."),
    ("Bergen Røde Kors", "Bergen Rode Kors"),
    ("Bergen Røde Kors", "Bergen Roede Kors"),
    ("Åsane bydel", "Aasane bydel"),
    ("Høgskulen på Vestlandet", "Høgskulen på Vestlandet (HVL)"),
    ("St. Olavs hospital", "St Olavs Hospital"),
    ("Kafé Øst", "Kafe ost"),
    ("Bergen kommune", "Bergen kommune,"),
]
DIFFERENT = [
    ("Bergen kommune", "Bergen kommune Ungdom"),
    ("Universitetet i Bergen", "Universitetet i Oslo"),
    ("Kari (Beredskap) AS", "Kari AS"),  # only a short name in parentheses at the end goes
    ("Bergen Олег", "Bergen"),  # other scripts stay part of the name
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_names_however_typed_are_one(one, other):
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_names_that_differ_stay_apart(one, other):
    assert name_key(one) != name_key(other)


def test_a_name_of_punctuation_only_still_has_a_key():
    assert name_key("...") == "..."
    assert name_key("(UiB)") == "uib"


def register_from(gathering, n, organisation, **overrides):
    [outcome] = rsvp.register(gathering, registration_request(
        n, organisation_name=organisation, **overrides), now=NOW)
    return outcome.registration


def test_registrations_typed_differently_land_in_one_organisation(ctx, make_gathering):
    gathering = make_gathering()
    found = {register_from(gathering, n, name).organisation_id
             for n, name in enumerate(["Universitetet i Bergen", "Universitetet i bergen.",
                                       "Universitetet i Bergen (UiB)"], 1)}
    assert len(found) == 1
    assert db.session.get(Organisation, found.pop()).name == "Universitetet i Bergen"


def test_merge_moves_registrations_keeps_the_name_leading_there_and_is_audited(ctx,
                                                                              make_gathering):
    gathering = make_gathering()
    first = register_from(gathering, 1, "Universitetet i Bergen")
    second = register_from(gathering, 2, "UiB", org_number="974760673")
    keep, gone = first.organisation, second.organisation
    assert keep.id != gone.id
    gone_id = gone.id

    assert organisations.merge(keep, gone, now=NOW, by=None) == 1
    db.session.flush()
    db.session.expire_all()
    assert db.session.get(Organisation, gone_id) is None
    assert db.session.get(Registration, second.id).organisation_id == keep.id
    assert keep.org_number == "974760673"  # filled in from the one merged
    # Typed the merged way again, it leads to the one kept.
    assert register_from(gathering, 3, "uib").organisation_id == keep.id
    assert organisations.find("UiB.").id == keep.id
    [entry] = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "organisation_merge"))
    assert shown(entry, "summary") == \
        "Slo «UiB» sammen med «Universitetet i Bergen». Påmeldinger flyttet: 1."
    with pytest.raises(DomainError):
        organisations.merge(keep, keep, now=NOW, by=None)


def test_merging_one_that_had_others_merged_into_it_keeps_all_their_names(ctx, make_gathering):
    gathering = make_gathering()
    a = register_from(gathering, 1, "Bergen kommune").organisation
    b = register_from(gathering, 2, "BK").organisation
    c = register_from(gathering, 3, "Kommunen i Bergen").organisation
    organisations.merge(b, c, now=NOW, by=None)
    organisations.merge(a, b, now=NOW, by=None)
    db.session.flush()
    assert {organisations.find(n).id for n in ("BK", "kommunen i bergen", "Bergen kommune")} \
        == {a.id}


def test_update_sets_number_sector_and_list_checks_the_number_and_is_audited(ctx,
                                                                           make_gathering):
    gathering = make_gathering()
    organisation = register_from(gathering, 1, "Bergen Røde Kors").organisation
    other = register_from(gathering, 2, "Kirkens Bymisjon", org_number="974760673").organisation
    with pytest.raises(DomainError, match="gyldig"):
        organisations.update(organisation, name="Bergen Røde Kors", sector=Sector.VOLUNTEER,
                             org_number="974760674", listed=False, now=NOW, by=None)
    with pytest.raises(DomainError, match="Kirkens Bymisjon"):
        organisations.update(organisation, name="Bergen Røde Kors", sector=Sector.VOLUNTEER,
                             org_number="974 760 673", listed=False, now=NOW, by=None)
    with pytest.raises(DomainError, match="Kirkens Bymisjon"):
        organisations.update(organisation, name="Kirkens bymisjon.", sector=Sector.VOLUNTEER,
                             org_number="", listed=False, now=NOW, by=None)
    assert organisation.sector == Sector.PUBLIC and organisation.org_number is None
    assert other.name == "Kirkens Bymisjon"

    assert organisations.update(organisation, name="Bergen Røde Kors", sector=Sector.VOLUNTEER,
                                org_number="937 885 644", listed=True, now=NOW, by=None)
    assert (organisation.sector, organisation.org_number, organisation.listed) == \
        (Sector.VOLUNTEER, "937885644", True)
    assert not organisations.update(organisation, name="Bergen Røde Kors",
                                    sector=Sector.VOLUNTEER, org_number="937885644",
                                    listed=True, now=NOW, by=None)
    [entry] = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "organisation_edit"))
    assert shown(entry, "summary") == \
        "«Bergen Røde Kors»: endret sektor, organisasjonsnummer, forslag i skjemaet."
    # A new name: the old one still leads here.
    organisations.update(organisation, name="Røde Kors Bergen", sector=Sector.VOLUNTEER,
                         org_number="937885644", listed=True, now=NOW, by=None)
    assert organisations.find("Bergen Røde Kors").id == organisation.id


def test_suggestions_are_listed_organisations_and_those_two_people_came_from(ctx,
                                                                             make_gathering):
    gathering = make_gathering()
    register_from(gathering, 1, "Bergen kommune")
    register_from(gathering, 2, "bergen kommune.")
    register_from(gathering, 3, "Ola sitt enkeltpersonforetak")
    listed = register_from(gathering, 4, "Bergen Røde Kors").organisation
    assert organisations.suggestions() == ["Bergen kommune"]
    listed.listed = True
    assert organisations.suggestions() == ["Bergen kommune", "Bergen Røde Kors"]
    # The same person twice (two gatherings) is one person.
    register_from(make_gathering(), 3, "Ola sitt enkeltpersonforetak")
    assert "Ola sitt enkeltpersonforetak" not in organisations.suggestions()


def test_suggestions_are_capped_listed_first_then_the_most_people(ctx, make_gathering,
                                                                  monkeypatch):
    gathering = make_gathering()
    for n, name in enumerate(["A", "a.", "B", "b.", "B!", "C", "c."], 1):
        register_from(gathering, n, f"Firma {name}")
    register_from(gathering, 8, "Listet").organisation.listed = True
    monkeypatch.setattr(organisations, "SUGGEST_AT_MOST", 2)
    assert organisations.suggestions() == ["Firma B", "Listet"]
