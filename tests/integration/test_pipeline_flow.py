"""The whole pipeline through the HTTP API on the embedded model (real llama.cpp) and the offline sketch.

Assertions are about structure a student or researcher would notice — statuses, recorded items,
files, blocks — never about the model's wording.
"""
from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from tests.waiting import finished, phase_done

pytestmark = pytest.mark.slow


def post_run(client, phase: str, body: dict, tries: int = 3) -> dict:
    """POST a phase and wait for it; a fresh run if the real model's random text was (rightly) blocked.

    The embedded model writes unpredictable text; now and then it contains a §86a number code and a
    checkpoint blocks it. That is the safety layer working, not what these tests are about."""
    for _ in range(tries):
        started = client.post(f"/api/schema/pipeline/{phase}", json=body)
        assert started.status_code == 202, started.get_json()
        run = finished(client, started.get_json()["run_id"])  # the state, not a fixed wait
        block = run.get("block") or {}
        if not (run["status"] == "blocked" and block.get("checkpoint") in MODEL_CHECKPOINTS):
            return run
    raise AssertionError(f"{tries} runs in a row were blocked by the model's texts: {run['block']}")


MODEL_CHECKPOINTS = ("translation", "interception", "back_translation", "optimization")


def run_folder(app, run_id: str) -> Path:
    return app.extensions["devserver.recorder"].runs_dir / run_id


def events(app, run_id: str) -> list[dict]:
    lines = (run_folder(app, run_id) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def item_types(app, run_id: str) -> list[str]:
    return [e["item_type"] for e in events(app, run_id)]


def test_execute_runs_all_four_stages_and_stores_the_image(app, client):
    run = post_run(client, "execute", {
        "schema": "bauhaus", "input_text": "a red balloon flies over the city",
        "output_configs": ["sketch_offline"], "lang": "en"})
    assert run["status"] == "succeeded", run
    assert run["interception"]["result"] and run["interception"]["context"]
    assert run["interception"]["task_instruction"] and run["interception"]["input"]
    output = run["outputs"][0]
    assert output["status"] == "succeeded" and output["negative_prompt"]
    media = client.get(output["url"])
    assert media.status_code == 200 and media.mimetype == "image/png" and media.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert media.cache_control.private and not media.cache_control.public  # never in a shared cache
    folder = run_folder(app, run["run_id"])
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["status"] == "succeeded" and meta["outputs"][0]["file"] == output["file"]
    assert (folder / output["file"]).read_bytes() == media.data
    types = item_types(app, run["run_id"])
    for expected in ("pipeline_start", "user_input_text", "stage1_safety_check", "translation_result",
                     "interception_iteration", "interception_final", "optimization_result",
                     "stage3_safety_check", "output_image", "pipeline_complete"):
        assert expected in types
    seqs = [e["sequence"] for e in events(app, run["run_id"])]
    assert seqs == list(range(1, len(seqs) + 1))
    llm_items = [e for e in events(app, run["run_id"]) if e["item_type"] == "interception_iteration"]
    assert llm_items[0]["metadata"]["model_used"] == "smollm2-135m"
    assert llm_items[0]["metadata"]["parameters"]["temperature"] is not None


def test_three_phase_flow_with_edits_shares_one_run_and_records_every_edit(client):
    start = post_run(client, "stage2", {
        "schema": "user_defined", "input_text": "a lighthouse in the storm",
        "context_prompt": "Describe everything as if it were made of paper.", "lang": "en"})
    assert start["status"] == "succeeded", start
    run_id = start["run_id"]
    assert start["interception"]["context"] == "Describe everything as if it were made of paper."

    edited = "a paper lighthouse folded from blue paper, paper waves"
    opt = phase_done(client, "/api/schema/pipeline/optimize", json={
        "run_id": run_id, "output_config": "sketch_offline", "prompt": edited, "lang": "en"}).get_json()
    assert opt["status"] == "succeeded" and opt["run_id"] == run_id
    assert opt["optimizations"]["sketch_offline"]["input"] == edited

    final = "paper lighthouse, blue folded waves, origami"
    gen = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run_id, "output_configs": ["sketch_offline"], "prompts": {"sketch_offline": final},
        "seed": 1234, "lang": "en"}).get_json()
    assert gen["status"] == "succeeded", gen
    out = gen["outputs"][0]
    assert out["seed"] == 1234 and out["prompt"] == final
    entities = client.get(f"/api/pipeline/{run_id}/entities").get_json()["entities"]
    edits = [e for e in entities if e["item_type"] == "user_edit"]
    assert {e["content"] for e in edits} >= {edited, final, "Describe everything as if it were made of paper."}
    # each edited text was checked right after it was recorded
    for edit in edits:
        after = [e for e in entities if e["sequence"] > edit["sequence"]][0]
        assert after["item_type"] in ("stage1_safety_check", "stage2_safety_check", "stage3_safety_check")
    # "generate again" with the same prompt and seed: a second output, the same picture (reproducible)
    again = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run_id, "output_configs": ["sketch_offline"], "prompts": {"sketch_offline": final},
        "seed": 1234, "lang": "en"}).get_json()
    assert [o["index"] for o in again["outputs"]] == [0, 1]
    assert client.get(again["outputs"][1]["url"]).data == client.get(out["url"]).data
    # in a new run too
    fresh = phase_done(client, "/api/schema/pipeline/generation", json={
        "output_configs": ["sketch_offline"], "prompt": final, "seed": 1234, "lang": "en"}).get_json()
    assert fresh["run_id"] != run_id and fresh["status"] == "succeeded"
    assert client.get(fresh["outputs"][0]["url"]).data == client.get(out["url"]).data


