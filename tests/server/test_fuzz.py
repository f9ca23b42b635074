"""Schemathesis against /openapi.json: every route, a bounded number of examples, no 5xx, answers as documented."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = 5  # per route: about 40 routes, a few seconds each on the fixture hub


def test_no_server_errors_and_documented_answers(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=120)

        try:
            fuzz()
        except Exception as e:  # noqa: BLE001 - gathered: one report for every route
            failures.append(f"{operation.label}: {str(e)[:1500]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
