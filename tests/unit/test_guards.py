"""Hostile input never gets a 5xx, and every response carries the security headers."""
from __future__ import annotations

import pytest

from devserver.api.guards import MAX_JSON_DEPTH, json_depth

JSON_POSTS = ("/api/schema/pipeline/stage2", "/api/schema/pipeline/execute", "/api/schema/pipeline/optimize",
              "/api/schema/pipeline/generation", "/api/safety/check")


@pytest.mark.parametrize("path", JSON_POSTS)
@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
                                  "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)])
def test_deeply_nested_json_is_a_400(client, path, body):
    r = client.post(path, data=body, content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "json_too_deep"


def test_json_within_the_depth_limit_is_validated_as_usual(client):
    r = client.post("/api/safety/check", json={"text": "ein Vulkan", "extra": [[[[1]]]]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "validation_failed"


def test_json_depth_counts_containers_only():
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth({"a": [{"b": 1}]}) == 3


@pytest.mark.parametrize("path", ["/" + "a" * 20_000, "/api/" + "a" * 20_000, "/api/pipeline/" + "a" * 20_000])
def test_overlong_paths_are_a_414_and_not_logged_in_full(client, caplog, path):
    r = client.get(path)
    assert r.status_code == 414
    assert all(len(record.getMessage()) < 2000 for record in caplog.records)


def test_a_long_path_component_is_a_404(make_app, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    r = make_app(FRONTEND_DIST=dist).test_client().get("/" + "a" * 1000)
    assert r.status_code in (200, 404) and r.status_code < 500


def test_paths_outside_the_app_are_not_an_oracle(make_app, tmp_path):
    """A file next to dist/ and a missing one get the same answer: nothing outside dist/ is tested."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    (tmp_path / "hostname").write_text("secret-host")
    client = make_app(FRONTEND_DIST=dist).test_client()
    there, missing = client.get("/..%2Fhostname"), client.get("/..%2Fno-such-file")
    assert there.status_code == missing.status_code == 404
    assert b"secret-host" not in there.data


def test_security_headers_on_app_api_and_errors(client):
    for path in ("/api/health", "/api/nothing-here", "/"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "connect-src 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
