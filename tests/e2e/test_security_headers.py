"""The web app works under its Content-Security-Policy, which allows no inline script."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

# What the old sketch frame did (an inline-script document in a srcdoc iframe, which inherits the
# app's policy): under the app's policy its script must not run any more.
INLINE_FRAME = """() => new Promise((resolve) => {
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.srcdoc = '<body><script>document.body.dataset.ran = "yes"<\\/script></body>';
  frame.addEventListener('load', () => resolve('loaded'));
  document.body.appendChild(frame);
})"""


def directives(policy: str) -> dict[str, list[str]]:
    """Split a Content-Security-Policy header into its directives."""
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def test_app_runs_under_a_csp_without_inline_scripts(page: Page):
    page.add_init_script("window.__cspViolations = [];"
                        "document.addEventListener('securitypolicyviolation', e => "
                        "window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    response = page.goto("/")
    assert response is not None
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    expect(page.locator("#app > *").first).to_be_visible()
    expect(page.get_by_role("button").first).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []  # the app itself needs no inline script
    assert page.evaluate(INLINE_FRAME) == "loaded"
    frame = page.main_frame.child_frames[-1]
    assert frame.evaluate("document.body.dataset.ran") is None  # the inline script was refused, not run
