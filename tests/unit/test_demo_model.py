"""The packaged 135M model is announced as a demo model; a GGUF the teacher chose is not."""
from __future__ import annotations

from devserver.backends.local import packaged_gguf


def test_health_names_the_roles_on_the_packaged_demo_model(client):
    roles = client.get("/api/health").get_json()["demo_model"]["roles"]
    assert "TRANSLATION_MODEL" in roles and "STAGE2_INTERCEPTION_MODEL" in roles


def test_a_model_set_by_local_model_path_is_no_demo(make_app):
    app = make_app(LOCAL_MODEL_PATH=str(packaged_gguf()))
    assert app.test_client().get("/api/health").get_json()["demo_model"]["roles"] == []


def test_roles_on_other_providers_are_no_demo(make_app):
    app = make_app(MODEL_ROLE_MAP={"TRANSLATION_MODEL": "ollama/llama3.2"})
    roles = app.test_client().get("/api/health").get_json()["demo_model"]["roles"]
    assert "TRANSLATION_MODEL" not in roles and "STAGE3_MODEL" in roles
