"""Browser tests of the student web app: real Chromium, the real app over HTTP, a fake ComfyUI.

One app serves every e2e test of the session (the embedded model is loaded once). Its ComfyUI is a
`FakeComfyUI` that has exactly the models the Stable Audio output needs, so Stable Audio is
available while SD 3.5 is unavailable ("missing model"); both are tested.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect
from werkzeug.serving import make_server

from devserver.app import create_app, shutdown
from tests.fakes.comfyui_fake import FakeComfyUI

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_TIMEOUT_MS = 15_000  # clicks, typing, anything that needs no model call
PHASE_TIMEOUT_MS = 300_000  # a hang guard: a phase of the embedded model on a busy 2-core machine (next to a CPU hog)
AUDIO_CHUNK = ROOT / "schemas" / "chunks" / "output_audio_stable_audio.json"
# Spread the fake's websocket frames out a little so a progress bar is seen moving, as on a real GPU.
FRAME_DELAY_SECONDS = 0.02
# One llama.cpp thread: Chromium, the server and the model share 2 cores (and other test runs); with
# two threads llama.cpp's spinning workers slowed each call ~10x under that contention (measured).
LOCAL_THREADS = 1


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """Launch the system's Debian Chromium headless (never a downloaded browser)."""
    return {"executable_path": "/usr/bin/chromium", "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def frontend_built() -> None:
    """Build the Vue app if dist/ is missing or older than its sources; a failed build fails the tests."""
    result = subprocess.run([str(ROOT / "scripts" / "build_frontend.sh")], capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"frontend build failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}",
                    pytrace=False)
    if not (ROOT / "public" / "ai4artsed-frontend" / "dist" / "index.html").is_file():
        pytest.fail("the frontend build left no dist/index.html", pytrace=False)


@pytest.fixture(scope="session")
def comfyui() -> Iterator[FakeComfyUI]:
    """Run a fake ComfyUI that has the Stable Audio models installed (and nothing else)."""
    models = tuple(json.loads(AUDIO_CHUNK.read_text(encoding="utf-8"))["required_models"])
    with FakeComfyUI(models=models, frame_delay=FRAME_DELAY_SECONDS) as fake:
        yield fake


@pytest.fixture(scope="session")
def live_app(frontend_built, comfyui, tmp_path_factory) -> Iterator[Any]:
    """Build the real app on a temporary exports folder, wired to the fake ComfyUI."""
    app = create_app({"TESTING": True, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"),
                      "COMFYUI_URL": comfyui.url, "LOCAL_THREADS": LOCAL_THREADS})
    yield app
    shutdown(app)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve an app over real HTTP on 127.0.0.1 in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_url(live_app) -> Iterator[str]:
    """Serve the shared app over real HTTP; return its base URL."""
    with served(live_app) as url:
        yield url


@pytest.fixture(scope="session")
def base_url(live_url: str) -> str:
    """Point pytest-playwright's pages at the live app (relative `page.goto` and `page.request`)."""
    return live_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Open every page at a desktop size, with a German browser (the app's default language)."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "de-DE"}


class ModelTextBlocked(Exception):
    """The embedded model wrote something a checkpoint (rightly) blocked; the test may try a fresh run."""


BLOCKED_CARD = "document.querySelector(\"[data-testid='blocked-card']\") !== null"


class StudentPage:
    """The student page in one browser tab, with the steps a student takes and a camera."""

    PHASE_MS = PHASE_TIMEOUT_MS

    def __init__(self, page: Page, test_name: str) -> None:
        self.page, self._name, self._shots = page, test_name, 0

    def open(self) -> "StudentPage":
        """Load the page and wait until the attitudes are listed."""
        self.page.goto("/")
        self.page.get_by_test_id("idea-input").wait_for()
        self.page.locator("[data-testid^='attitude-']:not([data-testid='attitude-group'])").first.wait_for()
        return self

    def choose_attitude(self, attitude: str) -> None:
        """Press an attitude's card and wait until its rules are in the rules box."""
        self.page.get_by_test_id(f"attitude-{attitude}").click()
        expect(self.page.get_by_test_id(f"attitude-{attitude}")).to_have_attribute("aria-pressed", "true")
        expect(self.page.get_by_test_id("rules-input")).not_to_have_value("")

    def start(self, attitude: str, idea: str) -> None:
        """Type an idea, choose an attitude and press Start."""
        self.page.get_by_test_id("idea-input").fill(idea)
        self.choose_attitude(attitude)
        self.page.get_by_test_id("start-button").click()

    def _until_or_blocked(self, condition: str) -> None:
        """Wait for a JS condition; raise ModelTextBlocked if the blocked card shows up instead."""
        self.page.wait_for_function(f"() => {BLOCKED_CARD} || ({condition})", timeout=PHASE_TIMEOUT_MS,
                                    polling=100)
        if self.page.get_by_test_id("blocked-card").count():
            self.shot("blocked-by-a-model-text", self.page.get_by_test_id("blocked-card"))
            raise ModelTextBlocked()

    def wait_for_interception(self) -> None:
        """Wait until every Stage 1/2 box is done and the editable result is filled in."""
        self._until_or_blocked("document.querySelector(\"[data-testid='stage-box-interception']\")"
                               "?.dataset.state === 'done'")
        for step in ("safety", "translation", "interception"):
            expect(self.page.get_by_test_id(f"stage-box-{step}")).to_have_attribute(
                "data-state", "done", timeout=PHASE_TIMEOUT_MS)
        expect(self.page.get_by_test_id("interception-result")).not_to_have_value("", timeout=PHASE_TIMEOUT_MS)

    def choose_output(self, output_id: str) -> None:
        """Choose an output as soon as the picker accepts it, and wait for its optimized prompt."""
        option = self.page.get_by_test_id(f"output-option-{output_id}")
        expect(option).to_be_enabled(timeout=PHASE_TIMEOUT_MS)
        option.click()
        expect(option).to_have_attribute("aria-pressed", "true")
        self._until_or_blocked(f"document.querySelector(\"[data-testid='optimized-prompt-{output_id}']\")"
                               "?.value?.length > 0")
        expect(self.page.get_by_test_id(f"optimized-prompt-{output_id}")).not_to_have_value(
            "", timeout=PHASE_TIMEOUT_MS)

    def run_id(self) -> str:
        """Read the current run's id from the page's link to its journey."""
        href = self.page.locator("main a[href^='/runs/']").first.get_attribute("href") or ""
        match = re.fullmatch(r"/runs/([0-9a-f-]{36})", href)
        assert match, f"no journey link with a run id: {href!r}"
        return match.group(1)

    def api(self, path: str) -> Any:
        """GET an API path of the app under test (as the test, not as the page) and return its JSON."""
        response = self.page.request.get(path)
        assert response.ok, (path, response.status)
        return response.json()

    def cancel_unfinished_run(self) -> None:
        """Cancel the page's run if a failed test left it working, so it doesn't slow the next tests."""
        link = self.page.locator("main a[href^='/runs/']")
        if link.count() == 0:
            return
        run_id = self.run_id()
        if self.api(f"/api/pipeline/{run_id}/status")["status"] in ("queued", "running"):
            self.page.request.post(f"/api/pipeline/{run_id}/cancel")

    def shot(self, step: str, show: Locator | None = None) -> None:
        """Save the viewport (scrolled to `show`) as screenshots/<test>-<nn>-<step>.png."""
        if show is not None:
            show.scroll_into_view_if_needed()
        self._shots += 1
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self._name}-{self._shots:02d}-{step}.png"))


def with_fresh_runs(student: "StudentPage", flow, tries: int = 3) -> None:
    """Run a flow; if a model text was blocked on the way, reload and run it again (at most `tries`)."""
    for attempt in range(tries):
        if attempt:
            student.open()
        try:
            return flow()
        except ModelTextBlocked:
            continue
    pytest.fail(f"{tries} runs in a row were blocked by the embedded model's texts")


@pytest.fixture
def student(page: Page, request: pytest.FixtureRequest) -> Iterator[StudentPage]:
    """The student page, loaded, with the ordinary UI timeout for everything that needs no model."""
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    student = StudentPage(page, request.node.originalname).open()
    yield student
    student.cancel_unfinished_run()
