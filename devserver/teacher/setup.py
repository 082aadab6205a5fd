"""Wire the teacher tools into an app: one database file under EXPORTS_DIR, the stores, the editor."""
from __future__ import annotations

from typing import Any

from flask import Flask

from devserver.teacher.config_editor import ConfigEditor
from devserver.teacher.config_store import ConfigStore
from devserver.teacher.database import TeacherDatabase
from devserver.teacher.moderation import Moderation
from devserver.teacher.own_attitudes import OwnAttitudes

DB_NAME = "teacher.sqlite"


def install(app: Flask, cfg: Any, catalog: Any, safety: Any, recorder: Any, orchestrator: Any) -> None:
    """Create the teacher stores and publish the saved configs into the catalog."""
    db = TeacherDatabase(cfg.EXPORTS_DIR / DB_NAME)
    app.extensions.update({
        "devserver.teacher_db": db,
        "devserver.config_editor": ConfigEditor(ConfigStore(db), catalog, safety),
        "devserver.moderation": Moderation(db, recorder, orchestrator),
        "devserver.own_attitudes": OwnAttitudes(db, safety),
    })
