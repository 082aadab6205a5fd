"""A storyboard in a real browser: idea → storyboard attitude → scenes → edit one → draw → the sheet.

Assertions are about what a student sees (scene cards, their states, pictures that load, the sheet that
downloads) and what the run keeps; never about the model's wording.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ModelTextBlocked, with_fresh_runs

if TYPE_CHECKING:
    from tests.e2e.conftest import StudentPage

pytestmark = pytest.mark.slow
IDEA = "a cat who wants to fly to the moon"
EDITED = "Die Katze baut eine Rakete aus einem alten Karton."
BRIEF_MS = 300_000  # a brief is up to ~1,400 constrained tokens of the embedded model on a busy machine


def test_a_storyboard_is_written_edited_drawn_and_printed(student: StudentPage):
    page = student.page

    def until_scenes() -> None:
        student.start("storyboard_comic", IDEA)
        page.wait_for_url(re.compile(r"/storyboard/[0-9a-f-]{36}$"))
        page.wait_for_function("() => document.querySelector(\"[data-testid='blocked-card']\") !== null || "
                               "document.querySelector(\"[data-testid='scene-4']\") !== null",
                               timeout=BRIEF_MS, polling=200)
        if page.get_by_test_id("scene-1").count() == 0:  # the whole brief was (rightly) blocked
            raise ModelTextBlocked()

    with_fresh_runs(student, until_scenes)
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("storyboard-title")).not_to_be_empty()
    scenes = page.locator("[data-testid^='scene-'][data-state]")
    count = scenes.count()
    assert 4 <= count <= 8
    student.shot("scenes-written", page.get_by_test_id("scene-1"))

    first = page.get_by_test_id("scene-1")
    first.get_by_test_id("scene-description").fill(EDITED)
    first.get_by_test_id("scene-prompt").fill("a grey cat building a cardboard rocket in a garden")
    page.get_by_test_id("scenes-save").click()
    expect(page.get_by_test_id("scenes-save")).to_be_disabled()  # saved: nothing left to save
    page.wait_for_function("() => !document.querySelector(\"[data-testid='scenes-draw']\").disabled",
                           timeout=student.PHASE_MS)
    expect(first.get_by_test_id("scene-description")).to_have_value(EDITED)

    page.get_by_test_id("storyboard-output").select_option("sketch_offline")
    page.get_by_test_id("scenes-draw").click()
    expect(page.get_by_test_id("sheet-pdf")).to_be_visible(timeout=student.PHASE_MS)
    page.wait_for_function("() => ![...document.querySelectorAll(\"[data-testid^='scene-'][data-state]\")]"
                           ".some(s => ['waiting', 'running'].includes(s.dataset.state))", timeout=student.PHASE_MS)
    expect(first).to_have_attribute("data-state", "done")
    picture = first.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    student.shot("scenes-drawn", first)

    sheet = page.request.get(page.get_by_test_id("sheet-pdf").get_attribute("href") or "")
    assert sheet.ok and sheet.headers["content-type"] == "application/pdf" and sheet.body()[:5] == b"%PDF-"
    archive = page.request.get(page.get_by_test_id("sheet-zip").get_attribute("href") or "")
    assert archive.ok and archive.body()[:2] == b"PK"
    board = student.api(f"/api/pipeline/{run_id}/status")["storyboard"]
    assert board["scenes"][0]["edited"] and board["scenes"][0]["description"] == EDITED
    expect(page.get_by_test_id("scene-animate")).to_have_count(0)  # no image → video output runs here
