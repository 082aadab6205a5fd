"""A student brings a picture in a real browser: a file that is no picture is refused with the server's
message, a photo dropped onto the page shows its preview, and the picture attitude runs with it.

This module runs its own app: it needs a vision model (the Ollama protocol fake, which describes a
picture by its main colour) that the shared e2e app does not have. The text roles use the same fake,
so the interception is quick and never blocked by a model's wording.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from devserver.app import create_app, shutdown
from tests.e2e.conftest import PHASE_TIMEOUT_MS, UI_TIMEOUT_MS, StudentPage, served
from tests.fakes.ollama_fake import OllamaFake

pytestmark = pytest.mark.slow
VISION, WRITER = "llama3.2-vision:latest", "writer:latest"


def red_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (210, 35, 35)).save(out, "JPEG", exif=_gps_exif())
    return out.getvalue()


def _gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    return exif.tobytes()


@pytest.fixture(scope="module")
def picture_url(frontend_built, tmp_path_factory) -> Iterator[str]:
    """The real app over HTTP, with VISION_MODEL and the text roles on the Ollama fake."""
    with OllamaFake(models=(VISION, WRITER)) as ollama:
        roles = {role: f"ollama/{WRITER}" for role in ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                                       "STAGE2_OPTIMIZATION_MODEL")}
        app = create_app({"TESTING": True, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"), "OLLAMA_URL": ollama.url,
                          "VISION_MODEL": f"ollama/{VISION}", "MODEL_ROLE_MAP": roles, "RETRY_ATTEMPTS": 1,
                          "LOCAL_THREADS": 1})
        with served(app) as url:
            yield url
        shutdown(app)


def drop_file(page: Page, test_id: str, data: bytes, name: str, mime: str) -> None:
    """Drop a file onto an element as a drag from the desktop would (a DataTransfer with one File)."""
    page.evaluate("""([testId, b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
        const transfer = new DataTransfer()
        transfer.items.add(new File([bytes], name, { type: mime }))
        const target = document.querySelector(`[data-testid='${testId}']`)
        target.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }))
        target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }))
    }""", [test_id, base64.b64encode(data).decode(), name, mime])


def test_a_student_uploads_a_picture_sees_it_and_runs_the_picture_attitude(page: Page, picture_url: str,
                                                                          request: Any):
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    student = StudentPage(page, request.node.originalname)
    page.goto(f"{picture_url}/")
    page.get_by_test_id("idea-input").fill("make it a winter scene")
    page.get_by_test_id("attitude-picture_transform").click()
    expect(page.get_by_test_id("picture-upload")).to_be_visible()
    expect(page.get_by_test_id("start-button")).to_be_disabled()  # this attitude needs a picture first
    expect(page.get_by_test_id("picture-camera")).to_have_attribute("capture", "environment")

    page.get_by_test_id("picture-input").set_input_files(
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"these are my notes, not a picture"})
    expect(page.get_by_test_id("picture-error")).to_contain_text("PNG, JPEG or WebP")
    expect(page.get_by_test_id("picture-preview")).to_have_count(0)
    student.shot("refused", page.get_by_test_id("picture-upload"))

    drop_file(page, "picture-drop", red_photo(), "holiday.jpg", "image/jpeg")
    preview = page.get_by_test_id("picture-preview")
    expect(preview).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 96", arg=preview.element_handle())
    expect(page.get_by_test_id("picture-size")).to_contain_text("96 × 64")
    expect(page.get_by_test_id("picture-error")).to_have_count(0)
    student.shot("preview", page.get_by_test_id("picture-upload"))

    page.get_by_test_id("start-button").click()
    student.wait_for_interception()
    parts = page.get_by_test_id("three-parts").locator("dd")
    expect(parts.nth(2)).to_contain_text("winter")
    expect(parts.nth(2)).to_contain_text("red", timeout=PHASE_TIMEOUT_MS)  # the vision model's description
    student.shot("interception", page.get_by_test_id("three-parts"))

    run_id = student.run_id()
    items = page.request.get(f"{picture_url}/api/pipeline/{run_id}/entities").json()["entities"]
    kinds = [i["item_type"] for i in items]
    assert "user_input_image" in kinds and "image_description" in kinds
    assert kinds.index("user_input_image") < kinds.index("image_description") < kinds.index("interception_final")
