"""Schema-driven fuzzing of the running service from its published OpenAPI: no 5xx."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase

from tests.test_service import catalog, policy, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

EXAMPLES = 40  # per operation: bounded so the run stays well under a minute


def test_no_generated_request_gets_a_server_error(catalog, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        base = str(api.base_url).rstrip("/")
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        failures: list[str] = []
        tried = 0
        per_operation: dict[str, int] = {}
        for result in schema.get_all_operations():
            operation = result.ok()

            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                                 phases=[Phase.explicit, Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy())
            def check(case) -> None:
                nonlocal tried
                tried += 1
                label = f"{case.method} {case.path}"
                per_operation[label] = per_operation.get(label, 0) + 1
                response = case.call(base_url=base)
                if response.status_code >= 500 or "Traceback" in response.text:
                    failures.append(f"{case.method} {case.path} {case.body!r:.200} -> "
                                    f"{response.status_code} {response.text[:200]}")

            check()
    assert tried >= 5 * 10
    assert not failures, "\n".join(failures[:5])
    print("schemathesis: " + ", ".join(f"{op} {n} cases" for op, n in sorted(
        per_operation.items())) + "; 0 5xx")  # shown with -s, for the figures
