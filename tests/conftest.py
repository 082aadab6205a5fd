"""Shared fixtures: apps built by the real factory on temporary folders, and a live HTTP server."""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from devserver.access.accounts import User
from devserver.app import create_app, shutdown

SLOW_TEST_BOUND_S = 900  # a hang guard, not an expectation: a busy 2-core machine slows the model 5-10×


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give tests that run the embedded model or a browser a wider hang guard than pytest.ini's 300 s."""
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_BOUND_S))


UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TEST_PASSWORD = "a test password"


class CsrfClient(FlaskClient):
    """A test client that echoes its `csrf_token` cookie as `X-CSRF-Token` on writes, as the web app does.

    `app.test_client(csrf=False)` gives one that does not (to test that the server refuses it)."""

    def __init__(self, *args: Any, csrf: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.csrf = csrf

    def open(self, *args: Any, **kwargs: Any):
        method = str(kwargs.get("method") or "GET").upper()
        cookie = self.get_cookie("csrf_token") if self.csrf and method in UNSAFE_METHODS else None
        if cookie is not None:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRF-Token", cookie.value)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build apps with `create_app({"TESTING": True, "EXPORTS_DIR": tmp, ...})`; shut them down after."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        # one llama.cpp thread: on a busy 2-core machine more threads spin against each other
        settings = {"TESTING": True, "LOCAL_THREADS": 1, "EXPORTS_DIR": tmp_path / f"exports{len(apps)}", **overrides}
        apps.append(create_app(settings))
        apps[-1].test_client_class = CsrfClient
        return apps[-1]

    yield make
    for app in apps:
        shutdown(app)


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def add_user(app: Flask, role: str, name: str | None = None) -> User:
    """Create a staff account on the app (or return the existing one of that name)."""
    accounts = app.extensions["devserver.access"].accounts
    name = name or f"{role}1"
    if any(u.name == name for u in accounts.list()):
        return accounts.by_name(name)
    return accounts.add(name, role, TEST_PASSWORD)


@pytest.fixture
def login() -> Callable[..., User]:
    """Log a test client in as `role` (admin, teacher, researcher): `login(client, "teacher", name=None)`."""

    def log_in(client: FlaskClient, role: str, name: str | None = None) -> User:
        user = add_user(client.application, role, name)
        response = client.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD})
        assert response.status_code == 200, response.get_json()
        return user

    return log_in


def logged_in(app: Flask, login: Callable[..., User], role: str) -> FlaskClient:
    """Return a new client of `app` logged in as `role`."""
    client = app.test_client()
    login(client, role)
    return client


@pytest.fixture
def staff_client(app, login) -> FlaskClient:
    """A client of `app` logged in as a researcher (sees every run, changes nothing)."""
    return logged_in(app, login, "researcher")


@pytest.fixture
def teacher_client(app, login) -> FlaskClient:
    """A client of `app` logged in as a teacher."""
    return logged_in(app, login, "teacher")


@pytest.fixture
def admin_client(app, login) -> FlaskClient:
    """A client of `app` logged in as an admin."""
    return logged_in(app, login, "admin")


@pytest.fixture
def join() -> Callable[[FlaskClient, str], dict[str, Any]]:
    """Join a workshop session with its code from a test client; return the join answer."""

    def join_with(client: FlaskClient, code: str) -> dict[str, Any]:
        response = client.post("/api/sessions/join", json={"code": code})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return join_with


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """Serve an app over real HTTP on 127.0.0.1 (port 0) in a thread; return its base URL."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def serve_async() -> Iterator[Callable[[Flask], str]]:
    """Serve an app as production does (uvicorn + the async gateway) on 127.0.0.1; return its base URL."""
    import uvicorn

    from devserver.asgi import Gateway

    servers = []

    def start(app: Flask, threads: int = 8) -> str:
        server = uvicorn.Server(uvicorn.Config(Gateway(app, threads), host="127.0.0.1", port=0, lifespan="off",
                                               access_log=False, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:  # a state, not a sleep: uvicorn sets it once the socket listens
            threading.Event().wait(0.01)
        servers.append((server, thread))
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
