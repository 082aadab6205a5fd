"""Who may call which route: one table keyed by Flask endpoint name, enforced by one before_request hook.

An endpoint that is not in `POLICY` is refused with 403 for everyone (fail closed): a new route is
unreachable until someone decides here who may call it. `tests/unit/test_access_policy.py` tries
every route of the URL map as every role. The table is rendered as the roles × actions table in
docs/SECURITY.md.

Rules raise the error the caller should see:

* 401 — the caller has no credentials at all (anonymous, or the loopback default person asking for
  a staff route): log in, join, or send a token;
* 403 — credentials of the wrong role, a closed session, or a route missing from the table;
* 404 — a run (or session) that exists but is not the caller's, exactly as if it did not exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from flask import request

from devserver.access.principal import Principal
from devserver.errors import Forbidden, NotFound, Unauthorized
from devserver.recorder.run_id import require_run_id, valid_run_id

if TYPE_CHECKING:
    from devserver.access.control import AccessControl

Check = Callable[[Principal, "AccessControl", dict[str, Any]], None]
RUNNERS = ("student", "teacher", "researcher", "admin")  # everyone with an identity may start runs
TEACHERS = ("teacher", "admin")
STAFF = ("teacher", "researcher", "admin")
UPLOADERS = ("student", "teacher", "admin")  # researchers study runs; they do not add pictures to them


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint: a check, and a line for docs/SECURITY.md."""

    check: Check
    who: str
    lenient: bool = False  # a forged or expired cookie is ignored here instead of answered with 401


def need(principal: Principal, roles: tuple[str, ...]) -> None:
    """Raise 401 for a caller without credentials and 403 for the wrong role."""
    if principal.role in roles:
        return
    if principal.role == "anonymous" or (principal.via == "loopback" and "student" not in roles):
        if "student" in roles:
            raise Unauthorized("Join a workshop with its code first.", code="join_required")
        raise Unauthorized("Log in first (or send an API token).", code="login_required")
    raise Forbidden("Your role may not do this.", details={"role": principal.role})


def no_such_run(run_id: str) -> NotFound:
    """Return the answer for someone else's run: word for word the recorder's answer for an unknown one."""
    return NotFound(f"No run with id {run_id} was recorded on this server.", code="run_not_found",
                    details={"run_id": run_id})


