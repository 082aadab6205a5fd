"""The brief's JSON schema (what constrains the model) and its pydantic model (what validates) agree."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from devserver.engine.brief import (BRIEF_SCHEMA, DESCRIPTION_MAX, PROMPT_MAX, SCENES_MAX, SCENES_MIN, Brief,
                                    problems_of)
from devserver.engine.requests import SceneEditRequest

RUN = "0b6f7f3e-6c1a-4f3e-9d55-6f1b2b3c4d5e"


def brief(n: int, **scene: str) -> dict:
    one = {"description": "A cat on a roof", "generation_prompt": "grey cat, roof, night", **scene}
    return {"title": "The Moon Cat", "logline": "A cat flies to the moon.", "scenes": [one] * n}


def test_the_schema_sent_to_the_model_has_the_limits_the_validator_enforces():
    scenes = BRIEF_SCHEMA["properties"]["scenes"]
    assert (scenes["minItems"], scenes["maxItems"]) == (SCENES_MIN, SCENES_MAX)
    fields = scenes["items"]["properties"]
    assert fields["description"]["maxLength"] == DESCRIPTION_MAX
    assert fields["generation_prompt"]["maxLength"] == PROMPT_MAX
    assert BRIEF_SCHEMA["additionalProperties"] is False and scenes["items"]["additionalProperties"] is False


@pytest.mark.parametrize("n", [SCENES_MIN, SCENES_MAX])
def test_a_brief_of_four_to_eight_scenes_is_valid(n):
    assert len(Brief.model_validate(brief(n)).scenes) == n


@pytest.mark.parametrize("bad, where", [
    (brief(SCENES_MIN - 1), "scenes"),
    (brief(SCENES_MAX + 1), "scenes"),
    (brief(SCENES_MIN, description="   "), "scenes.0.description"),  # blanks pass a schema, not the model
    ({**brief(SCENES_MIN), "mood": "happy"}, "mood"),
    ({k: v for k, v in brief(SCENES_MIN).items() if k != "logline"}, "logline"),
])
def test_a_malformed_brief_names_what_is_wrong(bad, where):
    with pytest.raises(ValidationError) as caught:
        Brief.model_validate(bad)
    assert any(line.startswith(where) for line in problems_of(caught.value))


def test_an_edited_list_keeps_one_to_eight_scenes_and_records_no_texts():
    edit = SceneEditRequest(run_id=RUN, scenes=[{"id": "s2"}, {"id": "s1", "description": "A cat in a rocket"},
                                                 {"description": "The moon", "generation_prompt": "the moon"}])
    assert edit.recorded()["scenes"] == [{"id": "s2", "fields": []}, {"id": "s1", "fields": ["description"]},
                                         {"id": None, "fields": ["description", "generation_prompt"]}]
    assert "A cat in a rocket" not in str(edit.recorded())  # the text goes to a checked user_edit item
    for scenes in ([], [{"id": f"s{i}"} for i in range(1, SCENES_MAX + 2)]):
        with pytest.raises(ValidationError):
            SceneEditRequest(run_id=RUN, scenes=scenes)
