"""Shared fixtures: apps built by the real factory on temporary folders, and a live HTTP server."""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from devserver.app import create_app, shutdown


@pytest.fixture
def make_app(tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build apps with `create_app({"TESTING": True, "EXPORTS_DIR": tmp, ...})`; shut them down after."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        # one llama.cpp thread: on a busy 2-core machine more threads spin against each other
        settings = {"TESTING": True, "LOCAL_THREADS": 1, "EXPORTS_DIR": tmp_path / f"exports{len(apps)}", **overrides}
        apps.append(create_app(settings))
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
