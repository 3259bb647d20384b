"""Longer schemathesis run against the real app over the sample data (KB_DATA_DIR, default data/).

    PYTHONPATH=. python scripts/fuzz_api.py --examples 200

Prints each operation's case count and the number of 5xx answers and schema
violations; exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from kb.settings import Settings

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _runner(operation, label: str, examples: int, cases: Counter, server_errors: Counter, violations: list[str]):
    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case) -> None:
        cases[label] += 1
        response = case.call()
        if response.status_code >= 500:
            server_errors[label] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is counted and shown
            violations.append(f"{label}: {str(exc).splitlines()[0][:200]}")

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    app = create_app(Settings())
    cases: Counter[str] = Counter()
    server_errors: Counter[str] = Counter()
    violations: list[str] = []
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            _runner(operation, operation.label, args.examples, cases, server_errors, violations)()
            print(f"{operation.label}: {cases[operation.label]} cases, {server_errors[operation.label]} 5xx")
    print(f"total: {sum(cases.values())} cases, {sum(server_errors.values())} 5xx, {len(violations)} violations")
    for v in violations[:20]:
        print("  " + v)
    return 1 if server_errors or violations else 0


if __name__ == "__main__":
    sys.exit(main())
