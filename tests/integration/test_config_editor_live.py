"""With the embedded model: a dry run shows the three parts and a result; a saved config is used by
the very next run without restart."""
from __future__ import annotations

from tests.integration.test_pipeline_flow import post_run
from tests.unit.test_config_editor_api import NEW, new_config


def test_dry_run_shows_three_parts_and_a_result_without_saving(teacher_client):
    body = {"config": NEW, "input_text": "a cat on a roof", "lang": "en"}
    for _ in range(3):  # the tiny model's text may rightly be blocked now and then
        res = teacher_client.post("/api/configs/dry-run", json=body)
        assert res.status_code == 200
        out = res.get_json()
        if out["status"] == "succeeded":
            break
        assert out["block"]["checkpoint"] == "interception"
    assert out["status"] == "succeeded", out
    assert out["parts"]["task_instruction"] and out["parts"]["context"] == NEW["context"]["en"]
    assert out["parts"]["input"] == "a cat on a roof"
    assert out["result"].strip() and out["iterations"][0]["model"]
    assert teacher_client.get("/api/configs/meadow_poet").status_code == 404  # a dry run saves nothing


def test_dry_run_of_an_invalid_config_is_422_and_a_harmful_idea_is_blocked(teacher_client):
    res = teacher_client.post("/api/configs/dry-run", json={"config": new_config(display={}), "input_text": "a cat"})
    assert res.status_code == 422
    body = {"config": NEW, "input_text": "Sieg Heil", "lang": "de"}
    out = teacher_client.post("/api/configs/dry-run", json=body).get_json()
    assert out["status"] == "blocked" and out["block"]["checkpoint"] == "input" and "result" not in out


def test_config_saved_through_the_api_is_used_by_the_next_run(teacher_client, client):
    assert teacher_client.post("/api/configs/interception", json=NEW).status_code == 201
    run = post_run(client, "stage2", {"schema": "meadow_poet", "input_text": "a cat on a roof", "lang": "en"})
    assert run["status"] == "succeeded", run
    assert run["interception"]["context"] == NEW["context"]["en"]
    changed = new_config(context={"de": "Beschreibe die Idee als Wüste.", "en": "Describe the idea as a desert."})
    assert teacher_client.put("/api/configs/interception/meadow_poet", json=changed).status_code == 200
    run = post_run(client, "stage2", {"schema": "meadow_poet", "input_text": "a cat on a roof", "lang": "en"})
    assert run["interception"]["context"] == "Describe the idea as a desert."
