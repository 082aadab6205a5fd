"""Command line: `python -m devserver.recorder reindex [--exports DIR]` rebuilds the run index."""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from config import Config
from devserver.recorder.index import RunIndex


def reindex(exports: Path) -> int:
    """Rebuild `exports/index.sqlite` from `exports/pipeline_runs/` and print the counts."""
    runs_dir = exports / "pipeline_runs"
    if not runs_dir.is_dir():
        print(f"no run folders under {runs_dir}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    path = exports / "index.sqlite"
    try:
        index = RunIndex(path)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError:  # not a database any more: it is rebuilt from scratch anyway
        print(f"{path} was corrupt; replacing it", file=sys.stderr)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        index = RunIndex(path)
    try:
        counts = index.rebuild(runs_dir)
        by_status = index.stats()["by_status"]
    finally:
        index.close()
    print(f"indexed {counts['indexed']} runs, skipped {counts['skipped']} "
          f"({time.perf_counter() - started:.2f} s) from {runs_dir}")
    for status, count in by_status.items():
        print(f"  {status}: {count}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m devserver.recorder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("reindex", help="rebuild exports/index.sqlite from the run folders")
    cmd.add_argument("--exports", type=Path, default=None, help="exports folder (default: EXPORTS_DIR)")
    args = parser.parse_args(argv)
    return reindex(args.exports or Config.from_env().EXPORTS_DIR)


if __name__ == "__main__":
    sys.exit(main())
