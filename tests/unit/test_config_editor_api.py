"""Config editor API: validation lists every field, shipped configs are read-only, saves are versions,
restore is byte for byte, and a saved config is live for the next request without restart."""
from __future__ import annotations

import copy

import pytest

NEW = {
    "id": "meadow_poet",
    "pipeline": "text_transformation",
    "name": {"de": "Wiesendichter", "en": "Meadow poet"},
    "description": {"de": "Alles wird zur Wiese.", "en": "Everything becomes a meadow."},
    "category": {"de": "Eigene", "en": "Our own"},
    "context": {"de": "Beschreibe die Idee als ruhige Wiese mit Blumen und Bienen.",
                "en": "Describe the idea as a calm meadow with flowers and bees."},
    "display": {"icon": "🌼", "color": "#22aa44"},
    "audience": {"min_age": 8},
}


def new_config(**changes):
    cfg = copy.deepcopy(NEW)
    cfg.update(changes)
    return cfg


def test_invalid_config_is_422_listing_every_field(teacher_client):
    bad = new_config(display={"icon": "🌼", "color": "green"}, pipeline="nope")
    del bad["category"]
    res = teacher_client.post("/api/configs/interception", json=bad)
    assert res.status_code == 422
    fields = {p["field"] for p in res.get_json()["error"]["details"]["problems"]}
    assert {"display.color", "category"} <= fields
    # reference errors come once the shape is right
    res = teacher_client.post("/api/configs/validate", json=new_config(pipeline="nope"))
    assert res.status_code == 422
    assert [p["field"] for p in res.get_json()["error"]["details"]["problems"]] == ["pipeline"]
    assert teacher_client.get("/api/configs/meadow_poet").status_code == 404


def test_saved_config_is_live_at_once_and_listed_as_teacher_source(teacher_client):
    res = teacher_client.post("/api/configs/interception", json=NEW)
    assert res.status_code == 201 and res.get_json()["version"] == 1
    one = teacher_client.get("/api/configs/meadow_poet?lang=en").get_json()
    assert one["context"] == NEW["context"]["en"] and one["version"] == 1
    assert "meadow_poet" in {c["id"] for c in teacher_client.get("/api/configs/interception").get_json()["configs"]}
    sources = {c["id"]: c["source"] for c in teacher_client.get("/api/configs/editor").get_json()["configs"]}
    assert sources["meadow_poet"] == "teacher" and sources["dada"] == "shipped"
    assert teacher_client.post("/api/configs/interception", json=NEW).status_code == 409  # id taken


def test_shipped_configs_are_read_only(teacher_client):
    dada = teacher_client.get("/api/configs/interception/dada/source").get_json()
    assert dada["source"] == "shipped"
    for res in (teacher_client.put("/api/configs/interception/dada", json=new_config(id="dada")),
                teacher_client.delete("/api/configs/interception/dada"),
                teacher_client.post("/api/configs/interception", json=new_config(id="dada"))):
        assert res.status_code == 409
        assert res.get_json()["error"]["code"] == "config_read_only"
        assert "duplicate" in res.get_json()["error"]["message"]


def test_duplicate_a_shipped_config_under_a_new_id(teacher_client):
    import json
    text = teacher_client.get("/api/configs/interception/bauhaus/source").get_json()["text"]
    data = json.loads(text) | {"id": "bauhaus_class_7b"}
    assert teacher_client.post("/api/configs/interception", json=data).status_code == 201
    copy_ = teacher_client.get("/api/configs/bauhaus_class_7b?lang=de").get_json()
    assert copy_["context"] == teacher_client.get("/api/configs/bauhaus?lang=de").get_json()["context"]


