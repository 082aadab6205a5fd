"""Schemathesis against /api/openapi.json: no input gets a 5xx, every answer matches the contract.

Few examples per operation, so the whole run stays within a couple of minutes; the language model
roles point at a fake Ollama, so generated pipeline POSTs finish quickly instead of loading a model.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from devserver.app import create_app, shutdown
from tests.fakes.ollama_fake import OllamaFake
from tests.server_process import LLM_ROLES

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    with OllamaFake() as ollama:
        app = create_app({"TESTING": True, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"),
                          "OLLAMA_URL": ollama.url,
                          "MODEL_ROLE_MAP": {role: "ollama/llama3.2:latest" for role in LLM_ROLES}})
        yield schemathesis.openapi.from_wsgi("/api/openapi.json", app)
        shutdown(app)


def test_api_answers_every_generated_request_within_its_contract(api_schema):
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            call()
        except Exception as exc:  # collect every operation's problem, then report them all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 20
    assert failures == [], "\n\n".join(failures)
