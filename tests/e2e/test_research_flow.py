"""Researchers in a real browser: log in, filter the recorded runs, prepare and download a ZIP, open a journey.

The runs are made through the real API first (a blocked one, and a full run on the embedded model with
the offline sketch), as the loopback default person; the researcher is another browser login.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD, add_user
from tests.e2e.conftest import PHASE_TIMEOUT_MS, SCREENSHOTS, UI_TIMEOUT_MS

pytestmark = pytest.mark.slow
BLOCKED_IDEA = "eine Hakenkreuz Fahne über dem Schulhof"


def make_runs(live_url: str) -> dict[str, Any]:
    """Start a blocked run and a full run (retrying a run whose model text was rightly blocked)."""
    with httpx.Client(base_url=live_url, timeout=PHASE_TIMEOUT_MS / 1000 + 30) as client:
        blocked = client.post("/api/schema/pipeline/execute?wait=60", json={
            "schema": "bauhaus", "input_text": BLOCKED_IDEA, "output_configs": ["sketch_offline"]}).json()
        assert blocked["status"] == "blocked", blocked
        for _ in range(3):
            done = client.post(f"/api/schema/pipeline/execute?wait={PHASE_TIMEOUT_MS // 1000}", json={
                "schema": "dada", "input_text": "Ein Fuchs im Schnee", "output_configs": ["sketch_offline"]}).json()
            if done["status"] == "succeeded":
                return {"blocked": blocked, "done": done}
        pytest.fail(f"three runs in a row did not succeed: {done['status']}")


def test_a_researcher_filters_opens_a_journey_and_downloads_a_zip(page: Page, live_app: Any, live_url: str) -> None:
    runs = make_runs(live_url)
    add_user(live_app, "researcher", "dr_r")
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)

    page.goto("/research")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("login-name").fill("dr_r")
    page.get_by_test_id("login-password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("research-table")).to_be_visible()
    expect(page.get_by_test_id("research-charts").locator("canvas").first).to_be_visible()

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "research-view.png"), full_page=True)
    page.get_by_test_id("filter-status").select_option("blocked")
    page.get_by_test_id("filter-q").fill("Schulhof")
    page.get_by_test_id("filter-apply").click()
    rows = page.get_by_test_id("research-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Schulhof")
    expect(rows.first).to_contain_text("gestoppt")  # the status in words (German browser), not the API's code

    page.get_by_test_id("export-job-start").click()  # the server builds the ZIP in the background
    link = page.get_by_test_id("export-job-download")
    expect(link).to_be_visible(timeout=PHASE_TIMEOUT_MS)
    with page.expect_download() as prepared:
        link.click()
    bulk = zipfile.ZipFile(io.BytesIO(open(prepared.value.path(), "rb").read()))
    blocked_id = runs["blocked"]["run_id"]
    assert json.loads(bulk.read("manifest.json"))["runs"] == [blocked_id]
    record = live_app.extensions["devserver.recorder"]
    assert json.loads(bulk.read(f"{blocked_id}/metadata.json")) == record.metadata(blocked_id)
    lines = bulk.read(f"{blocked_id}/events.jsonl").decode().splitlines()
    assert [json.loads(line) for line in lines] == record.events(blocked_id)

    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/research/runs/{runs['blocked']['run_id']}$"))
    expect(page.get_by_test_id("run-facts")).to_contain_text("gestoppt")
    expect(page.get_by_test_id("journey-timeline")).to_contain_text("Hakenkreuz")  # staff see what was typed

    with page.expect_download() as download:
        page.get_by_test_id("run-export-zip").click()
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    assert {"README.txt", "metadata.json", "events.jsonl"} <= set(archive.namelist())
    assert json.loads(archive.read("metadata.json"))["run_id"] == runs["blocked"]["run_id"]

    page.goto(f"/research/runs/{runs['done']['run_id']}")
    image = page.get_by_test_id("run-outputs").locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    page.screenshot(path=str(SCREENSHOTS / "research-run.png"), full_page=True)