def test_every_save_is_a_version_and_restore_is_byte_for_byte(teacher_client):
    assert teacher_client.post("/api/configs/interception", json=NEW).status_code == 201
    v1_text = teacher_client.get("/api/configs/interception/meadow_poet/versions/1").get_json()["text"]
    changed = new_config(context={"de": "Beschreibe die Idee als Wüste mit Kakteen.",
                                  "en": "Describe the idea as a desert with cacti."})
    res = teacher_client.put("/api/configs/interception/meadow_poet", json=changed)
    assert res.status_code == 200 and res.get_json()["version"] == 2
    assert "desert" in teacher_client.get("/api/configs/meadow_poet?lang=en").get_json()["context"]
    versions = teacher_client.get("/api/configs/interception/meadow_poet/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["author"] and versions[0]["created_at"]
    assert "-" in versions[0]["diff"] and "+" in versions[0]["diff"] and "desert" in versions[0]["diff"]

    res = teacher_client.post("/api/configs/interception/meadow_poet/restore", json={"version": 1})
    assert res.status_code == 200 and res.get_json()["version"] == 3
    v3 = teacher_client.get("/api/configs/interception/meadow_poet/source").get_json()
    assert v3["version"] == 3 and v3["text"].encode() == v1_text.encode()
    assert teacher_client.get("/api/configs/meadow_poet?lang=en").get_json()["context"] == NEW["context"]["en"]
    assert teacher_client.post("/api/configs/interception/meadow_poet/restore", json={"version": 9}).status_code == 404


def test_delete_keeps_history_and_restore_brings_it_back(teacher_client):
    teacher_client.post("/api/configs/interception", json=NEW)
    assert teacher_client.delete("/api/configs/interception/meadow_poet").status_code == 200
    assert teacher_client.get("/api/configs/meadow_poet").status_code == 404
    assert teacher_client.delete("/api/configs/interception/meadow_poet").status_code == 404
    assert teacher_client.post("/api/configs/interception/meadow_poet/restore", json={"version": 1}).status_code == 200
    assert teacher_client.get("/api/configs/meadow_poet").status_code == 200


def test_saved_configs_survive_a_restart(make_app, tmp_path, login):
    first = make_app(EXPORTS_DIR=tmp_path / "shared")
    teacher = first.test_client()
    login(teacher, "teacher")
    assert teacher.post("/api/configs/interception", json=NEW).status_code == 201
    second = make_app(EXPORTS_DIR=tmp_path / "shared")
    assert second.test_client().get("/api/configs/meadow_poet").status_code == 200


def test_unsafe_context_is_a_field_error(teacher_client):
    unsafe = new_config(context={"de": "Male Hakenkreuze und schreibe Sieg Heil.", "en": "A calm meadow."})
    res = teacher_client.post("/api/configs/validate", json=unsafe)
    assert res.status_code == 422
    problems = res.get_json()["error"]["details"]["problems"]
    assert [p["field"] for p in problems] == ["context.de"]


@pytest.mark.parametrize("body", [None, [], {"version": 0}, {"version": "x"}])
def test_bad_restore_bodies_are_4xx(teacher_client, body):
    teacher_client.post("/api/configs/interception", json=NEW)
    res = teacher_client.post("/api/configs/interception/meadow_poet/restore", json=body)
    assert res.status_code == 400


WRITES = [("post", "/api/configs/interception", NEW), ("put", "/api/configs/interception/meadow_poet", NEW),
          ("delete", "/api/configs/interception/meadow_poet", None), ("post", "/api/configs/validate", NEW),
          ("post", "/api/configs/dry-run", {"config": NEW, "input_text": "a cat"}),
          ("post", "/api/configs/interception/meadow_poet/restore", {"version": 1})]


@pytest.mark.parametrize("method,path,body", WRITES)
def test_writes_reject_anonymous_students_and_a_missing_csrf_token(make_app, login, join, method, path, body):
    app = make_app(HOST="192.0.2.10")  # a network bind: nobody is a student without joining
    teacher = app.test_client()
    login(teacher, "teacher")
    code = teacher.post("/api/sessions", json={"title": "7b", "safety_level": "kids"}).get_json()["code"]
    student = app.test_client()
    join(student, code)
    kwargs = {"json": body} if body is not None else {}
    assert getattr(app.test_client(), method)(path, **kwargs).status_code == 401
    assert getattr(student, method)(path, **kwargs).status_code == 403
    no_csrf = app.test_client(csrf=False)
    login(no_csrf, "teacher")
    res = getattr(no_csrf, method)(path, **kwargs)
    assert res.status_code == 403 and "csrf" in res.get_json()["error"]["code"]
    assert app.test_client().get("/api/configs/meadow_poet").status_code == 404  # nothing was saved


def test_config_an_open_session_allows_cannot_be_deleted(teacher_client):
    assert teacher_client.post("/api/configs/interception", json=NEW).status_code == 201
    session = teacher_client.post("/api/sessions", json={"title": "Klasse 4a", "safety_level": "kids",
                                                         "allowed_attitudes": ["meadow_poet", "dada"]}).get_json()
    res = teacher_client.delete("/api/configs/interception/meadow_poet")
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "config_in_use"
    assert "Klasse 4a" in res.get_json()["error"]["message"]
    assert teacher_client.post(f"/api/sessions/{session['id']}/close").status_code == 200
    assert teacher_client.delete("/api/configs/interception/meadow_poet").status_code == 200
