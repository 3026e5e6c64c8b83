"""Property-based fuzzing of /api/v1 from its own OpenAPI schema (schemathesis), with valid tokens.

Valid inputs must get documented statuses and bodies that match the declared response models;
invalid inputs must never get a 5xx. The number of examples is bounded so this stays quick.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from admin.models import StaffRole
from tests.admin.conftest import SignedIn, add_citizen, add_dead_letter
from tests.support import LiveApp

EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ],
    GenerationMode.NEGATIVE: [not_a_server_error],
}


def test_staff_api_conforms_to_its_schema_and_never_fails(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    # Some data, so the responses have rows to validate: citizens, dead letters, audit entries.
    add_citizen(admin_app, "瀬戸内 花子")
    add_citizen(admin_app, "牛窓 太郎", blocked=True)
    for _ in range(3):
        add_dead_letter(admin_app)

    schema = schemathesis.openapi.from_url(f"{admin_app.base_url}/api/openapi.json").include(path_regex=r"^/api/v1/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6

    # The admin token reaches everything; the viewer's exercises the masked and refused answers.
    runs = [(role, mode) for role in (StaffRole.ADMIN, StaffRole.VIEWER) for mode in EXAMPLES]
    for operation in operations:
        for role, mode in runs:
            headers = {"Authorization": f"Bearer {staff[role].token}"}
            examples = EXAMPLES[mode] if role == StaffRole.ADMIN else EXAMPLES[mode] // 3
            checks = CHECKS[mode]

            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=checks)  # noqa: B023 - runs in this iteration

            exercise()
