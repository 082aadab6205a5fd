"""Crash-safe file primitives for run folders.

* `write_atomic`: temp file in the same folder → write → fsync → `os.replace` → fsync the folder. A
  reader (or a crash at any instant) sees either the old file or the new one, never a mix.
* `append_line`: one `os.write` of the full line on an `O_APPEND` descriptor, so a crash can tear at
  most the last line (which readers skip) and concurrent appenders never interleave inside a line.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` so that it is always either the old or the new content."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(path.parent)


def append_line(path: Path, line: bytes, *, fsync: bool = False) -> None:
    """Append one complete line with a single write (the folder must exist)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):  # only on a full disk; what did land is a torn line readers skip
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's content to disk; a missing file is nothing to flush."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_torn_tail(path: Path) -> bool:
    """Cut a torn last line (no trailing newline) so the next append starts on a fresh line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    if not data or data.endswith(b"\n"):
        return False
    os.truncate(path, data.rfind(b"\n") + 1)
    return True


def remove_temp_files(folder: Path) -> int:
    """Delete temp files a crash left behind in `folder`; return how many."""
    count = 0
    for entry in folder.glob(f".*{TEMP_SUFFIX}"):
        entry.unlink(missing_ok=True)
        count += 1
    return count


def dump_json(value: Any) -> bytes:
    """Encode a metadata snapshot as readable UTF-8 JSON (odd values become strings)."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def read_json(path: Path) -> Any:
    """Read a JSON file (raises FileNotFoundError or ValueError)."""
    return json.loads(path.read_bytes())
