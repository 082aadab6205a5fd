"""A first run on the embedded defaults keeps the student's idea (issue 13), on the real 135M model.

What enters Stage 2 must still name the idea's main noun (German or English); no text a stage shows
may be template echo or commentary about the task. The gate's own detector judges that, so the test
does not depend on the model's wording: where the model fails, the honest fallback is what is checked.
"""
from __future__ import annotations

import pytest

from devserver.engine import quality
from devserver.engine.language import looks_english

pytestmark = pytest.mark.slow
WAIT = "?wait=240"
IDEAS = [("Ein Fuchs im Schnee unter dem Vollmond", ("fuchs", "fox")),
         ("Eine Katze schläft auf dem warmen Dach", ("katze", "cat")),
         ("Ein Leuchtturm am stürmischen Meer", ("leuchtturm", "lighthouse"))]
SHOWN_PROBLEMS = {"meta_commentary", "template_echo"}


def shown_problems(text: str, source: str, kind: str) -> set[str]:
    """Return the gate's echo/commentary findings on a text a student sees."""
    return set(quality.review(text, source, kind).problems) & SHOWN_PROBLEMS


@pytest.mark.parametrize("idea,noun", IDEAS, ids=[n[1] for _, n in IDEAS])
def test_a_german_idea_reaches_stage2_and_no_stage_shows_echo_or_commentary(client, idea, noun):
    run = client.post(f"/api/schema/pipeline/stage2{WAIT}", json={
        "schema": "bauhaus", "input_text": idea, "lang": "de"}).get_json()
    if run["status"] == "blocked":  # the model's text was (rightly) blocked; not what this test is about
        pytest.skip(f"a checkpoint blocked the model's text: {run['block']['checkpoint']}")
    assert run["status"] == "succeeded", run["error"]
    entering = run["interception"]["input"]
    assert any(word in entering.lower() for word in noun), entering
    if run["translation"] is None:  # kept, and the student is told
        assert {"stage": "stage1", "step": "translation", "code": "not_translated"} in run["notices"]
    else:
        assert not shown_problems(run["translation"], idea, "translation"), run["translation"]
    for iteration in run["interception"]["iterations"]:
        assert not shown_problems(iteration["text"], entering, "interception"), iteration["text"]

    result = run["interception"]["result"]
    opt = client.post(f"/api/schema/pipeline/optimize{WAIT}", json={
        "run_id": run["run_id"], "output_config": "sd35_large", "lang": "de"}).get_json()
    if opt["status"] == "blocked":
        pytest.skip(f"a checkpoint blocked the model's text: {opt['block']['checkpoint']}")
    assert opt["status"] == "succeeded", opt["error"]
    optimized = opt["optimizations"]["sd35_large"]["result"]
    assert optimized and not shown_problems(optimized, result, "optimization"), optimized
    if optimized == result:  # the gate (or the demo model's limit) kept the previous text, and says so
        assert {"stage": "stage2", "step": "optimization:sd35_large", "code": "optimization_kept_input"} \
            in opt["notices"], opt["notices"]
    if not looks_english(result):
        assert optimized == result  # the demo model does not rewrite a German text into English
