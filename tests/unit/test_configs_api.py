"""Config endpoints and health: every config listed with de and en strings, errors in the envelope."""
from __future__ import annotations

import json
import shutil

from config import ROOT

SCHEMAS = ROOT / "schemas"


def test_interception_list_has_every_config_with_both_languages(client):
    files = {p.stem for p in (SCHEMAS / "configs/interception").glob("*.json")}
    body = client.get("/api/configs/interception").get_json()
    assert body["lang"] == "de"  # the default
    assert {c["id"] for c in body["configs"]} == files
    for cfg in body["configs"]:
        for field in ("name", "description", "category"):
            assert cfg["i18n"][field]["de"] and cfg["i18n"][field]["en"], (cfg["id"], field)
            assert cfg[field] == cfg["i18n"][field]["de"]
        assert cfg["display"]["icon"] and cfg["display"]["color"].startswith("#")
    orders = [(c["display"]["order"], c["id"]) for c in body["configs"]]
    assert orders == sorted(orders)


def test_lang_parameter_switches_the_shown_strings(client):
    en = client.get("/api/configs/interception?lang=en").get_json()
    assert en["lang"] == "en"
    assert all(c["name"] == c["i18n"]["name"]["en"] for c in en["configs"])
    unknown = client.get("/api/configs/interception?lang=fr").get_json()
    assert unknown["lang"] == "de"


def test_output_list_has_every_output_with_media_type_duration_and_availability(client):
    files = {p.stem for p in (SCHEMAS / "configs/output").glob("*.json")}
    outputs = client.get("/api/configs/outputs?lang=en").get_json()["outputs"]
    assert {o["id"] for o in outputs} == files
    for out in outputs:
        assert out["i18n"]["name"]["de"] and out["i18n"]["name"]["en"]
        assert out["media_type"] in ("image", "audio", "music", "video", "code", "text")
        assert out["estimated_duration_seconds"] > 0
        assert out["available"] is (out["unavailable_reason"] is None)
    by_id = {o["id"]: o for o in outputs}
    assert by_id["sketch_offline"]["available"] is True
    # nothing external is configured here: ComfyUI outputs are explained, not hidden
    assert by_id["sd35_large"]["available"] is False and "ComfyUI" in by_id["sd35_large"]["unavailable_reason"]
    assert by_id["ltx_image_to_video"]["takes_image"] and not by_id["sd35_large"]["takes_image"]


def test_one_config_has_its_context_and_the_three_part_preview(client):
    cfg = client.get("/api/configs/bauhaus?lang=en").get_json()
    assert cfg["context"] == cfg["i18n"]["context"]["en"] and len(cfg["context"]) > 300
    parts = cfg["prompt_structure"]
    assert parts["task_instruction"] and parts["context"] == cfg["context"] and parts["input"] is None
    own = client.get("/api/configs/user_defined").get_json()
    assert own["user_defined"] is True and own["context"] == ""
    recursive = client.get("/api/configs/stillepost").get_json()
    assert recursive["pipeline_type"] == "recursive_interception" and recursive["iterations"] >= 2
    assert client.get("/api/configs/sketch_offline").get_json()["kind"] == "output"


def test_unknown_config_is_a_404_in_the_envelope(client):
    r = client.get("/api/configs/no_such_attitude")
    assert r.status_code == 404
    assert r.get_json() == {"error": {"code": "interception_not_found",
                                      "message": "No interception config named 'no_such_attitude'.",
                                      "details": {"id": "no_such_attitude"}}}


def test_health_reports_schemas_backends_and_conservative_safety(client):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["version"]
    assert body["schemas"]["interception_configs"] >= 16 and body["schemas"]["output_configs"] >= 10
    assert body["backends"]["local"]["state"] == "ok" and body["backends"]["sketch"]["state"] == "ok"
    assert body["backends"]["comfyui"]["state"] == "not_configured"
    assert "COMFYUI_URL" in body["backends"]["comfyui"]["detail"]
    assert body["safety"]["verification"] == "conservative"  # the embedded model is the judge here


def test_reload_picks_up_an_edit_and_keeps_the_last_good_set_on_a_broken_one(make_app, login, tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    client = make_app(SCHEMAS_DIR=schemas).test_client()
    assert client.post("/api/configs/reload").status_code == 401  # reloading is for teachers
    login(client, "teacher")
    path = schemas / "configs/interception/haiku.json"
    data = json.loads(path.read_text())
    data["name"]["en"] = "Haiku (edited by a teacher)"
    path.write_text(json.dumps(data))
    assert client.post("/api/configs/reload").status_code == 200
    assert client.get("/api/configs/haiku?lang=en").get_json()["name"] == "Haiku (edited by a teacher)"
    data["pipeline"] = "no_such_pipeline"
    path.write_text(json.dumps(data))
    r = client.post("/api/configs/reload")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "schema_invalid"
    assert any("no_such_pipeline" in p["problem"] for p in r.get_json()["error"]["details"]["problems"])
    assert client.get("/api/configs/haiku?lang=en").get_json()["name"] == "Haiku (edited by a teacher)"