def _public(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    return None


def _roles(*roles: str) -> Check:
    return lambda p, a, args: need(p, roles)


def _run(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, ("student", *STAFF))
    run_id = require_run_id(args["run_id"])  # a hostile id is a 400 before anything else
    if not a.can_access_run(p, run_id):
        raise no_such_run(run_id)


def _run_staff(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, STAFF)
    _run(p, a, args)


def _start(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, RUNNERS)
    a.require_open_session(p)
    body = request.get_json(silent=True)
    run_id = body.get("run_id") if isinstance(body, dict) else None
    if isinstance(run_id, str) and valid_run_id(run_id) and a.run_owner(run_id) and not a.can_access_run(p, run_id):
        raise no_such_run(run_id)
    image = body.get("input_image") if isinstance(body, dict) else None
    source = image.split("/", 1)[0] if isinstance(image, str) and "/" in image else None
    if source is not None and valid_run_id(source) and not a.can_access_run(p, source):
        raise no_such_run(source)  # a picture of another run: only of one the caller may see


def _upload(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, UPLOADERS)  # whose run it is, the handler checks once the body is in (it alone knows its size limit)
    a.require_open_session(p)


def _in_session(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, ("student",))


def _session(write: bool) -> Check:
    def check(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
        need(p, TEACHERS if write else STAFF)
        a.require_session_access(p, args["session_id"])
    return check


def _run_owner(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, RUNNERS)
    a.require_open_session(p)
    _run(p, a, args)
    owner = a.run_owner(args["run_id"])
    if p.role != "student" and (owner is None or owner.student != p.owner_id):  # staff see it, only its owner steers
        raise no_such_run(args["run_id"])


def _run_teacher(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    need(p, TEACHERS)
    _run(p, a, args)


PUBLIC = Rule(_public, "everyone", lenient=True)
RUNNER = Rule(_roles(*RUNNERS), "students, staff")
STAFF_ONLY = Rule(_roles(*STAFF), "teachers (their sessions only), researchers, admins")
TEACHER = Rule(_roles(*TEACHERS), "teachers, admins")
ADMIN = Rule(_roles("admin"), "admins")
RUN = Rule(_run, "the run's student, its session's teachers, researchers, admins; others 404")
RUN_STAFF = Rule(_run_staff, "the run's session's teachers, researchers, admins")
START = Rule(_start, "students of an open session, staff; continuing a run, or starting from a picture of "
                     "another run: only those who may see that run")
UPLOAD = Rule(_upload, "students of an open session, teachers, admins; into an existing run: only its student, "
                       "its session's teachers, admins (others 404)")
STUDENT = Rule(_in_session, "students (joined, or the loopback default person)")
SESSION_READ = Rule(_session(write=False), "the session's teachers, researchers, admins")
SESSION_WRITE = Rule(_session(write=True), "the session's teachers, admins")
RUN_TEACHER = Rule(_run_teacher, "the run's session's teachers, admins")
EXPORT_JOB = Rule(_roles(*STAFF), "the staff member who started the export; others 404")
RUN_OWNER = Rule(_run_owner, "the run's owner (the student, or the staff member who started it) in an open session; "
                             "others 404")

POLICY: dict[str, Rule] = {
    # the web app and system
    "frontend.app_shell": PUBLIC,
    "favicon.favicon": PUBLIC,
    "health.health": PUBLIC,
    "openapi.openapi": PUBLIC,
    # configs: reading is public (students pick from them), changing is for teachers
    "configs.list_interception": PUBLIC,
    "configs.list_outputs": PUBLIC,
    "configs.get_config": PUBLIC,
    "configs.reload_configs": TEACHER,
    # the student's flow
    "safety.check": RUNNER,
    "pipeline.start_phase": START,
    "uploads.upload": UPLOAD,
    "pipeline.status": RUN,
    "pipeline.events": RUN,
    "pipeline.entities": RUN,
    "pipeline.entity": RUN,
    "pipeline.journey": RUN,
    "pipeline.cancel": RUN,
    "pipeline.pipeline_unknown": PUBLIC,
    "media.info": RUN,
    "media.run_media": RUN,
    "media.media": RUN,
    "media.sketch_frame": RUN,
    "media.media_unknown": PUBLIC,
    "storyboard.edit_scenes": RUN_OWNER,
    "storyboard.sheet_pdf": RUN,
    "storyboard.sheet_zip": RUN,
    "own_runs.mine": Rule(_roles("student", *STAFF), "students (their own runs), staff (runs they started)"),
    # research
    "runs.list_runs": STAFF_ONLY,
    "runs.run_stats": STAFF_ONLY,
    "runs.export_runs": STAFF_ONLY,
    "runs.get_run": RUN,
    "runs.export_run": RUN_STAFF,
    "runs.record_schema": PUBLIC,
    "retention.delete_run": RUN_TEACHER,
    "retention.delete_session_runs": SESSION_WRITE,
    "runs.unknown_path": PUBLIC,
    "exports.start_export": STAFF_ONLY,
    "exports.export_status": EXPORT_JOB,
    "exports.download_export": EXPORT_JOB,
    # accounts
    "auth.login": PUBLIC,
    "auth.setup": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.me": Rule(_public, "everyone (a forged or expired cookie is a 401)"),
    "auth.list_users": ADMIN,
    "auth.create_user": ADMIN,
    "auth.delete_user": ADMIN,
    "auth.list_tokens": ADMIN,
    "auth.create_token": ADMIN,
    "auth.revoke_token": ADMIN,
    # workshop sessions
    "sessions.create_session": TEACHER,
    "sessions.list_sessions": STAFF_ONLY,
    "sessions.get_session": SESSION_READ,
    "sessions.session_qr": SESSION_READ,
    "sessions.update_session": SESSION_WRITE,
    "sessions.close_session": SESSION_WRITE,
    "sessions.join": PUBLIC,
    "sessions.leave": PUBLIC,
    "sessions.current": STUDENT,
    # config editor: shipped configs stay read-only for everyone (the handlers say 409)
    "config_editor.list_editable": TEACHER,
    "config_editor.config_source": TEACHER,
    "config_editor.validate_config": TEACHER,
    "config_editor.dry_run_config": TEACHER,
    "config_editor.create_config": TEACHER,
    "config_editor.update_config": TEACHER,
    "config_editor.delete_config": TEACHER,
    "config_editor.config_versions": TEACHER,
    "config_editor.config_version": TEACHER,
    "config_editor.restore_config": TEACHER,
    # moderation of a session, and students' own attitudes
    "moderation.session_runs": SESSION_READ,
    "moderation.session_audit": SESSION_READ,
    "moderation.session_attitudes": SESSION_READ,
    "moderation.publish_attitude": SESSION_WRITE,
    "moderation.release_run": RUN_TEACHER,
    "attitudes.list_mine": STUDENT,
    "attitudes.save_mine": STUDENT,
    "attitudes.delete_mine": STUDENT,
}



def _deny(p: Principal, a: "AccessControl", args: dict[str, Any]) -> None:
    raise Forbidden("This route has no access rule yet, so nobody may call it.", code="no_access_rule")


DENY = Rule(_deny, "nobody")


def rule_for(endpoint: str | None) -> Rule | None:
    """Return the rule of an endpoint (DENY for an endpoint missing from the table; None when no route matched)."""
    if endpoint is None:
        return None
    return POLICY.get(endpoint, DENY)
