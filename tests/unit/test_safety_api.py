"""POST /api/safety/check: verdict and message, level only stricter, errors in the envelope."""
from __future__ import annotations

import pytest
from flask import Flask

from config import Config
from devserver import access
from devserver.api import safety as safety_api
from devserver.errors import BackendUnavailable, register_error_handlers
from devserver.safety.service import build_safety


def unreachable_chat(role, messages, options, json_schema=None):
    raise BackendUnavailable("no model in this test", backend="none")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    cfg = Config(DEFAULT_SAFETY_LEVEL="youth", EXPORTS_DIR=tmp_path_factory.mktemp("exports"))
    app = Flask(__name__)
    app.extensions["devserver.config"] = cfg
    app.extensions["devserver.safety"] = build_safety(cfg, unreachable_chat, conservative=False)
    register_error_handlers(app)
    access.init_app(app, cfg)  # the caller (the loopback default person) and the level of their session
    app.register_blueprint(safety_api.bp)
    return app.test_client()


def test_blocked_text_gets_verdict_and_message(client):
    res = client.post("/api/safety/check", json={"text": "Ein H4kenkreuz auf der Wand", "lang": "en"})
    assert res.status_code == 200
    body = res.get_json()
    assert body["verdict"]["decision"] == "block"
    assert body["verdict"]["category"] == "p86a"
    assert body["verdict"]["level"] == "youth"
    assert set(body["message"]) == {"title", "what", "why", "try_instead"}


def test_a_student_learns_the_verdict_but_not_the_matched_term_or_the_reason(client):
    body = client.post("/api/safety/check", json={"text": "Ein H4kenkreuz auf der Wand"}).get_json()
    assert body["verdict"]["decision"] == "block"
    assert "matched_terms" not in body["verdict"] and "teacher_reason" not in body["verdict"]
    assert "hakenkreuz" not in str(body).lower()  # the check is no oracle for which spelling is caught


def test_allowed_text_has_no_message(client):
    body = client.post("/api/safety/check", json={"text": "Ein Drache über der Burg"}).get_json()
    assert body["verdict"]["decision"] == "allow" and body["message"] is None


def test_request_cannot_loosen_the_level(client):
    body = client.post("/api/safety/check", json={"text": "a girl in a bikini", "level": "adult"}).get_json()
    assert body["verdict"]["level"] == "youth"
    stricter = client.post("/api/safety/check", json={"text": "a girl in a bikini", "level": "kids"}).get_json()
    assert stricter["verdict"]["level"] == "kids" and stricter["verdict"]["decision"] == "block"


def test_unreachable_model_fails_closed_with_honest_message(client):
    body = client.post("/api/safety/check", json={"text": "Pulli mit der Zahl 88", "lang": "de"}).get_json()
    assert body["verdict"]["category"] == "unchecked_blocked"
    assert body["message"]["title"]


@pytest.mark.parametrize("payload", [
    {"text": ""},
    {"text": "x" * 5001},
    {"text": "ok", "level": "toddler"},
    {"text": "ok", "colour": "red"},
    {"level": "kids"},
    None,
])
def test_bad_input_gets_the_envelope(client, payload):
    res = client.post("/api/safety/check", json=payload) if payload is not None else \
        client.post("/api/safety/check", data="not json", content_type="text/plain")
    assert res.status_code == 400
    error = res.get_json()["error"]
    expected = "invalid_json" if payload is None else "validation_failed"  # the same codes as the pipeline
    assert error["code"] == expected and error["message"]
