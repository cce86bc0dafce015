"""Exporting registrations: the pure row builders (no app) and the downloads."""

import csv
import io
import sqlite3
import threading
import time
import tracemalloc
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa

from klynge_rsvp import checkin, exports
from klynge_rsvp.admin import exports as export_views
from klynge_rsvp.admin.exports import XLSX
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Registration, RegistrationStatus, Sector, new_token
from klynge_rsvp.names import sort_key
from tests.admin_helpers import audit_actions, register, registration, upcoming_gathering
from tests.conftest import person

OSLO = ZoneInfo("Europe/Oslo")


def fake(**overrides):
    """Something shaped like a row of an export, without a database."""
    values = {
        "id": 7, "name": "Ærlig Østby-Åsen", "email": "aerlig@example.no", "job_title": "Rådgiver",
        "status": RegistrationStatus.WAITING, "needs": "Vegetar", "comment": "",
        "created_at": datetime(2026, 6, 1, 10, 30, tzinfo=UTC),
        "checked_in_at": None,
        "organisation_name": "Bergen kommune", "sector": Sector.PUBLIC, "org_number": "964338531",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.mark.parametrize("dangerous", ["=1+1", "+47 555", "-2", "@SUM(A1)", "\tx", "\rx",
                                       "=HYPERLINK(\"http://evil\")"])
def test_formula_starts_get_an_apostrophe(dangerous):
    assert exports.neutralise(dangerous) == "'" + dangerous
    [cells] = exports.rows([fake(name=dangerous, comment=dangerous)], waiting_positions={},
                           zone=OSLO)
    assert cells[0] == cells[9] == "'" + dangerous


@pytest.mark.parametrize("harmless", ["Kari", "Ærlig", "1 + 1", "kari@example.no", "", "'=x"])
def test_harmless_text_is_left_alone(harmless):
    assert exports.neutralise(harmless) == harmless
    assert exports.neutralise(3) == 3 and exports.neutralise(None) is None


def test_row_has_the_columns_an_organiser_needs():
    summer = fake(checked_in_at=datetime(2026, 6, 11, 6, 5, tzinfo=UTC))
    [cells] = exports.rows([summer], waiting_positions={7: 3}, zone=OSLO)
    assert dict(zip(exports.HEADER, cells, strict=True)) == {
        "Navn": "Ærlig Østby-Åsen", "E-post": "aerlig@example.no", "Virksomhet": "Bergen kommune",
        "Sektor": "Offentlig", "Organisasjonsnummer": "964338531", "Stilling": "Rådgiver",
        "Status": "Venteliste", "Plass på venteliste": 3, "Behov": "Vegetar", "Kommentar": "",
        "Påmeldt": datetime(2026, 6, 1, 12, 30),  # Oslo summer time
        "Sjekket inn": datetime(2026, 6, 11, 8, 5),
    }


def test_csv_is_semicolon_separated_utf8_with_bom():
    table = exports.rows([fake(comment="Kommer; kanskje\nsent – blåbær", name="=cmd")],
                         waiting_positions={}, zone=OSLO)
    data = exports.csv_bytes(table)
    assert data.startswith(b"\xef\xbb\xbf")
    assert "blåbær".encode() in data
    lines = data.decode("utf-8-sig")
    assert lines.startswith("Navn;E-post;Virksomhet;Sektor;Organisasjonsnummer;Stilling;Status;"
                            "Plass på venteliste;Behov;Kommentar;Påmeldt;Sjekket inn\r\n")
    [header, row] = list(csv.reader(io.StringIO(lines), delimiter=";"))
    assert row[0] == "'=cmd"
    assert row[9] == "Kommer; kanskje\nsent – blåbær"
    assert row[10] == "01.06.2026 12:30" and row[11] == "" and row[7] == ""
    assert len(header) == len(row) == 12


def test_xlsx_opens_with_text_never_formulas():
    table = exports.rows([fake(name="=1+1", checked_in_at=datetime(2026, 1, 13, 7, 0, tzinfo=UTC),
                               comment="Bjørn\x0bsier =2+2"),
                          fake(id=8, name="Åse", status=RegistrationStatus.CONFIRMED)],
                         waiting_positions={7: 1}, zone=OSLO)
    book = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(table)))
    sheet = book.active
    assert [c.value for c in sheet[1]] == exports.HEADER
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    name = sheet["A2"]
    assert name.value == "'=1+1" and name.data_type == "s"
    assert sheet["J2"].value == "Bjørnsier =2+2"
    assert sheet["L2"].value == datetime(2026, 1, 13, 8, 0)  # winter time in Oslo
    assert sheet["H2"].value == 1 and sheet["H3"].value is None
    assert sheet["G3"].value == "Har plass" and sheet["A3"].value == "Åse"


