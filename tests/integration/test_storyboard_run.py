"""A whole storyboard on the embedded model (real llama.cpp, JSON-schema constrained) and the offline sketch.

One idea → a validated brief of 4–8 scenes → one scene edited, one edited into a text the kids filter
blocks → every scene through Stage 3 and Stage 4 as loop iterations of the run: the blocked scene is
stopped at Stage 3, the others are drawn; the record links brief, scenes and pictures; the sheet and the
ZIP download. Assertions are about structure, never the model's wording.
"""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.conftest import logged_in
from tests.waiting import finished

pytestmark = pytest.mark.slow
BLOCKED = "a dead body lying in a pool of blood"  # blocked at kids level by the fast filter (kids.json)
SEED = 100


def start_storyboard(client, tries: int = 3) -> dict:
    """Start a storyboard; a fresh one if the real model's random text was (rightly) blocked as a whole."""
    for _ in range(tries):
        started = client.post("/api/schema/pipeline/storyboard", json={
            "schema": "storyboard_comic", "input_text": "a cat who wants to fly to the moon", "lang": "en"})
        assert started.status_code == 202, started.get_json()
        run = finished(client, started.get_json()["run_id"])
        ready = [s for s in (run.get("storyboard") or {}).get("scenes") or [] if s["status"] == "ready"]
        if run["status"] == "succeeded" and len(ready) >= 2:
            return run
        assert run["status"] == "blocked", run  # a brief that fails its structure is a real failure
    raise AssertionError(f"{tries} storyboards in a row were blocked by the model's texts")


def test_a_storyboard_from_idea_to_sheet_on_the_embedded_model(make_app, login):
    app = make_app(DEFAULT_SAFETY_LEVEL="kids")
    client = app.test_client()
    run = start_storyboard(client)
    run_id, board = run["run_id"], run["storyboard"]
    assert 4 <= len(board["scenes"]) <= 8 and board["title"] and board["logline"]  # validated structure

    ready = [s for s in board["scenes"] if s["status"] == "ready"]
    edited, blocked = ready[0]["id"], ready[1]["id"]
    body = {"scenes": [{"id": s["id"]} for s in board["scenes"]]}
    for entry in body["scenes"]:
        if entry["id"] == edited:
            entry.update(description="The cat builds a rocket out of a cardboard box.",
                         generation_prompt="a grey cat building a cardboard rocket in a garden, comic style")
        if entry["id"] == blocked:
            entry["generation_prompt"] = f"comic panel, {BLOCKED}"
    response = client.put(f"/api/pipeline/{run_id}/scenes", json=body)
    assert response.status_code == 202, response.get_json()
    run = finished(client, run_id)
    scenes = {s["id"]: s for s in run["storyboard"]["scenes"]}
    assert scenes[edited]["status"] == "ready" and scenes[edited]["description"].startswith("The cat builds")
    assert scenes[blocked]["status"] == "blocked" and "generation_prompt" not in scenes[blocked]
    assert BLOCKED not in client.get(f"/api/pipeline/{run_id}/status").get_data(as_text=True)

    started = client.post("/api/schema/pipeline/storyboard_generation",
                          json={"run_id": run_id, "output_config": "sketch_offline", "seed": SEED})
    assert started.status_code == 202, started.get_json()
    run = finished(client, run_id)
    assert run["status"] == "succeeded", run
    outputs = {o["index"]: o for o in run["outputs"]}
    for position, scene in enumerate(run["storyboard"]["scenes"], start=1):
        out = outputs[scene["output"]]
        assert out["scene"] == scene["id"] and out["seed"] == SEED + position - 1  # one seed policy
        if scene["status"] == "blocked":
            assert out["status"] == "blocked" and out["block"]["stage"] == "stage3"
        else:
            assert out["status"] == "succeeded" and client.get(out["url"]).data[:4] == b"\x89PNG"
    scenes = {s["id"]: s for s in run["storyboard"]["scenes"]}
    assert outputs[scenes[blocked]["output"]]["status"] == "blocked"
    assert outputs[scenes[edited]["output"]]["status"] == "succeeded"

    record = app.extensions["devserver.recorder"].events(run_id)
    brief = next(i for i in record if i["item_type"] == "storyboard_brief")
    scene_items = [i for i in record if i["item_type"] == "storyboard_scene"]
    assert len(scene_items) == len(board["scenes"]) and all(i["metadata"]["brief"] == brief["sequence"]
                                                            for i in scene_items)
    stopped = next(i for i in record if i["item_type"] == "stage3_blocked")
    assert stopped["metadata"]["scene"] == blocked
    pictures = [i for i in record if i["item_type"] == "output_image"]
    assert {i["metadata"]["scene"] for i in pictures} == {s["id"] for s in run["storyboard"]["scenes"]
                                                         if s["status"] != "blocked"}
    assert all(i["loop_iteration"] == i["metadata"]["scene_index"] for i in pictures)
    assert any(i["item_type"] == "user_edit" and i["metadata"].get("scene") == edited for i in record)

    sheet = client.get(f"/api/runs/{run_id}/storyboard.pdf")
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf" and sheet.data[:5] == b"%PDF-"
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/runs/{run_id}/storyboard.zip").data))
    assert len([n for n in archive.namelist() if n.startswith("scene_")]) == len(pictures)
    assert BLOCKED not in archive.read("storyboard.json").decode("utf-8")
    staff = logged_in(app, login, "researcher")
    assert staff.get(f"/api/runs/{run_id}/storyboard.pdf").status_code == 200