@pytest.mark.timeout(900)  # up to twelve calls of the embedded model (each pass and its back-translation)
def test_stillepost_records_every_iteration_with_its_language(app, client):
    run = post_run(client, "stage2", {"schema": "stillepost", "input_text": "the cat sleeps in the sun", "lang": "en"})
    assert run["status"] == "succeeded", run
    iterations = run["interception"]["iterations"]
    cfg = client.get("/api/configs/stillepost").get_json()
    assert len(iterations) == cfg["iterations"] >= 2
    assert [i["index"] for i in iterations] == list(range(1, len(iterations) + 1))
    assert all(i["language"] for i in iterations)
    recorded = [e for e in events(app, run["run_id"]) if e["item_type"] == "interception_iteration"]
    assert [e["stage_iteration"] for e in recorded] == list(range(1, len(iterations) + 1))
    assert run["interception"]["result"] == iterations[-1]["text"]
    checks = [e for e in events(app, run["run_id"]) if e.get("metadata", {}).get("checkpoint") == "interception"]
    assert len(checks) == len(iterations)


def test_one_failing_output_does_not_fail_the_others(client):
    run = post_run(client, "execute", {"schema": "haiku", "input_text": "snow on a mountain", "lang": "en",
                                       "output_configs": ["sketch_offline", "sd35_large"]})
    assert run["status"] == "succeeded"
    by_id = {o["output_config"]: o for o in run["outputs"]}
    assert by_id["sketch_offline"]["status"] == "succeeded"
    assert by_id["sd35_large"]["status"] == "failed"
    assert "COMFYUI_URL" in by_id["sd35_large"]["error"]["message"]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_p86a_input_is_blocked_at_stage1_with_a_message(app, client, lang):
    run = phase_done(client, "/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": "eine Fahne mit H4kenkr3uz", "lang": lang,
        "output_configs": ["sketch_offline"]}).get_json()
    assert run["status"] == "blocked"
    block = run["block"]
    assert block["stage"] == "stage1" and block["checkpoint"] == "input"
    for language in ("de", "en"):
        assert block["message"][language]["title"] and block["message"][language]["try_instead"]
    types = item_types(app, run["run_id"])
    assert "stage1_blocked" in types
    assert "translation_result" not in types and "interception_iteration" not in types
    assert run["outputs"] == [] and not list(run_folder(app, run["run_id"]).glob("*_output_*"))


def test_edited_prompt_that_turns_harmful_is_blocked_at_stage3(app, client):
    run_id = post_run(client, "stage2", {"schema": "pop_art", "input_text": "a soup can", "lang": "en"})["run_id"]
    gen = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run_id, "output_configs": ["sketch_offline"],
        "prompts": {"sketch_offline": "a soup can with a big swastika on it"}}).get_json()
    assert gen["status"] == "blocked"
    assert gen["outputs"][0]["status"] == "blocked" and gen["outputs"][0]["url"] is None
    assert gen["outputs"][0]["block"]["message"]["en"]["what"]
    assert not list(run_folder(app, run_id).glob("*_output_*"))


def test_retried_post_with_the_same_run_id_is_idempotent(app, client):
    run_id = str(uuid.uuid4())
    body = {"schema": "haiku", "input_text": "rain on a window", "lang": "en", "run_id": run_id}
    first = client.post("/api/schema/pipeline/stage2", json=body)
    second = phase_done(client, "/api/schema/pipeline/stage2", json=body)
    assert first.status_code == 202 and first.get_json()["run_id"] == run_id
    assert second.get_json()["run_id"] == run_id and second.get_json()["status"] == "succeeded"
    assert item_types(app, run_id).count("pipeline_start") == 1
    conflict = client.post("/api/schema/pipeline/stage2", json={**body, "input_text": "something else"})
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "run_id_conflict"


def test_runs_at_once_keep_their_own_rules(app, client):
    # random tokens: a model can't make up another run's marker (it might count from "marker10" to "marker11")
    # (consonants only: no digits that look like number codes, no words that could be on a term list)
    markers = ["".join(random.choices("bcdfghjklmnpqrstvwxz", k=9)) for _ in range(20)]
    ids = []
    for marker in markers:
        r = client.post("/api/schema/pipeline/stage2", json={
            "schema": "user_defined", "input_text": f"a {marker} tree", "lang": "en",
            "context_prompt": f"Rules {marker}: describe it as a {marker} poster."})
        assert r.status_code == 202
        ids.append(r.get_json()["run_id"])
    orchestrator = app.extensions["devserver.orchestrator"]
    succeeded = 0
    for marker, run_id in zip(markers, ids):
        status = orchestrator.wait(run_id, 240)
        # a model text may rightly be blocked now and then; isolation is checked for every run anyway
        assert status["status"] == "succeeded" or (status["status"] == "blocked" and
                                                   status["block"]["checkpoint"] in MODEL_CHECKPOINTS), status
        succeeded += status["status"] == "succeeded"
        assert marker in status["interception"]["context"] and marker in status["input_text"]
        record = (run_folder(app, run_id) / "events.jsonl").read_text()
        leaks = [line for line in record.splitlines() if any(m in line for m in markers if m != marker)]
        assert leaks == [], (marker, leaks)
    assert succeeded >= 15
    # the loaded config was never changed by a student's rules
    assert app.extensions["devserver.catalog"].interception("user_defined").context is None


def test_llm_seed_makes_every_model_call_send_and_record_that_seed(make_app):
    app = make_app(LLM_SEED=4242)
    run = post_run(app.test_client(), "stage2", {"schema": "haiku", "input_text": "a heron in the reeds",
                                                 "lang": "en"})
    model_items = [e for e in events(app, run["run_id"]) if e["metadata"].get("model_used")]
    assert model_items and all(e["metadata"]["parameters"]["seed"] == 4242 for e in model_items)
