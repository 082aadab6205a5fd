"""Schemathesis against /api/openapi.json, as every kind of caller: no input gets a 5xx, every answer
matches the contract (status, schema, content type, and every error in the one envelope).

The callers: the loopback default person (a server on 127.0.0.1), and on a network-bound server an
anonymous caller, a student who joined a workshop session, a teacher, a researcher and an admin. The
roles present their cookies and echo the CSRF token on writes, as the web app does, so write and staff
routes validate their bodies instead of stopping at 401/403. Each operation gets fresh cookies (a
generated logout or session change affects only that operation's cases).

Few examples per operation and role, so the run stays within a few minutes; the language model roles
point at a fake Ollama, so generated pipeline POSTs finish quickly instead of loading a model.
Longer run: `CONTRACT_EXAMPLES=50 .venv/bin/python -m pytest tests/integration/test_contract.py`.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from devserver.access.cookies import CSRF_COOKIE, CSRF_HEADER, LOGIN_COOKIE, STUDENT_COOKIE
from devserver.app import create_app, shutdown
from tests.conftest import CsrfClient, add_user, TEST_PASSWORD
from tests.fakes.ollama_fake import OllamaFake
from tests.server_process import LLM_ROLES

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "4"))
ROLES = ("loopback", "anonymous", "student", "teacher", "researcher", "admin")
Credentials = Callable[[], tuple[dict[str, str], dict[str, str]]]


def envelope(response: Any, case: Any) -> None:
    """Every error answer is the one envelope `{"error": {"code", "message", "details"}}`."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict) and {"code", "message", "details"} <= error.keys(), \
        f"{response.status_code} outside the error envelope: {response.text[:200]!r}"


def build(tmp_path_factory: Any, ollama: OllamaFake, **overrides: Any) -> Flask:
    app = create_app({"TESTING": True, "LOCAL_THREADS": 1, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"),
                      "OLLAMA_URL": ollama.url, "LOGIN_RATE_LIMIT": "100000 per minute",
                      "MODEL_ROLE_MAP": {role: "ollama/llama3.2:latest" for role in LLM_ROLES}, **overrides})
    app.test_client_class = CsrfClient
    return app


def browser_state(client: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The cookies a browser with this client's cookies would send, and the CSRF header the app echoes."""
    cookies = {name: c.value for name in (LOGIN_COOKIE, STUDENT_COOKIE, CSRF_COOKIE)
               if (c := client.get_cookie(name)) is not None}
    return cookies, {CSRF_HEADER: cookies[CSRF_COOKIE]}


def role_credentials(app: Flask, role: str, code: str) -> Credentials:
    """Return a function giving the headers of `role` on `app`: staff log in afresh each time; the student
    joins once (joining is rate-limited per address, and generated joins share that limit)."""
    if role == "student":
        client = app.test_client()
        response = client.post("/api/sessions/join", json={"code": code})
        assert response.status_code == 200, response.get_json()
        state = browser_state(client)
        return lambda: state
    if role not in ("teacher", "researcher", "admin"):
        return lambda: ({}, {})

    def fresh() -> tuple[dict[str, str], dict[str, str]]:
        client = app.test_client()
        user = add_user(app, role, f"contract-{role}")
        response = client.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD})
        assert response.status_code == 200, response.get_json()
        return browser_state(client)

    return fresh


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, tuple[Any, Credentials]]]:
    with OllamaFake() as ollama:
        loopback = build(tmp_path_factory, ollama)
        network = build(tmp_path_factory, ollama, HOST="192.0.2.10")
        teacher = network.test_client()
        user = add_user(network, "teacher", "contract-session-owner")
        assert teacher.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD}).status_code == 200
        session = teacher.post("/api/sessions", json={"title": "Contract", "safety_level": "kids"})
        assert session.status_code == 201, session.get_json()
        code = session.get_json()["code"]
        schemas = {app: schemathesis.openapi.from_wsgi("/api/openapi.json", app) for app in (loopback, network)}
        yield {role: (schemas[loopback if role == "loopback" else network],
                      role_credentials(network, role, code)) for role in ROLES}
        shutdown(loopback)
        shutdown(network)


@pytest.mark.parametrize("role", ROLES)
def test_api_answers_every_generated_request_within_its_contract(servers, role):
    api_schema, credentials = servers[role]
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        cookies, headers = credentials()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            response = case.call_and_validate(headers={**(case.headers or {}), **headers}, cookies=cookies,
                                              checks=CHECKS)
            envelope(response, case)

        try:
            call()
        except Exception as exc:  # collect every operation's problem, then report them all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 20
    assert failures == [], "\n\n".join(failures)