def test_xlsx_is_written_row_by_row_and_reads_back_the_same():
    table = exports.rows([
        fake(name="Ærlig Østby-Åsen", checked_in_at=datetime(2026, 6, 11, 6, 5, tzinfo=UTC)),
        fake(id=8, name="-1", status=RegistrationStatus.CONFIRMED, job_title="", needs="",
             comment="Ku\x00rt", organisation_name="Røde Kors", sector=Sector.VOLUNTEER,
             org_number=None),
    ], waiting_positions={7: 4}, zone=OSLO)
    data = exports.xlsx_bytes(table)

    # Written row by row (constant memory): texts inline, never in a shared-strings table.
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        xml = package.read("xl/worksheets/sheet1.xml").decode()
        assert 't="inlineStr"' in xml and "sharedStrings" not in " ".join(package.namelist())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Påmeldinger"
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        exports.HEADER,
        ["Ærlig Østby-Åsen", "aerlig@example.no", "Bergen kommune", "Offentlig", "964338531",
         "Rådgiver", "Venteliste", 4, "Vegetar", None, datetime(2026, 6, 1, 12, 30),
         datetime(2026, 6, 11, 8, 5)],
        ["'-1", "aerlig@example.no", "Røde Kors", "Frivillig", None, None, "Har plass", None,
         None, "Kurt", datetime(2026, 6, 1, 12, 30), None],
    ]
    assert all(cell.font.bold for cell in sheet[1]) and not sheet["A2"].font.bold
    assert sheet["K2"].number_format == sheet["L2"].number_format == "dd.mm.yyyy hh:mm"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:L3"
    # Excel stores a width in characters plus its padding (24 → 24.71); K and L share one range.
    assert [int(sheet.column_dimensions[letter].width) for letter in "ABK"] == [24, 30, 17]


# --- downloads -----------------------------------------------------------------------------------


