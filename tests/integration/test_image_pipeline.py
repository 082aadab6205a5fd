"""Image + text pipelines: the vision model (the Ollama fake) describes the uploaded picture, the
description is recorded and checked, and it reaches Stage 2 with the student's text; a blocked
description blocks the run and never reaches a student. Generation links the picture it started from.
"""
from __future__ import annotations

import io
import json
import uuid
from typing import Iterator

import pytest
from PIL import Image

from tests.fakes.ollama_fake import OllamaFake

WAIT = "?wait=60"
VISION = "llama3.2-vision:latest"
WRITER = "writer:latest"
ROLES = {role: f"ollama/{WRITER}" for role in ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                               "STAGE2_OPTIMIZATION_MODEL")}


def red_picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (210, 35, 35)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=(VISION, WRITER)) as fake:
        yield fake


@pytest.fixture
def seeing_app(make_app, ollama):
    return make_app(OLLAMA_URL=ollama.url, VISION_MODEL=f"ollama/{VISION}", MODEL_ROLE_MAP=ROLES, RETRY_ATTEMPTS=1)


def uploaded(client) -> tuple[str, str]:
    run_id = str(uuid.uuid4())
    r = client.post("/api/uploads", data={"run_id": run_id, "file": (io.BytesIO(red_picture()), "red.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return run_id, r.get_json()["file"]


def stage2(client, run_id: str, file: str | None, schema: str = "picture_transform"):
    body = {"schema": schema, "input_text": "make it a winter scene", "lang": "en", "run_id": run_id}
    if file is not None:
        body["input_image"] = file
    return client.post(f"/api/schema/pipeline/stage2{WAIT}", json=body)


def test_the_description_is_recorded_checked_and_reaches_stage2(seeing_app, ollama):
    client = seeing_app.test_client()
    run_id, file = uploaded(client)
    run = stage2(client, run_id, file).get_json()
    assert run["status"] == "succeeded", run
    items = seeing_app.extensions["devserver.recorder"].events(run_id)
    description = next(i for i in items if i["item_type"] == "image_description")
    assert "red" in description["content"] and description["metadata"]["input_image"] == f"{run_id}/{file}"
    checks = [i for i in items if i["item_type"] == "stage1_safety_check"
              and i["metadata"]["checkpoint"] == "image_description"]
    assert checks and checks[0]["metadata"]["decision"] == "allow"
    assert items.index(checks[0]) < items.index(description)  # checked before anyone sees it
    seen = [b for b in ollama.chat_bodies() if b["model"] == VISION]
    assert len(seen) == 1 and seen[0]["messages"][-1]["images"] and "format" not in seen[0]
    # the student's text and the description are the INPUT of the interception, as sent to the model
    assert description["content"] in run["interception"]["input"] and "winter" in run["interception"]["input"]
    interception_calls = [json.dumps(b) for b in ollama.chat_bodies() if b["model"] == WRITER]
    assert any(description["content"] in call and "winter" in call for call in interception_calls)
    assert run["interception"]["result"]


def test_a_blocked_description_blocks_the_run_and_students_never_see_it(seeing_app, ollama):
    client = seeing_app.test_client()
    run_id, file = uploaded(client)
    ollama.description = "A big Hakenkreuz flag over the square."
    run = stage2(client, run_id, file).get_json()
    assert run["status"] == "blocked" and run["block"]["stage"] == "stage1", run
    assert not run["interception"]["result"]
    assert not [b for b in ollama.chat_bodies() if b["model"] == WRITER and "Hakenkreuz" in json.dumps(b)]
    for path in ("entities", "journey", "status", "entity/image_description"):
        body = client.get(f"/api/pipeline/{run_id}/{path}").get_data(as_text=True)
        assert "hakenkreuz" not in body.lower(), path
    kept = next(i for i in seeing_app.extensions["devserver.recorder"].events(run_id)
                if i["item_type"] == "image_description")
    assert kept["metadata"]["withheld"] and "Hakenkreuz" in kept["content"]  # teachers keep the record


def test_an_attitude_that_takes_a_picture_needs_one_and_a_vision_model(make_app, seeing_app):
    client = seeing_app.test_client()
    run_id, file = uploaded(client)
    r = stage2(client, run_id, None)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "image_required"
    r = stage2(client, run_id, file, schema="dada")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "image_not_taken"
    r = stage2(client, run_id, "09_user_input_image.png")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "input_image_not_found"

    blind = make_app().test_client()
    run_id, file = uploaded(blind)
    r = stage2(blind, run_id, file)
    assert r.status_code == 409 and "VISION_MODEL" in r.get_json()["error"]["message"]
    listed = {c["id"]: c for c in blind.get("/api/configs/interception?lang=en").get_json()["configs"]}
    assert listed["picture_transform"]["takes_image"] and not listed["picture_transform"]["available"]
    assert "describe pictures" in listed["picture_transform"]["unavailable_reason"]
    assert listed["dada"]["available"] and not listed["dada"]["takes_image"]


def test_generation_starts_from_the_picture_and_the_record_links_it(seeing_app):
    client = seeing_app.test_client()
    run_id, file = uploaded(client)
    run = client.post(f"/api/schema/pipeline/generation{WAIT}", json={
        "run_id": run_id, "output_configs": ["sketch_offline"], "prompt": "a snowy red house",
        "input_image": file, "denoise": 0.6}).get_json()
    assert run["status"] == "succeeded", run
    output = next(i for i in seeing_app.extensions["devserver.recorder"].events(run_id)
                  if i["item_type"] == "output_image")
    assert output["metadata"]["input_image"] == f"{run_id}/{file}" and output["metadata"]["denoise"] == 0.6

    # a picture of a run the caller may not see is a 404, as if that run did not exist
    recorder = seeing_app.extensions["devserver.recorder"]
    other = recorder.open_run(str(uuid.uuid4()), {"status": "succeeded", "session": "ws-other", "student": "st-x"})
    other.event("user_input_image", stage="stage1", media_type="image",
                file=other.save_entity("user_input_image", red_picture(), "png"))
    r = client.post(f"/api/schema/pipeline/generation{WAIT}", json={
        "output_configs": ["sketch_offline"], "prompt": "a red house", "input_image": f"{other.run_id}/01_user_input_image.png"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "run_not_found"
