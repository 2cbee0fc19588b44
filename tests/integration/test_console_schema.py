"""schemathesis against the console's own OpenAPI schema, served by a running ``provproxy admin``:
generated calls to every operation (SQL-injection and path-traversal shaped values included, as
schemathesis generates arbitrary strings) never get a 5xx, and every answer matches the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.console_support import (
    ConsoleStack,
    console_stack_fixture,  # noqa: F401  (the "stack" fixture)
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ATTACKS = ["' OR 1=1 --", "../../etc/passwd", "..%2f..%2fetc", "x'; DROP TABLE events; --", "%00", "a\x00b"]
FILTERS = ["user", "team", "tool", "model", "session", "label", "policy_rule", "since", "until", "q", "cursor"]


def _auth(stack: ConsoleStack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.tokens['admin']}"}


def test_every_operation_answers_within_its_schema(stack: ConsoleStack) -> None:
    schema = schemathesis.openapi.from_url(stack.url + "/api/v1/openapi.json", headers=_auth(stack))
    # An operation the schema cannot describe is an Err, whose .ok() raises: the test fails on it.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15  # every console route is in the schema (the check is not vacuous)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(base_url=stack.url, headers=_auth(stack), checks=CHECKS)

        call()


@pytest.mark.parametrize("name", FILTERS)
def test_injection_and_traversal_in_every_filter_get_a_4xx_or_an_empty_answer(stack: ConsoleStack, name: str) -> None:
    for attack in ATTACKS:
        response = stack.get("/api/v1/events", **{name: attack})
        assert response.status_code < 500, (name, attack, response.text)
        if response.status_code == 200:  # only free text may pass: it is matched as text, never as SQL
            assert name == "q" and response.json()["events"] == [], (name, attack)
    for path in ("/api/v1/events/..%2F..%2Fetc%2Fpasswd", "/api/v1/sessions/' OR 1=1 --", "/api/v1/principals/../x"):
        assert 400 <= stack.get(path).status_code < 500, path
