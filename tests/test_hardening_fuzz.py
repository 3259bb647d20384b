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
from ingest.pipeline import run_ingest
from tests.conftest import key_for

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# The routes callers hit on every call, on the sample knowledge bases with the trained classifier.
FUZZED = {"POST /v1/search", "GET /v1/contacts", "GET /healthz", "POST /v1/classify", "POST /v1/reply",
          "POST /v1/classify/file"}
# Every other route (writes, uploads, admin, console), on a private small knowledge base the writes may change.
FUZZED_WRITES = {
    "GET /v1/whoami", "POST /v1/login", "POST /v1/logout",
    "GET /v1/kbs/{kb}/records", "POST /v1/kbs/{kb}/records", "GET /v1/kbs/{kb}/records/{record_id}",
    "PUT /v1/kbs/{kb}/records/{record_id}", "DELETE /v1/kbs/{kb}/records/{record_id}",
    "GET /v1/kbs/{kb}/records/{record_id}/history", "POST /v1/kbs/{kb}/records/{record_id}/restore",
    "GET /v1/kbs/{kb}/check", "POST /v1/kbs/{kb}/documents", "GET /v1/audit", "GET /v1/kbs/{kb}/export",
    "GET /v1/places", "GET /v1/changes", "POST /v1/feedback", "POST /v1/assist",
    "POST /v1/reports", "GET /v1/reports/{report_id}/{filename}", "GET /v1/classify/file/{token}",
    "GET /v1/record-forms", "GET /v1/kbs/{kb}/records/{record_id}/revisions/{revision}", "GET /v1/kbs/{kb}/lifecycle",
    "GET /v1/kbs/{kb}/audit",
    "GET /v1/review/queue", "POST /v1/review/{item_id}", "GET /v1/kbs/{kb}/drafts",
    "POST /v1/kbs/{kb}/drafts/{draft_id}/approve", "POST /v1/kbs/{kb}/drafts/{draft_id}/reject",
    "GET /v1/kbs/{kb}/gaps", "GET /v1/kbs/{kb}/gaps.xlsx", "POST /v1/kbs/{kb}/gaps/{gap_id}/draft",
}


def _runner(operation, label: str, auth: dict[str, str], examples: int, cases: dict[str, int], failures: list[str]):
    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case) -> None:
        cases[label] = cases.get(label, 0) + 1
        response = case.call(headers={**auth, **(case.headers or {})})
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected so every operation is exercised
            failures.append(f"{label} {response.status_code}: {str(exc).splitlines()[0][:200]}")

    return run


def _fuzz(app, auth: dict[str, str], wanted: set[str], examples: int) -> tuple[dict[str, int], list[str]]:
    cases: dict[str, int] = {}
    failures: list[str] = []
    with TestClient(app):  # runs the lifespan once; the loaded services stay on app.state
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in wanted:
                _runner(operation, operation.label, auth, examples, cases, failures)()
    return cases, failures


@pytest.mark.slow
def test_api_conforms_and_never_fails(sample_settings, sample_classifier):
    auth = {"Authorization": f"Bearer {key_for(sample_settings, 'test-admin', 'admin')}"}
    cases, failures = _fuzz(create_app(sample_settings), auth, FUZZED, 20)
    assert set(cases) == FUZZED
    assert failures == []


@pytest.mark.slow
def test_write_admin_and_console_routes_conform_and_never_fail(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    auth = {"Authorization": f"Bearer {key_for(settings, 'test-admin', 'admin')}"}
    cases, failures = _fuzz(create_app(settings), auth, FUZZED_WRITES, 10)
    assert set(cases) == FUZZED_WRITES
    assert failures == []
