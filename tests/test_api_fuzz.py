"""The public API fuzzed from its own OpenAPI description (schemathesis): generated requests,
valid and not, against the app in-process; every answer must be documented (status, headers,
body) and none a server error."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import GatheringStatus


@pytest.fixture
def api_schema(make_app, app_config, make_gathering):
    # Generated requests come by the hundred from one address: the limit is tested in test_api.
    app = make_app({**app_config, "API_RATE_LIMIT": "100000 per minute"})
    now = utcnow()
    with app.app_context():
        for days, status in ((2, GatheringStatus.PUBLISHED), (4, GatheringStatus.CANCELLED),
                             (6, GatheringStatus.DRAFT), (-3, GatheringStatus.PUBLISHED)):
            make_gathering(now=now, starts_at=now + timedelta(days=days), capacity=5,
                           status=status)
        db.session.commit()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def test_every_generated_request_gets_a_documented_answer(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {operation.label for operation in operations}  # (schemathesis skips its own
    assert {"GET /gatherings", "GET /gatherings/{slug}"} <= labels  # schema's address)

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        def answers_as_documented(case):
            case.call_and_validate()

        answers_as_documented()


@pytest.fixture
def organiser_api_schema(make_app, app_config, make_gathering):
    """The app with gatherings, registrations and an organiser's key to every scope: the schema
    and the header that carries the key."""
    from klynge_rsvp import api_tokens, organisers, rsvp
    from tests.conftest import ORGANISER_PASSWORD, registration_request

    app = make_app({**app_config, "API_RATE_LIMIT": "100000 per minute"})
    now = utcnow()
    with app.app_context():
        for days, status in ((2, GatheringStatus.PUBLISHED), (6, GatheringStatus.DRAFT)):
            gathering = make_gathering(now=now, starts_at=now + timedelta(days=days), capacity=1,
                                       status=status)
            for n in (1, 2) if status == GatheringStatus.PUBLISHED else ():
                rsvp.register(gathering, registration_request(n), now=now)
        owner = organisers.create("arrangor@bergen.kommune.no", ORGANISER_PASSWORD, now=now)
        _key, token = api_tokens.create(owner, name="Fuzz", scopes=list(api_tokens.SCOPES),
                                        lifetime_days=None, now=now)
        db.session.commit()
    return (schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app),
            {"Authorization": f"Bearer {token}"})


def test_the_organiser_api_answers_as_documented_with_a_key(organiser_api_schema):
    schema, headers = organiser_api_schema
    operations = [result.ok() for result in schema.get_all_operations()
                  if result.ok().label.startswith("GET /organiser/")]
    assert len(operations) == 3

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        def answers_as_documented(case):
            response = case.call_and_validate(headers=headers)
            assert response.status_code != 401  # the key opens every route

        answers_as_documented()
