"""The production server (`python -m devserver.server`) as a child process on a free loopback port.

Used by the kill test, the load script and the event-stream benchmark: they need the real entry
point (uvicorn + gateway, real signals, a real restart), not the in-process test server.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

import httpx

ROOT = Path(__file__).resolve().parents[1]
LLM_ROLES = ("STAGE1_MODEL", "TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL", "STAGE2_OPTIMIZATION_MODEL",
             "STAGE3_MODEL", "SAFETY_VERIFY_MODEL", "CODE_MODEL")


def free_port() -> int:
    """Return a loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server process; `start()` returns once /api/health answers."""

    def __init__(self, exports: Path, env: Mapping[str, str] | None = None, ready_seconds: float = 120.0):
        self.exports, self.extra, self.ready_seconds = exports, dict(env or {}), ready_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = exports.parent / f"server-{self.port}.log"  # a file: a full pipe would block the server

    def environment(self) -> dict[str, str]:
        """The environment the server process runs with (the console tools need the same)."""
        return {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "EXPORTS_DIR": str(self.exports),
                "PYTHONUNBUFFERED": "1", **self.extra}

    def start(self) -> "ServerProcess":
        """Start the process and wait until it serves (raise with its output if it dies)."""
        env = self.environment()
        exports_log = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "devserver.server"], cwd=ROOT, env=env,
                                     stdout=exports_log, stderr=subprocess.STDOUT)
        exports_log.close()
        deadline = time.monotonic() + self.ready_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/configs/interception", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling for the port to open; the deadline only stops a hung start
        self.kill()
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL the process (no cleanup of any kind runs) and reap it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop the process the polite way (SIGINT), killing it if it does not go."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
