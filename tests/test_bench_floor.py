"""The floor app of the benchmarks (bench/floor_app.py, issue 20) does the journey the load
client drives: otherwise Klynge would be measured against something that does less."""

import sqlalchemy as sa

from bench import floor_app
from bench.loadgen import TOKEN


def test_the_floor_app_registers_through_its_form_with_one_outbox_row(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'floor.sqlite3'}"
    floor_app.create_tables(url)
    engine = floor_app.make_engine(url)
    monkeypatch.setattr(floor_app, "engine", engine)  # the app reads DATABASE_URL at import
    monkeypatch.setitem(floor_app.app.config, "PROPAGATE_EXCEPTIONS", True)
    client = floor_app.app.test_client()

    page = client.get("/samlinger/golv")
    assert page.status_code == 200
    token = TOKEN.search(page.text).group(1)  # the load client finds the CSRF token
    form = {"csrf_token": token, "name": "Kari Nordmann", "email": "kari@example.no",
            "job_title": "Rådgiver", "organisation": "Bergen kommune", "sector": "offentlig",
            "consent": "y"}

    def counts() -> tuple[int, int]:
        with engine.connect() as connection:
            return tuple(connection.scalar(sa.select(sa.func.count()).select_from(table))
                         for table in (floor_app.registrations, floor_app.outbox))

    assert client.post("/samlinger/golv", data={**form, "csrf_token": "x"}).status_code == 200
    assert client.post("/samlinger/golv", data={**form, "email": "nei"}).status_code == 200
    assert counts() == (0, 0)  # a refused form writes nothing

    response = client.post("/samlinger/golv", data=form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/samlinger/golv/kvittering")
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert "Kari Nordmann" in receipt.text
    assert counts() == (1, 1)
    with engine.connect() as connection:
        message = connection.scalar(sa.select(floor_app.outbox.c.message))
    assert len(message) == 8192
    engine.dispose()
