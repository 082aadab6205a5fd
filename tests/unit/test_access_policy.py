"""Every route of the URL map, tried as every role, answers as devserver/access/policy.py says.

The server is bound to a network address (students must join). Two teachers each run a session;
student A joined the first, student B the second; A has a recorded run. Each role calls every route
with sample path values (A's run, the first session) and bodies that fail validation after the
access check, so nothing is really changed and each call shows only what the guard decided.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devserver.access import policy
from devserver.app import create_app, shutdown
from tests.conftest import TEST_PASSWORD, CsrfClient, add_user

ROLES = ("anonymous", "student_a", "student_b", "teacher", "teacher_b", "researcher", "admin")
STUDENTS = ("student_a", "student_b")
STAFF = ("teacher", "teacher_b", "researcher", "admin")
OK = "ok"  # the guard let the call through (the handler may still say 400, 404, 409 ...)


def expect(**statuses: Any) -> dict[str, Any]:
    """Return role → expected answer: OK unless named."""
    return {role: statuses.get(role, OK) for role in ROLES}


EXPECTED: dict[policy.Rule, dict[str, Any]] = {
    policy.PUBLIC: expect(),
    policy.POLICY["auth.me"]: expect(),
    policy.RUNNER: expect(anonymous=401),
    policy.START: expect(anonymous=401),
    policy.UPLOAD: expect(anonymous=401, researcher=403),
    policy.STAFF_ONLY: expect(anonymous=401, student_a=403, student_b=403),
    policy.TEACHER: expect(anonymous=401, student_a=403, student_b=403, researcher=403),
    policy.ADMIN: expect(anonymous=401, student_a=403, student_b=403, teacher=403, teacher_b=403, researcher=403),
    policy.RUN: expect(anonymous=401, student_b=404, teacher_b=404),
    policy.RUN_STAFF: expect(anonymous=401, student_a=403, student_b=403, teacher_b=404),
    policy.STUDENT: expect(anonymous=401, teacher=403, teacher_b=403, researcher=403, admin=403),
    policy.SESSION_READ: expect(anonymous=401, student_a=403, student_b=403, teacher_b=404),
    policy.SESSION_WRITE: expect(anonymous=401, student_a=403, student_b=403, teacher_b=404, researcher=403),
    policy.POLICY["own_runs.mine"]: expect(anonymous=401),
    policy.RUN_TEACHER: expect(anonymous=401, student_a=403, student_b=403, teacher_b=404, researcher=403),
    policy.EXPORT_JOB: expect(anonymous=401, student_a=403, student_b=403),
    policy.RUN_OWNER: expect(anonymous=401, student_b=404, teacher=404, teacher_b=404, researcher=404, admin=404),
}
GUARD_404_CODES = {"run_not_found", "session_not_found"}


class World:
    """The app and the cookies each role presents."""

    def __init__(self, app: Flask):
        self.app = app
        self.passes: dict[str, list[tuple[str, str]]] = {}
        self.names = {"teacher": "t-a", "teacher_b": "t-b", "researcher": "r-1", "admin": "a-1"}
        for role, name in self.names.items():
            add_user(app, role.removesuffix("_b"), name)
        self.session_a = self._session("teacher", "Klasse A")
        self.session_b = self._session("teacher_b", "Klasse B")
        self.pseudonym_a = self._join("student_a", self.session_a["code"])
        self._join("student_b", self.session_b["code"])
        self.run_a = self._record_run(self.session_a["id"], self.pseudonym_a)

    def client(self, role: str) -> FlaskClient:
        """Return a fresh client presenting the role's credentials."""
        client = self.app.test_client()
        if role in self.names:
            r = client.post("/api/auth/login", json={"name": self.names[role], "password": TEST_PASSWORD})
            assert r.status_code == 200, r.get_json()
        for name, value in self.passes.get(role, []):
            client.set_cookie(name, value)
        return client

    def _session(self, teacher: str, title: str) -> dict[str, Any]:
        r = self.client(teacher).post("/api/sessions", json={"title": title, "safety_level": "kids"})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def _join(self, role: str, code: str) -> str:
        client = self.app.test_client()
        r = client.post("/api/sessions/join", json={"code": code})
        assert r.status_code == 200, r.get_json()
        self.passes[role] = [(c.key, c.value) for c in (client.get_cookie("devserver_student"),
                                                       client.get_cookie("csrf_token"))]
        return r.get_json()["student"]

    def _record_run(self, session: str, student: str) -> str:
        recorder = self.app.extensions["devserver.recorder"]
        run = recorder.open_run(str(uuid.uuid4()), {"schema": "dada", "input_text": "Ein Drache", "lang": "de",
                                                    "safety_level": "kids", "session": session, "student": student,
                                                    "status": "running"})
        run.event("user_input_text", stage="stage1", content="Ein Drache", file=run.save_entity("input", "Ein Drache"))
        name = run.save_entity("output_image", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, ext="png")
        run.event("output_image", stage="stage4", media_type="image", file=name)
        run.update(status="succeeded", outputs=[{"index": 0, "output_config": "sketch_offline", "media_type": "image",
                                                 "file": name, "mime": "image/png", "status": "succeeded"}])
        return run.run_id

    def urls(self, rule: Any) -> str:
        """Fill a rule's path variables with the sample values (A's run, the first session)."""
        fmt = "svg" if rule.endpoint == "sessions.session_qr" else "json"
        samples = {"run_id": self.run_a, "session_id": self.session_a["id"], "config_id": "dada", "phase": "stage2",
                   "item_type": "user_input_text", "media_type": "image", "index": "0", "fmt": fmt,
                   "name": "nobody", "token_id": "999", "path": "runs", "rest": "x/y/z",
                   "version": "1", "attitude_id": "nope", "job_id": "nobody"}
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: samples[m.group(1)], rule.rule)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    app = create_app({"TESTING": True, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"), "HOST": "192.0.2.10",
                      "LOGIN_RATE_LIMIT": "100000 per minute"})
    app.test_client_class = CsrfClient
    yield World(app)
    shutdown(app)


