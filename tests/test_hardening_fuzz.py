"""schemathesis against the real app: no 5xx and every response true to the OpenAPI schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from tests.conftest import key_for

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# The routes callers hit on every call; the records, reports and console routes are not fuzzed yet.
FUZZED = {"POST /v1/search", "GET /v1/contacts", "GET /healthz", "POST /v1/classify", "POST /v1/reply"}


@pytest.mark.slow
def test_api_conforms_and_never_fails(sample_settings, sample_classifier):
    app = create_app(sample_settings)
    cases: dict[str, int] = {}
    failures: list[str] = []
    auth = {"Authorization": f"Bearer {key_for(sample_settings, 'test-admin', 'admin')}"}
    with TestClient(app):  # runs the lifespan once; the loaded services stay on app.state
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            label = operation.label
            if label not in FUZZED:
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def run(case) -> None:
                cases[label] = cases.get(label, 0) + 1
                response = case.call(headers=auth)
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as exc:  # noqa: BLE001 - collected so every operation is exercised
                    failures.append(f"{label} {response.status_code}: {str(exc).splitlines()[0][:200]}")

            run()
    assert set(cases) == FUZZED
    assert failures == []
