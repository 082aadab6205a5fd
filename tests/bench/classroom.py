"""A class that joined a workshop session on a running server process, as the load benchmarks use it.

A teacher account is created with the console tool (`python -m devserver.users`), logs in and opens a
session; each student joins with the session's code in a client of their own (own cookies, CSRF
header echoed as the web app does). Students of a real class are separate principals: each poll
resolves its student pass and session, which is what the load figures must include.
"""
from __future__ import annotations

import subprocess
import sys

import httpx

from devserver.access.cookies import CSRF_COOKIE, CSRF_HEADER
from tests.server_process import ROOT, ServerProcess

TEACHER, PASSWORD = "bench-teacher", "bench-password-1234"


def add_teacher(server: ServerProcess) -> None:
    """Create the teacher account in the server's data folder (the console tool works while it runs)."""
    subprocess.run([sys.executable, "-m", "devserver.users", "add", TEACHER, "--role", "teacher",
                    "--password-stdin"], cwd=ROOT, env=server.environment(), input=f"{PASSWORD}\n",
                   text=True, check=True, capture_output=True)


def _echo_csrf(client: httpx.AsyncClient) -> None:
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]


async def open_session(base: str, **settings) -> str:
    """Log the teacher in, open a workshop session with `settings`; return its join code."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as teacher:
        r = await teacher.post("/api/auth/login", json={"name": TEACHER, "password": PASSWORD})
        r.raise_for_status()
        _echo_csrf(teacher)
        r = await teacher.post("/api/sessions", json={"title": "Load", "safety_level": "youth", **settings})
        r.raise_for_status()
        return r.json()["code"]


async def join_class(base: str, code: str, students: int) -> list[httpx.AsyncClient]:
    """Return `students` clients, each joined to the session `code` (close them with `aclose`)."""
    clients = []
    for _ in range(students):
        client = httpx.AsyncClient(base_url=base, timeout=60)
        (await client.post("/api/sessions/join", json={"code": code})).raise_for_status()
        _echo_csrf(client)
        clients.append(client)
    return clients
