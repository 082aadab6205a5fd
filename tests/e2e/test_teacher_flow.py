"""Teachers in a real browser: log in, open a session, watch a student's run live, write an attitude
a student then uses, and release a blocked run with a reason that lands in the audit log.

The student is a second browser context (its own cookies) that joins with the code the teacher sees.
Assertions are about what teacher and student see; never about the model's wording.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import TEST_PASSWORD, add_user
from tests.e2e.conftest import PHASE_TIMEOUT_MS, UI_TIMEOUT_MS, StudentPage, with_fresh_runs

pytestmark = pytest.mark.slow
IDEA = "a lighthouse that tells stories at night"
LIVE_MS = 20_000  # the moderation page polls every few seconds
CONTEXT_EN = "Describe the idea as a calm meadow with flowers, bees and soft morning light."


@pytest.fixture
def teacher(page: Page, live_app: Any) -> Page:
    """A teacher logged in through the login page, on the dashboard."""
    add_user(live_app, "teacher", "ms_k")
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page.goto("/teacher")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # a teacher page without a login goes to the login
    page.get_by_test_id("login-name").fill("ms_k")
    page.get_by_test_id("login-password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("session-form")).to_be_visible()
    return page


@pytest.fixture
def student_context(browser: Browser, live_url: str, browser_context_args: dict[str, Any]) -> Iterator[Any]:
    """A second browser (own cookies) for the student."""
    context = browser.new_context(**{**browser_context_args, "base_url": live_url})
    yield context
    context.close()


def open_session(teacher: Page, title: str, level: str = "kids") -> str:
    """Create a session on the dashboard; return its join code as the page shows it."""
    teacher.get_by_test_id("session-title").fill(title)
    teacher.get_by_test_id("session-level").select_option(level)
    teacher.get_by_test_id("session-create").click()
    card = teacher.get_by_test_id("session-card").filter(has_text=title)
    code = card.get_by_test_id("session-code")
    expect(code).to_have_text(re.compile(r"^\s*[A-Z0-9-]{4,}\s*$"))
    qr = card.locator("img")
    teacher.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    return code.inner_text().strip()


def join(student_context: Any, code: str, name: str) -> StudentPage:
    """Open the QR code's link in the student's browser; return the student page once joined."""
    page = student_context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(f"/join?code={code}")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))  # joined: on to the student page
    return StudentPage(page, name).open()


def moderate(teacher: Page, title: str) -> None:
    """Open the moderation page of a session from the dashboard."""
    teacher.goto("/teacher")
    teacher.get_by_test_id("session-card").filter(has_text=title).get_by_test_id("session-moderate").click()
    expect(teacher.get_by_test_id("moderation-code")).to_be_visible()


def test_teacher_opens_a_session_and_sees_the_students_run_live(teacher: Page, student_context: Any):
    # the app runs on the embedded demo model: the dashboard says so and names the roles it serves
    expect(teacher.get_by_test_id("demo-model-notice")).to_contain_text("STAGE2_INTERCEPTION_MODEL")
    code = open_session(teacher, "Leuchtturm 4a")
    student = join(student_context, code, "teacher-live-student")
    assert student.api("/api/sessions/current")["session"]["title"] == "Leuchtturm 4a"
    moderate(teacher, "Leuchtturm 4a")
    expect(teacher.locator("[data-testid^='moderation-run-']")).to_have_count(0)

    def run() -> None:
        student.start("dada", IDEA)
        student.wait_for_interception()

    with_fresh_runs(student, run)
    run_id = student.run_id()
    card = teacher.get_by_test_id(f"moderation-run-{run_id}")
    expect(card).to_be_visible(timeout=LIVE_MS)  # no reload: the page follows the session by itself
    expect(card.get_by_test_id("run-input")).to_have_text(IDEA)
    expect(card).to_have_attribute("data-status", "succeeded", timeout=LIVE_MS)


def test_teacher_writes_an_attitude_with_inline_errors_dry_run_and_a_student_uses_it(teacher: Page,
                                                                                     student_context: Any):
    code = open_session(teacher, "Wiese 3b")
    teacher.get_by_test_id("configs-link").click()
    teacher.get_by_test_id("config-new").click()
    fields = {"cfg-id": "meadow_3b", "cfg-name-de": "Wiese", "cfg-name-en": "Meadow",
              "cfg-description-de": "Alles wird Wiese.", "cfg-description-en": "Everything becomes a meadow.",
              "cfg-category-de": "Eigene", "cfg-category-en": "Our own",
              "cfg-context-de": "Beschreibe die Idee als ruhige Wiese mit Blumen, Bienen und Morgenlicht.",
              "cfg-context-en": CONTEXT_EN, "cfg-icon": "🌼", "cfg-color": "green"}
    for test_id, value in fields.items():
        teacher.get_by_test_id(test_id).fill(value)
    teacher.get_by_test_id("config-save").click()
    error = teacher.get_by_test_id("error-display.color")
    expect(error).to_be_visible()  # the server's 422, next to its field
    expect(teacher.get_by_test_id("config-saved")).to_have_count(0)

    teacher.get_by_test_id("cfg-color").fill("#22aa44")
    teacher.get_by_test_id("dry-run-idea").fill("a cat on a roof")
    for _ in range(3):  # the tiny model's text may rightly be blocked now and then
        teacher.get_by_test_id("dry-run-button").click()
        result = teacher.get_by_test_id("dry-run-output").or_(teacher.get_by_test_id("dry-run-blocked"))
        expect(result).to_be_visible(timeout=PHASE_TIMEOUT_MS)
        if teacher.get_by_test_id("dry-run-output").count():
            break
    expect(teacher.get_by_test_id("dry-run-output")).not_to_be_empty()
    expect(error).to_have_count(0)
    expect(teacher.get_by_test_id("dry-run-task_instruction")).not_to_be_empty()
    teacher.get_by_test_id("config-save").click()
    expect(teacher.get_by_test_id("config-saved")).to_be_visible()
    expect(teacher.get_by_test_id("version-1")).to_be_visible()

    student = join(student_context, code, "teacher-attitude-student")
    student.page.get_by_test_id("lang-switch").select_option("en")
    expect(student.page.get_by_test_id("attitude-meadow_3b")).to_be_visible()

    def run() -> None:
        student.start("meadow_3b", IDEA)
        student.wait_for_interception()

    with_fresh_runs(student, run)
    expect(student.page.get_by_test_id("three-parts").locator("dd").nth(1)).to_have_text(CONTEXT_EN)


def test_blocked_run_is_released_with_a_reason_and_the_audit_entry_is_visible(teacher: Page,
                                                                               student_context: Any):
    code = open_session(teacher, "Krimi 5c")
    student = join(student_context, code, "teacher-release-student")
    student.start("dada", "a murder mystery in the old library")
    expect(student.page.get_by_test_id("blocked-card")).to_be_visible(timeout=PHASE_TIMEOUT_MS)
    run_id = student.run_id()

    moderate(teacher, "Krimi 5c")
    card = teacher.get_by_test_id(f"moderation-run-{run_id}")
    expect(card.get_by_test_id("blocked-attempt")).to_be_visible(timeout=LIVE_MS)
    expect(card.get_by_test_id("blocked-text")).to_have_text("a murder mystery in the old library")
    reason = "A detective story for our reading unit, not violence."
    card.get_by_test_id("release-reason").fill(reason)
    card.get_by_test_id("release-button").click()
    expect(card.get_by_test_id("release-note")).to_contain_text(reason, timeout=LIVE_MS)
    entry = teacher.get_by_test_id("audit-entry")
    expect(entry).to_have_count(1, timeout=LIVE_MS)
    expect(entry).to_contain_text(reason)
    expect(entry).to_contain_text("ms_k")
    items = student.api(f"/api/pipeline/{run_id}/entities")["entities"]
    assert [i["metadata"]["reason"] for i in items if i["item_type"] == "moderation_release"] == [reason]
    student.page.goto(f"/runs/{run_id}")  # the student's journey shows the teacher's note
    expect(student.page.get_by_test_id("release-reason-note")).to_contain_text(reason)
