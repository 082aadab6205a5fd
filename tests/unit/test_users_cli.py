"""`python -m devserver.users`: accounts and tokens from the console, on the server's data folder."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devserver.access.accounts import Accounts
from devserver.access.db import AccessDB
from devserver.users import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def accounts(tmp_path):
    db = AccessDB(tmp_path / "access.sqlite")
    yield Accounts(db, cheap_hashing=True)
    db.close()


def feed(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))


def test_add_list_and_a_token_that_logs_in_as_the_account(accounts, monkeypatch):
    feed(monkeypatch, "a long enough password")
    assert run(["add", "rita", "--role", "researcher", "--password-stdin"], accounts) == "created researcher 'rita'"
    assert run(["list"], accounts) == "rita\tresearcher"
    assert accounts.verify("rita", "a long enough password") is not None
    token = run(["token", "rita", "--label", "study"], accounts).splitlines()[-1]
    assert accounts.by_token(token).name == "rita"
    assert "active" in run(["tokens"], accounts) and token not in run(["tokens"], accounts)
    run(["revoke", "1"], accounts)
    assert accounts.by_token(token) is None


def test_a_new_password_ends_the_accounts_logins(accounts, monkeypatch):
    feed(monkeypatch, "the first password")
    run(["add", "tina", "--role", "teacher", "--password-stdin"], accounts)
    login = accounts.login(accounts.by_name("tina"), hours=1)
    feed(monkeypatch, "the second password")
    run(["passwd", "tina", "--password-stdin"], accounts)
    assert accounts.by_login(login) is None
    assert accounts.verify("tina", "the first password") is None and accounts.verify("tina", "the second password")


def test_the_command_uses_the_configured_data_folder_and_reports_errors(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "devserver.users"]
    ok = subprocess.run([*command, "add", "chef", "--role", "admin", "--password-stdin"], input="an admin password\n",
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert ok.returncode == 0 and "created admin 'chef'" in ok.stdout
    assert (tmp_path / "data" / "access.sqlite").is_file()
    short = subprocess.run([*command, "add", "x", "--role", "teacher", "--password-stdin"], input="short\n",
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
