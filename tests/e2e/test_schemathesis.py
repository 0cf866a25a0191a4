"""Schemathesis against each service's own OpenAPI, over real HTTP on real Postgres and the
broker (the services as `test_audit_trail.py` serves them), authenticated as admin.

For every operation it generates schema-valid (positive) and schema-breaking (negative)
requests, a bounded number each, and runs the response checks: no 5xx, every status and
content type documented, bodies and headers matching the documented schemas, bad input
refused with 4xx, valid input not refused for its shape, `Allow` listing a path's methods.
Every violation of every operation is collected, then the test fails naming them all.

Not fuzzed here: the webhook doors (`/webhooks/*`) — their bodies are signed (HMAC, basic
auth per org) and schemathesis cannot sign; `services/deal-ingest/tests/integration/
test_fuzz_doors.py` fuzzes each door with signed bodies instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from provisio_common.auth import mint_token
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb

from .test_audit_trail import SERVICES, running

# Per operation and generation mode (so 12 requests an operation, ~1,100 over the four
# services): enough to find a 5xx class, short enough for `make test` on 2 cores.
EXAMPLES_PER_OPERATION = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    allow_header_conformance,
]
# Not run: `positive_data_acceptance` (a schema-valid request must not be refused with 4xx
# other than 401/403/404/409). The services refuse with 422 what is well formed but means
# nothing: a plan whose formulas do not parse, a quota import whose CSV rows name unknown
# payees, a period that is not a pay period, a reconcile of a KPI without targets. The
# OpenAPI cannot state those rules, so random schema-valid data is mostly refused, honestly.


@dataclasses.dataclass
class Tally:
    cases: int = 0
    server_errors: int = 0
    failures: Counter[str] = dataclasses.field(default_factory=Counter)
    # The first request that showed each failure, for the message.
    examples: dict[str, str] = dataclasses.field(default_factory=dict)


# Checks left out for some operations, each with its reason (reported, not silent).
EXCLUDED_CHECKS: dict[str, tuple[Any, str]] = {
    f"POST /import/{kind}": (
        negative_data_rejection,
        "a text/csv body is text whatever schemathesis meant to negate (its array or number "
        "arrives as its text); `?dry_run=true` answers 200 with each row's problem by design "
        "and a real run refuses them with 422",
    )
    for kind in ("payees", "quotas", "targets")
}


def sent(response: Any) -> str:
    request = response.request
    body = request.body[:200] if isinstance(request.body, bytes | str) else request.body
    answer = f"{response.status_code} {response.text[:300]}"
    return f"{request.method} {request.url[:300]} body={body!r} -> {answer}"


def fuzz_operation(operation: Any, mode: GenerationMode, url: str, token: str, tally: Tally) -> None:
    """Send `EXAMPLES_PER_OPERATION` generated requests; count each violation, never raise."""
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        tally.cases += 1
        # Every request as admin: a mutated or missing token is `test_rbac_matrix.py`'s job.
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(base_url=url, session=session, timeout=30)
        if response.status_code >= 500:
            tally.server_errors += 1
        excluded = EXCLUDED_CHECKS.get(operation.label)
        checks = [check for check in CHECKS if not excluded or check is not excluded[0]]
        try:
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            for failure in exc.exceptions if isinstance(exc, FailureGroup) else [exc]:
                line = (failure.message.splitlines() or [""])[0]
                key = f"{operation.label} [{mode}]: {failure.title}: {line}"[:300]
                tally.failures[key] += 1
                detail = " | ".join(failure.message.splitlines()[1:])
                tally.examples.setdefault(key, f"{sent(response)} ({detail})" if detail else sent(response))

    try:
        run()
    except Unsatisfiable:
        # An operation without parameters or body (`/healthz`) has no schema-breaking request.
        if mode is GenerationMode.POSITIVE:
            raise


def options_problems(app_openapi: dict[str, Any], url: str, token: str) -> list[str]:
    """OPTIONS on every path (schemathesis does not send it): 405, `Allow` = the path's methods."""
    problems = []
    for path, operations in app_openapi["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        r = requests.options(f"{url}{concrete}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        allowed = {m.strip().lower() for m in r.headers.get("allow", "").split(",") if m.strip()}
        declared = set(operations) & {"get", "put", "post", "delete", "patch"}
        if r.status_code != 405 or allowed != declared:
            problems.append(
                f"OPTIONS {concrete}: {r.status_code}, Allow {sorted(allowed)}, not {sorted(declared)}"
            )
    return problems


def without_security(app_openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI without its bearer requirement: every request here carries an admin token,
    so a case whose only negation is a missing `Authorization` header would be sent valid and
    reported as "schema-violating request accepted". Tokens are `test_rbac_matrix.py`'s job."""
    copy: dict[str, Any] = json.loads(json.dumps(app_openapi))
    for operations in copy["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    copy.pop("security", None)
    copy.get("components", {}).pop("securitySchemes", None)
    return copy


def fuzz_service(app_openapi: dict[str, Any], url: str, token: str) -> Tally:
    schema = schemathesis.openapi.from_dict(without_security(app_openapi)).exclude(path_regex=r"^/webhooks/")
    tally = Tally()
    for problem in options_problems(app_openapi, url, token):
        tally.failures[problem] += 1
        tally.examples[problem] = "OPTIONS"
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI has an invalid operation: {result}"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, url, token, tally)
    return tally


# Schemathesis 4's strategies draw from `random` inside hypothesis (its own code, not ours).
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_no_server_error_and_responses_match_the_openapi(
    name: str, fresh_db: CreateDb, base_settings: ProvisioSettings
) -> None:
    async with running(name, fresh_db, base_settings) as svc:
        token = mint_token(svc.settings, "schemathesis-admin", "admin")
        url = str(svc.client.base_url).rstrip("/")
        tally = await asyncio.to_thread(fuzz_service, svc.app.openapi(), url, token)
    violations = sum(tally.failures.values())
    print(f"{name}: {tally.cases} cases, {tally.server_errors} 5xx, {violations} violations")
    assert tally.cases > 0
    assert not tally.failures, f"{name}: {tally.cases} cases, {tally.server_errors} 5xx:\n" + "\n".join(
        f"{count:4d}x {failure}\n      e.g. {tally.examples[failure]}"
        for failure, count in sorted(tally.failures.items())
    )
