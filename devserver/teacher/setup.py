"""Wire the teacher tools into an app: one database file in DATA_DIR, the stores, the editor, moderation."""
from __future__ import annotations

from typing import Any

from flask import Flask

from devserver.teacher.config_editor import ConfigEditor
from devserver.teacher.config_store import ConfigStore
from devserver.teacher.database import open_teacher_db
from devserver.teacher.moderation import Moderation
from devserver.teacher.own_attitudes import OwnAttitudes

DB_NAME = "teacher.sqlite"


def install(app: Flask, cfg: Any, catalog: Any, safety: Any, recorder: Any, orchestrator: Any) -> None:
    """Create the teacher stores and publish the saved configs into the catalog."""
    db = open_teacher_db(cfg.data_dir() / DB_NAME)
    app.extensions.update({
        "devserver.teacher_db": db,
        "devserver.config_editor": ConfigEditor(ConfigStore(db), catalog, safety,
                                                in_use=lambda ident: _open_sessions_with(app, ident)),
        "devserver.moderation": Moderation(db, recorder, orchestrator),
        "devserver.own_attitudes": OwnAttitudes(db, safety),
    })


def _open_sessions_with(app: Flask, config_id: str) -> list[str]:
    """Return the titles and ids of open sessions that allow this attitude by name (not "every attitude")."""
    workshops = app.extensions["devserver.access"].workshops
    return [f"{w.title} ({w.id})" for w in workshops.list()
            if not w.closed and config_id in (w.allowed_attitudes or [])]
