"""Logins, tokens, first-start set-up, CSRF, Origin and Host checks, as a browser or a script meets them."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from devserver.access import cookies
from tests.conftest import TEST_PASSWORD, add_user

NETWORK = {"HOST": "192.0.2.10"}  # bound to a network address: no default person, students must join


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def net_app(make_app):
    return make_app(**NETWORK)


def test_wrong_name_and_wrong_password_get_the_same_401(net_app):
    add_user(net_app, "teacher", "tina")
    client = net_app.test_client()
    wrong_password = client.post("/api/auth/login", json={"name": "tina", "password": "not the password"})
    wrong_name = client.post("/api/auth/login", json={"name": "tim", "password": TEST_PASSWORD})
    assert wrong_password.status_code == wrong_name.status_code == 401
    assert wrong_password.get_json() == wrong_name.get_json()
    assert client.get_cookie("devserver_login") is None


def test_login_sets_a_httponly_lax_cookie_and_me_tells_the_role(net_app, login):
    client = net_app.test_client()
    login(client, "teacher", "tina")
    cookie = client.get_cookie("devserver_login")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    me = client.get("/api/auth/me").get_json()
    assert me["role"] == "teacher" and me["user"]["name"] == "tina"
    assert me["csrf_token"] == client.get_cookie("csrf_token").value


def test_cookies_are_secure_behind_an_https_proxy(make_app, login):
    app = make_app(PROXY_HOPS=1, **NETWORK)
    add_user(app, "teacher", "tina")
    client = app.test_client()
    r = client.post("/api/auth/login", json={"name": "tina", "password": TEST_PASSWORD},
                    headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"})
    assert r.status_code == 200
    assert all("Secure" in header for header in r.headers.getlist("Set-Cookie"))


def test_logout_ends_the_login_on_the_server(net_app, login):
    client = net_app.test_client()
    login(client, "researcher")
    stolen = client.get_cookie("devserver_login").value
    assert client.post("/api/auth/logout").status_code == 200
    thief = net_app.test_client()
    thief.set_cookie("devserver_login", stolen)
    assert thief.get("/api/runs/list").status_code == 401


def test_a_forged_or_expired_cookie_is_401_on_a_protected_route_and_dropped_on_a_public_one(net_app, login):
    forged = net_app.test_client()
    forged.set_cookie("devserver_student", "eyJ3IjoiZGVmYXVsdCJ9.forged.signature")
    r = forged.get("/api/runs/mine")
    assert r.status_code == 401 and error_code(r) == "session_expired"
    r = forged.get("/api/configs/interception")
    assert r.status_code == 200 and forged.get_cookie("devserver_student") is None

    client = net_app.test_client()
    login(client, "teacher")
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds")
    net_app.extensions["devserver.access_db"].execute("UPDATE logins SET expires_at = ?", (past,))
    r = client.get("/api/sessions")
    assert r.status_code == 401 and error_code(r) == "session_expired"


def test_a_student_pass_expires_after_its_days_even_once_it_was_accepted(net_app, login, join, monkeypatch):
    teacher = net_app.test_client()
    login(teacher, "teacher")
    code = teacher.post("/api/sessions", json={"title": "Week", "safety_level": "kids"}).get_json()["code"]
    student = net_app.test_client()
    join(student, code)
    assert student.get("/api/runs/mine").status_code == 200  # the pass is checked (and remembered) now
    later = time.time() + cookies.STUDENT_DAYS * 86400 + 60
    monkeypatch.setattr(cookies, "time", SimpleNamespace(time=lambda: later))  # the clock moves on
    r = student.get("/api/runs/mine")
    assert r.status_code == 401 and error_code(r) == "session_expired"


def test_login_attempts_are_rate_limited_per_address(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", **NETWORK)
    client = app.test_client()
    answers = [client.post("/api/auth/login", json={"name": "x", "password": "guess"}).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    r = client.post("/api/auth/login", json={"name": "x", "password": "guess"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert error_code(r) == "too_many_requests"


def test_joins_have_their_own_limit_per_address_and_do_not_use_up_the_login_limit(make_app, login):
    app = make_app(JOIN_RATE_LIMIT="3 per minute", LOGIN_RATE_LIMIT="2 per minute", **NETWORK)
    teacher = app.test_client()
    login(teacher, "teacher")  # the first of the address's two logins
    code = teacher.post("/api/sessions", json={"title": "5a", "safety_level": "kids"}).get_json()["code"]
    answers = [app.test_client().post("/api/sessions/join", json={"code": code}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]  # each a new browser, all behind one address
    wrong = app.test_client().post("/api/auth/login", json={"name": "x", "password": "guess"})
    assert wrong.status_code == 401  # the joins did not count against the login limit


def test_a_write_without_the_csrf_token_is_403(net_app, login):
    client = net_app.test_client(csrf=False)
    login(client, "teacher")
    body = {"title": "5a", "safety_level": "kids"}
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 403 and error_code(r) == "csrf_failed"
    r = client.post("/api/sessions", json=body, headers={"X-CSRF-Token": "0" * 40})
    assert r.status_code == 403 and error_code(r) == "csrf_failed"
    token = client.get_cookie("csrf_token").value
    assert client.post("/api/sessions", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_a_write_from_a_foreign_origin_is_403_even_without_cookies(make_app, login):
    local = make_app().test_client()  # the loopback default person has no cookie to protect
    r = local.post("/api/safety/check", json={"text": "ein Hund"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and error_code(r) == "foreign_origin"
    assert local.post("/api/safety/check", json={"text": "ein Hund"}, headers={"Origin": "null"}).status_code == 403
    assert local.post("/api/safety/check", json={"text": "ein Hund"},
                      headers={"Origin": "http://localhost"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:17801", "127.0.0.1.nip.io", "localhost.evil"])
def test_a_foreign_host_name_is_refused(make_app, host):
    client = make_app().test_client()
    r = client.get("/api/health", headers={"Host": host})
    assert r.status_code == 400 and error_code(r) == "host_not_allowed"


def test_allowed_hosts_adds_names_and_loopback_names_always_work(make_app):
    client = make_app(ALLOWED_HOSTS=("kunst.schule.example",), **NETWORK).test_client()
    for host in ("kunst.schule.example:17801", "localhost:17801", "127.0.0.1", "[::1]:17801", "192.0.2.10"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_looking_local_grants_nothing(net_app):
    client = net_app.test_client()
    for headers in ({"Host": "localhost"}, {"Host": "127.0.0.1", "X-Forwarded-For": "127.0.0.1"}):
        r = client.get("/api/runs/list", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert r.status_code == 401 and error_code(r) == "login_required"
        assert client.get("/api/auth/me", headers=headers).get_json()["role"] == "anonymous"
    r = client.post("/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": "ein Hund"})
    assert r.status_code == 401 and error_code(r) == "join_required"


def test_first_start_on_a_network_address_needs_the_console_token(net_app):
    client = net_app.test_client()
    assert client.get("/api/auth/me").get_json()["setup_required"] is True
    token = net_app.extensions["devserver.access"].setup_token
    body = {"token": "wrong", "name": "chef", "password": "a long admin password"}
    assert client.post("/api/auth/setup", json=body).status_code == 403
    r = client.post("/api/auth/setup", json={**body, "token": token})
    assert r.status_code == 201 and r.get_json()["user"]["role"] == "admin"
    assert client.get("/api/auth/users").status_code == 200  # logged in as the new admin
    again = net_app.test_client().post("/api/auth/setup", json={**body, "token": token, "name": "other"})
    assert again.status_code == 409 and error_code(again) == "setup_done"


def test_an_admin_made_on_the_command_line_voids_the_setup_link(net_app):
    token = net_app.extensions["devserver.access"].setup_token
    add_user(net_app, "admin", "chef")
    client = net_app.test_client()
    assert client.get("/api/auth/me").get_json()["setup_required"] is False
    r = client.post("/api/auth/setup", json={"token": token, "name": "intruder", "password": "a long password"})
    assert r.status_code == 409 and error_code(r) == "setup_done"


def test_a_loopback_server_prints_no_setup_link(make_app):
    app = make_app()
    assert app.extensions["devserver.access"].setup_token is None
    assert app.test_client().get("/api/auth/me").get_json()["setup_required"] is False


def test_admins_manage_accounts_and_researcher_tokens(net_app, login):
    admin = net_app.test_client()
    login(admin, "admin", "chef")
    short = admin.post("/api/auth/users", json={"name": "rita", "role": "researcher", "password": "short"})
    assert short.status_code == 400 and error_code(short) == "password_too_short"
    assert admin.post("/api/auth/users", json={"name": "rita", "role": "researcher",
                                               "password": "a long password"}).status_code == 201
    assert admin.post("/api/auth/users", json={"name": "RITA", "role": "teacher",
                                               "password": "a long password"}).status_code == 409
    r = admin.post("/api/auth/tokens", json={"user": "rita", "label": "study 2026"})
    assert r.status_code == 201
    token, token_id = r.get_json()["token"], r.get_json()["id"]
    assert token not in admin.get("/api/auth/tokens").get_data(as_text=True)  # stored and listed hashed

    script = net_app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/runs/list", headers=bearer).status_code == 200
    assert script.get("/api/auth/me", headers=bearer).get_json()["role"] == "researcher"
    assert script.post("/api/configs/reload", headers=bearer).status_code == 403  # only teachers reload
    assert admin.delete(f"/api/auth/tokens/{token_id}").status_code == 200
    r = script.get("/api/runs/list", headers=bearer)
    assert r.status_code == 401 and error_code(r) == "invalid_token"
    assert admin.delete("/api/auth/users/chef").status_code == 409  # not your own account


@pytest.mark.parametrize("path", ["/favicon.ico", "/favicon.svg"])
def test_the_favicon_is_served_to_everyone(net_app, path):
    r = net_app.test_client().get(path)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and b"<svg" in r.data


def test_the_generated_secret_key_is_kept_private_and_reused(make_app, tmp_path):
    first = make_app(EXPORTS_DIR=tmp_path / "exports")
    key_file = tmp_path / "exports" / "data" / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the server's user only
    assert first.config["SECRET_KEY"] == key_file.read_text().strip() and len(first.config["SECRET_KEY"]) >= 40
    again = make_app(EXPORTS_DIR=tmp_path / "exports")
    assert again.config["SECRET_KEY"] == first.config["SECRET_KEY"]  # passes survive a restart
    assert make_app(SECRET_KEY="from-the-environment").config["SECRET_KEY"] == "from-the-environment"
