"""A generated sketch runs in real Chromium under its Content-Security-Policy: p5 draws, the network is shut.

The code model is the Ollama protocol fake. Its sketch reaches `fetch` through a key the server's
constant folding cannot compute (`Object.keys({fetch: 1})[0]`), so it passes the code check — the
case the iframe's policy is the second wall for (`no-cors`: without the policy the request would
succeed even from the sandbox's opaque origin). The sketch is opened on the run's journey page.
"""
from __future__ import annotations

from typing import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import PHASE_TIMEOUT_MS, UI_TIMEOUT_MS
from tests.fakes.ollama_fake import OllamaFake

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
}
function draw() {}
```"""


@pytest.fixture
def sketch_url(make_app, serve, frontend_built) -> Iterator[str]:
    with OllamaFake(models=("coder:latest",)) as ollama:
        ollama.answer = SKETCH
        app = make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP={"CODE_MODEL": "ollama/coder:latest"},
                       RETRY_ATTEMPTS=1)
        yield serve(app)


def test_a_sketch_draws_with_the_local_p5_but_cannot_reach_the_network(browser: Browser, sketch_url: str):
    page = browser.new_page()
    run = page.request.post(f"{sketch_url}/api/schema/pipeline/generation?wait=60", data={
        "output_configs": ["p5js_code"], "prompt": "a calm blue sky"}).json()
    assert run["status"] == "succeeded", run
    page.goto(f"{sketch_url}/runs/{run['run_id']}")
    expect(page.get_by_test_id("sketch-frame")).to_be_visible(timeout=UI_TIMEOUT_MS)
    frame = page.get_by_test_id("sketch-frame").element_handle().content_frame()
    assert frame is not None
    frame.wait_for_function("typeof p5 !== 'undefined' && window.netResult !== undefined", timeout=PHASE_TIMEOUT_MS)
    assert frame.evaluate("window.netResult") == "blocked"  # connect-src falls back to default-src 'none'
    assert frame.evaluate("get(60, 60)") == [0, 128, 255, 255]  # the local p5 file ran the sketch
    page.close()
