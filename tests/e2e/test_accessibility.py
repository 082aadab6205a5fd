"""Keyboard use with a visible focus, and the classroom tablet width (768 px) without sideways scrolling."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import with_fresh_runs

if TYPE_CHECKING:
    from tests.e2e.conftest import StudentPage

pytestmark = pytest.mark.slow
CARD = "[data-testid^='attitude-']:not([data-testid='attitude-group'])"
FOCUS = """() => {
    const el = document.activeElement
    const style = getComputedStyle(el)
    return {testid: el.dataset.testid || null, pressed: el.getAttribute('aria-pressed'),
            outline: style.outlineStyle, width: parseFloat(style.outlineWidth)}
}"""


def tab_to_first_card(page: Page, limit: int = 15) -> dict:
    """Press Tab from the top of the page until an attitude card has the focus; return the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if (focus["testid"] or "").startswith("attitude-"):
            return focus
    raise AssertionError(f"no attitude card reached with {limit} presses of Tab")


def test_attitude_picker_works_with_tab_enter_and_space_and_shows_the_focus(student: StudentPage):
    page = student.page
    first = tab_to_first_card(page)
    assert first["outline"] != "none" and first["width"] >= 2, first
    assert first["pressed"] == "false"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id(first["testid"])).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("rules-input")).to_be_visible()
    student.shot("enter-pressed", page.get_by_test_id(first["testid"]))

    page.keyboard.press("Tab")
    second = page.evaluate(FOCUS)
    assert (second["testid"] or "").startswith("attitude-") and second["testid"] != first["testid"], second
    assert second["outline"] != "none" and second["width"] >= 2, second
    page.keyboard.press("Space")
    expect(page.get_by_test_id(second["testid"])).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id(first["testid"])).to_have_attribute("aria-pressed", "false")
    expect(page.locator(f"{CARD}[aria-pressed='true']")).to_have_count(1)
    student.shot("space-pressed", page.get_by_test_id(second["testid"]))


def no_sideways_scrolling(page: Page) -> None:
    """Assert the page is no wider than the 768 px viewport."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the page is {width}px wide at a 768px viewport"


def within_width(page: Page, test_id: str) -> None:
    """Assert a control is visible and lies horizontally inside the viewport."""
    control = page.get_by_test_id(test_id)
    expect(control).to_be_visible()
    box = control.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 768, (test_id, box)


def test_tablet_width_shows_every_main_control_without_sideways_scrolling(student: StudentPage):
    page = student.page
    page.set_viewport_size({"width": 768, "height": 1024})
    for control in ("lang-switch", "idea-input", "attitude-bauhaus", "start-button"):
        within_width(page, control)
    no_sideways_scrolling(page)
    student.shot("start", page.get_by_test_id("idea-input"))

    def until_interception() -> None:
        student.page.set_viewport_size({"width": 768, "height": 1024})
        student.start("bauhaus", "a bicycle leaning on a wall")
        student.wait_for_interception()

    with_fresh_runs(student, until_interception)
    for control in ("rules-input", "three-parts", "interception-result", "output-option-sketch_offline"):
        within_width(page, control)
    no_sideways_scrolling(page)
    student.shot("interception", page.get_by_test_id("interception-result"))
    student.choose_output("sketch_offline")
    for control in ("optimized-prompt-sketch_offline", "generate-button"):
        within_width(page, control)
    no_sideways_scrolling(page)
    student.shot("outputs", page.get_by_test_id("generate-button"))
