"""Accounts API: log in and out, who am I, first-start admin set-up, users and researcher tokens (admins)."""
from __future__ import annotations

import hmac
from typing import Literal

from flask import Blueprint, jsonify
from pydantic import BaseModel, ConfigDict, Field

from config import Config
from devserver.access import cookies
from devserver.access.accounts import User
from devserver.access.control import control, principal
from devserver.api import context
from devserver.api.openapi import documents_body
from devserver.errors import Conflict, Forbidden, Unauthorized

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


class LoginBody(BaseModel):
    """POST /api/auth/login body."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


class SetupBody(LoginBody):
    """POST /api/auth/setup body: the token from the console and the first admin's name and password."""

    token: str = Field(min_length=1, max_length=200)


class UserBody(LoginBody):
    """POST /api/auth/users body."""

    role: Literal["admin", "teacher", "researcher"]


class TokenBody(BaseModel):
    """POST /api/auth/tokens body: the account the token acts as, and a label to recognise it by."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=64)
    label: str = Field("", max_length=100)


def _cfg() -> Config:
    return context.config()


def _logged_in(user: User, status: int = 200):
    response = jsonify({"user": user.to_dict()})
    cookies.set_login(response, control().accounts.login(user, _cfg().LOGIN_HOURS), _cfg().LOGIN_HOURS)
    return response, status


@bp.post("/login")
@documents_body(LoginBody)
def login():
    """Log a teacher, researcher or admin in (cookie); a wrong name or password is the same 401."""
    body = LoginBody.model_validate(context.json_body())
    user = control().accounts.verify(body.name, body.password)
    if user is None:
        raise Unauthorized("Wrong user name or password.", code="login_failed")
    return _logged_in(user)


@bp.post("/logout")
def logout():
    """End the staff login of this browser (nothing happens without one)."""
    secret = cookies.session_cookies()["login"]
    if secret:
        control().accounts.logout(secret)
    response = jsonify({"logged_out": True})
    cookies.clear(response, "login")
    return response


@bp.get("/me")
def me():
    """Say who the caller is (role, account or workshop session) and hand out the CSRF token."""
    return jsonify({**principal().to_dict(), "csrf_token": cookies.current_csrf(),
                    "setup_required": control().setup_pending()})


@bp.post("/setup")
@documents_body(SetupBody)
def setup():
    """Create the first admin with the one-time token printed on the console at first start."""
    body = SetupBody.model_validate(context.json_body())
    access = control()
    token = access.setup_token if access.setup_pending() else None
    if token is None:
        raise Conflict("This server already has an admin; log in instead.", code="setup_done")
    if not hmac.compare_digest(body.token.encode(), token.encode()):
        raise Forbidden("The set-up token is not right: copy the whole link from the server's console.",
                        code="invalid_setup_token")
    user = access.accounts.add(body.name, "admin", body.password)
    access.setup_token = None
    return _logged_in(user, 201)


@bp.get("/users")
def list_users():
    """List every staff account (admins only)."""
    return jsonify({"users": [u.to_dict() for u in control().accounts.list()]})


@bp.post("/users")
@documents_body(UserBody)
def create_user():
    """Create a teacher, researcher or admin account (admins only)."""
    body = UserBody.model_validate(context.json_body())
    return jsonify({"user": control().accounts.add(body.name, body.role, body.password).to_dict()}), 201


@bp.delete("/users/<name>")
def delete_user(name: str):
    """Delete an account with its logins and tokens (admins only; not your own)."""
    me_user = principal().user
    if me_user is not None and me_user.name.lower() == name.lower():
        raise Conflict("You cannot delete your own account.", code="cannot_delete_self")
    control().accounts.remove(name)
    return jsonify({"deleted": name})


@bp.get("/tokens")
def list_tokens():
    """List the API tokens (never their secrets) with who they act as and when they were last used."""
    return jsonify({"tokens": control().accounts.tokens()})


@bp.post("/tokens")
@documents_body(TokenBody)
def create_token():
    """Create a bearer token acting as an account (e.g. a researcher); the token is shown only in this answer."""
    body = TokenBody.model_validate(context.json_body())
    token_id, secret = control().accounts.create_token(body.user, body.label)
    return jsonify({"id": token_id, "token": secret, "user": body.user, "label": body.label}), 201


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int):
    """Revoke a token at once."""
    control().accounts.revoke_token(token_id)
    return jsonify({"revoked": token_id})
