"""Run recording: crash-safe run folders, the SQLite run index, and research exports."""
from devserver.recorder.index import RunIndex
from devserver.recorder.recorder import LivePipelineRecorder
from devserver.recorder.record import RunRecord
from devserver.recorder.run_id import RUN_ID_RE, require_run_id, valid_run_id

__all__ = ["RUN_ID_RE", "LivePipelineRecorder", "RunIndex", "RunRecord", "require_run_id", "valid_run_id"]
