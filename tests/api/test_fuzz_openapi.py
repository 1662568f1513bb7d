"""No 500, ever (issue 11, item 8): schemathesis generates requests for every operation of the published
OpenAPI document — paths, queries and bodies from their schemas, and beyond them — and sends them as each role
through the real app. Every answer must be below 500 and match the response schema the document promises.
Bounded (a few examples per operation and role, no shrinking database) so it runs on every CI run."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

ROLES = ["applicant_a", "inspector", "coordinator", "committee", "auditor", "quality_manager", "admin"]


@pytest.mark.parametrize("who", ROLES)
def test_every_operation_answers_below_500_and_as_documented(make_api, who):
    api = make_api(f"fuzz-{who}")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.app)
    headers = {"Authorization": f"Bearer {api.token(who)}"}
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            response = case.call(headers=headers)
            where = f"{operation.method.upper()} {operation.path} {case.path_parameters} {case.query}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code} {response.text[:200]}")
                return
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except Exception as exc:  # noqa: BLE001 - collect every mismatch, report them together
                failures.append(f"{where}: {response.status_code} does not match its schema: {str(exc)[:300]}")

        exercise()
    assert operations > 40  # the whole document was exercised
    assert not failures, "\n".join(failures[:20])
