"""Flask serves the built web app at `/`: assets as files, app routes fall back to index.html, /api never does."""
from __future__ import annotations

import pytest


@pytest.fixture
def dist(tmp_path):
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><div id=app></div>")
    (folder / "assets" / "main.js").write_text("console.log('app')")
    return folder


def test_root_and_history_routes_serve_the_app_shell(make_app, dist):
    client = make_app(FRONTEND_DIST=dist).test_client()
    for path in ("/", "/runs", "/runs/3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c"):
        r = client.get(path)
        assert r.status_code == 200 and b'<div id=app>' in r.data, path


def test_assets_are_files_and_missing_assets_are_404(make_app, dist):
    client = make_app(FRONTEND_DIST=dist).test_client()
    r = client.get("/assets/main.js")
    assert r.status_code == 200 and b"console.log" in r.data
    assert "max-age=31536000" in r.headers["Cache-Control"]
    assert client.get("/assets/missing.js").status_code == 404


def test_api_paths_never_fall_back_to_the_app(make_app, dist):
    client = make_app(FRONTEND_DIST=dist).test_client()
    r = client.get("/api/unknown/thing")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_unbuilt_app_says_how_to_build_it(make_app, tmp_path):
    client = make_app(FRONTEND_DIST=tmp_path / "nothing").test_client()
    r = client.get("/")
    assert r.status_code == 404 and b"start_devserver.sh" in r.data