def test_csv_and_xlsx_downloads(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=1, slug="frokost")
    first, _ = register(app, gathering_id, 1, 2)
    register(app, gathering_id, 3, person=person(3, name="@Ola"), comment="=HYPERLINK(1)")
    with app.app_context():
        checkin.check_in(registration(first), now=utcnow(), by=None)
        db.session.commit()
    base = f"/arrangor/samlinger/{gathering_id}/pameldinger"

    response = organiser_client.get(f"{base}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="pameldinger-frokost.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["'@Ola", "Deltaker 1", "Deltaker 2"]
    ola, one, two = rows[1:]
    assert ola[9] == "'=HYPERLINK(1)" and ola[6] == "Venteliste" and ola[7] == "2"
    assert one[6] == "Har plass" and one[11] != "" and two[7] == "1"

    waiting_only = organiser_client.get(f"{base}.csv?status=waiting")
    assert waiting_only.data.decode("utf-8-sig").count("\r\n") == 3

    workbook = organiser_client.get(f"{base}.xlsx")
    assert workbook.status_code == 200
    assert workbook.mimetype == XLSX
    assert workbook.headers["Content-Disposition"] == \
        'attachment; filename="pameldinger-frokost.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
    assert sheet.max_row == 4 and sheet["A2"].value == "'@Ola"
    assert [[c.value for c in row][:8] for row in sheet.iter_rows(min_row=2)] == [
        ["'@Ola", "deltaker3@example.no", "Bergen kommune", "Offentlig", None, "Rådgiver",
         "Venteliste", 2],
        ["Deltaker 1", "deltaker1@example.no", "Bergen kommune", "Offentlig", None, "Rådgiver",
         "Har plass", None],
        ["Deltaker 2", "deltaker2@example.no", "Bergen kommune", "Offentlig", None, "Rådgiver",
         "Venteliste", 1],
    ]
    with app.app_context():
        assert audit_actions(gathering_id) == ["export", "export", "export"]


def test_download_waits_for_another_writer_instead_of_failing(app, organiser_client, make_gathering):
    """The download reads, then writes its audit entry. On SQLite a read transaction cannot wait
    to write while another connection writes ("database is locked" at once): it must write in a
    transaction of its own, which waits for the lock."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's locking")
    gathering_id = upcoming_gathering(app, make_gathering, slug="frokost")
    register(app, gathering_id, 1)
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    writing, done = threading.Event(), threading.Event()

    def another_request_writing():
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writing.set()
        time.sleep(0.5)
        writer.commit()
        writer.close()
        done.set()

    threading.Thread(target=another_request_writing).start()
    assert writing.wait(5)
    response = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/pameldinger.csv")
    assert done.wait(5)
    assert response.status_code == 200
    assert "Deltaker 1" in response.data.decode("utf-8-sig")
    with app.app_context():
        assert audit_actions(gathering_id) == ["export"]


def test_downloads_are_in_norwegian_order_with_every_filter(app, organiser_client, make_gathering):
    """The database sorts (Registration.sort_name): æ ø å after z, accents and case folded, on
    SQLite and PostgreSQL alike; filters and the search keep that order."""
    gathering_id = upcoming_gathering(app, make_gathering, capacity=20, slug="frokost")
    names = ["Åse Li", "zara Li", "Øyvind", "Ærlig Li", "Émile", "anne Li", "Bjørn", "Aaron"]
    for n, name in enumerate(names, start=1):
        register(app, gathering_id, n, person=person(n, name=name))
    base = f"/arrangor/samlinger/{gathering_id}/pameldinger"

    def names_in(path):
        text = organiser_client.get(path).data.decode("utf-8-sig")
        return [row[0] for row in list(csv.reader(io.StringIO(text), delimiter=";"))[1:]]

    assert names_in(f"{base}.csv") == ["Aaron", "anne Li", "Bjørn", "Émile", "zara Li",
                                       "Ærlig Li", "Øyvind", "Åse Li"]
    assert names_in(f"{base}.csv?q=li") == ["anne Li", "zara Li", "Ærlig Li", "Åse Li"]
    sheet = openpyxl.load_workbook(io.BytesIO(organiser_client.get(f"{base}.xlsx?q=li").data)).active
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == ["anne Li", "zara Li",
                                                                    "Ærlig Li", "Åse Li"]
    list_page = organiser_client.get(base).data.decode()
    assert [list_page.index(name) for name in ("Aaron", "Bjørn", "zara Li", "Åse Li")] == \
        sorted(list_page.index(name) for name in ("Aaron", "Bjørn", "zara Li", "Åse Li"))


def _many(app, gathering_id, count):
    """`count` confirmed registrations, inserted in one statement (composing each one's mail
    would take a minute)."""
    with app.app_context():
        organisation_id = db.session.scalar(sa.select(Registration.organisation_id).limit(1))
        now = utcnow()
        db.session.execute(sa.insert(Registration), [
            {"gathering_id": gathering_id, "organisation_id": organisation_id,
             "name": f"Person {n:05d} Østby", "sort_name": sort_key(f"Person {n:05d} Østby"),
             "email": f"p{n}@example.no", "email_key": f"p{n}@example.no", "job_title": "Rådgiver",
             "needs": "Vegetar", "comment": "Kommer litt sent", "consented_at": now,
             "status": RegistrationStatus.CONFIRMED, "token": new_token(), "created_at": now,
             "updated_at": now} for n in range(count)])
        db.session.commit()


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_a_long_download_streams_in_the_same_memory(app, organiser_client, make_gathering,
                                                    monkeypatch, extension):
    """Five times the people, the same memory: rows are read and written a batch at a time.
    Before, every row (and the whole file) was held at once, and the peak grew with the list."""
    monkeypatch.setattr(export_views, "BATCH", 100)
    small = upcoming_gathering(app, make_gathering, capacity=None, slug="liten")
    register(app, small, 1)
    large = upcoming_gathering(app, make_gathering, capacity=None, slug="stor")
    _many(app, small, 400)
    _many(app, large, 2000)

    def peak(gathering_id):
        tracemalloc.start()
        try:
            response = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/pameldinger.{extension}")
            size = sum(len(chunk) for chunk in response.iter_encoded())
            response.close()
            return tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    peak(small)  # the first download fills caches (compiled queries, translations)
    (small_peak, small_size), (large_peak, large_size) = peak(small), peak(large)
    assert large_size > 3 * small_size  # (a workbook is compressed)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