@pytest.fixture(autouse=True)
def reopen_session(world) -> Iterator[None]:
    """Undo the one write a walk really makes (closing the first session)."""
    yield
    world.app.extensions["devserver.access_db"].execute("UPDATE workshops SET closed_at = NULL")


def answer(response: Any) -> Any:
    """Reduce a response to what the guard decided: 401, 403, a guard 404, or OK."""
    body = response.get_json(silent=True) or {}
    code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
    if response.status_code in (401, 403) or (response.status_code == 404 and code in GUARD_404_CODES):
        return response.status_code
    return OK


def test_every_route_has_a_rule(world):
    missing = sorted({r.endpoint for r in world.app.url_map.iter_rules()} - set(policy.POLICY))
    assert not missing, f"add these endpoints to devserver/access/policy.py: {missing}"
    assert set(policy.POLICY.values()) <= set(EXPECTED), "a new kind of rule needs its row in EXPECTED"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_as_every_role(world, role):
    wrong = []
    for rule in world.app.url_map.iter_rules():
        expected = EXPECTED[policy.POLICY[rule.endpoint]][role]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = world.client(role).open(world.urls(rule), method=method, **kwargs)
            got = answer(response)
            response.close()  # ends a streamed body (SSE) and its request context
            if got != expected:
                wrong.append(f"{method} {rule.rule}: expected {expected}, got {response.status_code} "
                             f"{response.get_data(as_text=True)[:120]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ["student_a", "admin"])
def test_every_write_without_the_csrf_token_is_refused(world, role):
    accepted = []
    for rule in world.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            client = world.client(role)
            client.csrf = False  # as a forged cross-site request would arrive: the cookies, but no header
            response = client.open(world.urls(rule), method=method, json={})
            if response.status_code != 403 or response.get_json()["error"]["code"] != "csrf_failed":
                accepted.append(f"{method} {rule.rule}: {response.status_code}")
    assert not accepted, "\n".join(accepted)


def test_security_md_lists_every_rule_as_enforced():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    for endpoint, rule in policy.POLICY.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{endpoint}` |")), None)
        assert row is not None, f"docs/SECURITY.md has no row for {endpoint}"
        assert row.rstrip().endswith(f"| {rule.who} |"), f"docs/SECURITY.md says otherwise for {endpoint}"


def test_a_route_without_a_rule_is_refused_for_everyone(world):
    app = world.app
    app.view_functions["spare.unruled"] = lambda: "should never be served"
    app.url_map.add(app.url_rule_class("/api/unruled", endpoint="spare.unruled", methods=["GET"]))
    for role in ("anonymous", "admin"):
        r = world.client(role).get("/api/unruled")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "no_access_rule"
