"""What a student sees when the server says no: a §86a block, and an output this machine cannot run."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import with_fresh_runs

if TYPE_CHECKING:
    from tests.e2e.conftest import StudentPage

pytestmark = pytest.mark.slow


def test_p86a_idea_shows_the_blocked_card_in_the_ui_language_and_nothing_after_stage1(student: StudentPage):
    page = student.page
    expect(page.locator("html")).to_have_attribute("lang", "de")
    student.start("dada", "eine Fahne mit Hakenkreuz")
    card = page.get_by_test_id("blocked-card")
    expect(card).to_be_visible(timeout=student.PHASE_MS)
    run = student.api(f"/api/pipeline/{student.run_id()}/status")
    assert run["status"] == "blocked" and run["block"]["stage"] == "stage1", run
    messages = run["block"]["message"]
    expect(card.locator("h3")).to_contain_text(messages["de"]["title"])
    expect(card).to_contain_text(messages["de"]["try_instead"])
    expect(page.get_by_test_id("stage-box-safety")).to_have_attribute("data-state", "blocked")
    for later in ("translation", "interception"):
        expect(page.get_by_test_id(f"stage-box-{later}")).to_have_attribute("data-state", "pending")
    expect(page.get_by_test_id("output-option-sketch_offline")).to_be_disabled()
    student.shot("blocked-de", card)

    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(card.locator("h3")).to_contain_text(messages["en"]["title"])
    expect(card).to_contain_text(messages["en"]["try_instead"])
    student.shot("blocked-en", card)

    recorded = [e["item_type"] for e in student.api(f"/api/pipeline/{run['run_id']}/entities")["entities"]]
    assert "stage1_blocked" in recorded
    assert not {"translation_result", "interception_iteration", "interception_final"} & set(recorded), recorded
    # the interception never started, so there are no parts of it to show
    expect(page.get_by_test_id("three-parts")).to_have_count(0, timeout=3_000)  # the run is over: no waiting


def test_output_whose_model_is_missing_is_disabled_with_its_reason(student: StudentPage):
    page = student.page
    listed = {o["id"]: o for o in student.api("/api/configs/outputs?lang=de")["outputs"]}
    assert listed["sd35_large"]["availability_state"] == "missing_model", listed["sd35_large"]
    reason = listed["sd35_large"]["unavailable_reason"]
    assert reason

    option = page.get_by_test_id("output-option-sd35_large")
    explanation = page.get_by_test_id("output-unavailable-sd35_large")

    def until_interception() -> None:
        student.start("haiku", "snow falls on a mountain village")
        expect(explanation).to_be_visible()
        expect(explanation).to_contain_text(reason)
        student.wait_for_interception()

    with_fresh_runs(student, until_interception)
    # the picker now accepts outputs, yet this one stays disabled because its model is missing
    expect(page.get_by_test_id("output-option-sketch_offline")).to_be_enabled(timeout=student.PHASE_MS)
    expect(option).to_be_disabled()
    expect(explanation).to_be_visible()
    student.shot("unavailable", option)
