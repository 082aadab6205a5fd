"""The web app works under its Content-Security-Policy, and so does the sandboxed p5.js sketch frame."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

# Built like MediaPanelSketch.vue builds it: p5.js from this server, the generated code inline.
SKETCH_FRAME = """() => new Promise((resolve) => {
  window.addEventListener('message', (event) => resolve(event.data));
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.srcdoc = '<!doctype html><html><head><script src="' + location.origin + '/vendor/p5.min.js"><\\/script>'
    + '</head><body><script>new p5((s) => { s.setup = () => { s.createCanvas(20, 20); '
    + 'parent.postMessage(typeof p5 + ":" + document.querySelectorAll("canvas").length, "*") } })<\\/script>'
    + '</body></html>';
  document.body.appendChild(frame);
  setTimeout(() => resolve('timeout'), 10000);
})"""


def test_app_and_sketch_frame_run_under_the_csp(page: Page):
    page.add_init_script("window.__cspViolations = [];"
                        "document.addEventListener('securitypolicyviolation', e => "
                        "window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    response = page.goto("/")
    assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator("#app > *").first).to_be_visible()
    expect(page.get_by_role("button").first).to_be_visible()
    assert page.evaluate(SKETCH_FRAME) == "function:1"
    assert page.evaluate("window.__cspViolations") == []
