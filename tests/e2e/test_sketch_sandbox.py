"""A generated sketch runs in real Chromium from its own page: p5 draws; cookies, the app and the network are shut.

The code model is the Ollama protocol fake. Its sketch reaches `fetch` through a key the server's
constant folding cannot compute (`Object.keys({fetch: 1})[0]`), so it passes the code check — the
case the sketch page's policy is the second wall for (`no-cors`: without the policy the request would
succeed even from the sandbox's opaque origin). It also tries to read its own cookies and the app's.
The sketch is opened on the run's journey page, in the iframe the app builds.
"""
from __future__ import annotations

from typing import Iterator

import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from tests.conftest import TEST_PASSWORD, add_user
from tests.e2e.conftest import PHASE_TIMEOUT_MS, UI_TIMEOUT_MS
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import TERMINAL, until

pytestmark = pytest.mark.slow
SKETCH = """```javascript
function setup() {
  createCanvas(120, 120);
  background(0, 128, 255);
  const name = Object.keys({fetch: 1})[0];
  try {
    window[name]('/api/health', {mode: 'no-cors'})
      .then(() => { window.netResult = 'reached' }, () => { window.netResult = 'blocked' });
  } catch (e) {
    window.netResult = 'blocked';
  }
  const key = Object.keys({cookie: 1})[0];
  try { window.ownCookies = String(document[key]) } catch (e) { window.ownCookies = 'denied' }
  try { window.appCookies = String(parent.document[key]) } catch (e) { window.appCookies = 'denied' }
}
function draw() {}
```"""


@pytest.fixture(params=["loopback", "network"])
def sketch_server(request, make_app, serve, frontend_built) -> Iterator[tuple[str, str | None]]:
    """The app with a code model that writes SKETCH, and the join code: on loopback (one person, no
    code) or bound to a network address (students join a workshop session)."""
    network = {"HOST": "192.0.2.10"} if request.param == "network" else {}
    with OllamaFake(models=("coder:latest",)) as ollama:
        ollama.answer = SKETCH
        app = make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP={"CODE_MODEL": "ollama/coder:latest"},
                       RETRY_ATTEMPTS=1, **network)
        code = None
        if network:
            teacher = app.test_client()
            user = add_user(app, "teacher")
            teacher.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD})
            code = teacher.post("/api/sessions", json={"title": "Sketches", "safety_level": "kids"}).get_json()["code"]
        yield serve(app), code


def csrf(page: Page) -> dict[str, str]:
    """The CSRF header the web app would send with this page's cookies."""
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "csrf_token"), None)
    return {"X-CSRF-Token": token} if token else {}


def join(page: Page, base: str, code: str | None) -> None:
    """Join the workshop session with the page's browser, as a student does (nothing on loopback)."""
    if code is not None:
        assert page.request.post(f"{base}/api/sessions/join", data={"code": code}).ok


def make_sketch(page: Page, base: str) -> str:
    """Start a sketch run as the page's user and wait for it to end; return its run id."""
    run = page.request.post(f"{base}/api/schema/pipeline/generation", headers=csrf(page), data={
        "output_configs": ["p5js_code"], "prompt": "a calm blue sky"}).json()
    status = until(lambda: (s := page.request.get(f"{base}/api/pipeline/{run['run_id']}/status").json())
                   ["status"] in TERMINAL and s, "the sketch run to end")
    assert status["status"] == "succeeded", status
    return run["run_id"]


def sketch_ran(frame: Frame) -> None:
    """Wait until the sketch page has loaded and p5 has called the sketch's setup(). A page whose p5.js did
    not load fails here at once, instead of waiting out the phase bound for a p5 that never comes."""
    frame.wait_for_function("document.readyState === 'complete'", timeout=PHASE_TIMEOUT_MS)
    assert frame.evaluate("typeof p5") != "undefined", "the sketch page did not load p5.js"
    frame.wait_for_function("window.appCookies !== undefined", timeout=PHASE_TIMEOUT_MS)  # set in setup()


def test_a_sketch_draws_with_the_local_p5_but_reaches_no_cookie_no_app_and_no_network(browser: Browser,
                                                                                      sketch_server):
    sketch_url, code = sketch_server
    page = browser.new_page()
    page.context.add_cookies([{"name": "app_secret", "value": "s3cret", "url": sketch_url}])
    join(page, sketch_url, code)
    run_id = make_sketch(page, sketch_url)
    page.goto(f"{sketch_url}/runs/{run_id}")
    expect(page.get_by_test_id("sketch-frame")).to_be_visible(timeout=UI_TIMEOUT_MS)
    frame_element = page.get_by_test_id("sketch-frame")
    assert frame_element.get_attribute("sandbox") == "allow-scripts"
    assert frame_element.get_attribute("srcdoc") is None
    frame = frame_element.element_handle().content_frame()
    assert frame is not None
    frame.wait_for_url("**/frame", timeout=PHASE_TIMEOUT_MS)  # the frame is about:blank until it has navigated
    sketch_ran(frame)
    frame.wait_for_function("window.netResult !== undefined", timeout=PHASE_TIMEOUT_MS)
    assert frame.evaluate("get(60, 60)") == [0, 128, 255, 255]  # the local p5 file ran the sketch
    assert frame.evaluate("window.netResult") == "blocked"  # connect-src falls back to default-src 'none'
    assert frame.evaluate("window.ownCookies") == "denied"  # an opaque origin has no cookies
    assert frame.evaluate("window.appCookies") == "denied"  # and cannot reach into the app
    assert frame.evaluate("origin") == "null"
    page.close()


def test_the_sketch_page_has_its_own_strict_policy_and_stays_sandboxed_on_its_own(browser: Browser,
                                                                                  sketch_server):
    sketch_url, code = sketch_server
    page = browser.new_page()
    join(page, sketch_url, code)
    run_id = make_sketch(page, sketch_url)
    response = page.goto(f"{sketch_url}/api/media/code/{run_id}/0/frame")
    assert response is not None and response.status == 200
    policy = dict((d.strip().split(" ", 1) + [""])[:2] for d in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"].startswith("'nonce-") and " " not in policy["script-src"]
    assert policy["sandbox"] == "allow-scripts"  # opened on its own, it is still an opaque origin
    assert policy["frame-ancestors"] == "'self'"
    sketch_ran(page.main_frame)
    assert page.evaluate("origin") == "null"
    assert page.evaluate("window.ownCookies") == "denied"
    if code is not None:  # another student of the same session: the media rule, a 404
        other = browser.new_page()
        join(other, sketch_url, code)
        assert other.request.get(f"{sketch_url}/api/media/code/{run_id}/0/frame").status == 404
        other.close()
    page.close()
