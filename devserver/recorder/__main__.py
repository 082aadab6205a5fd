"""Command line for run records.

    python -m devserver.recorder reindex [--exports DIR]            rebuild the run index
    python -m devserver.recorder reproduce RUN_ID [--exports DIR] [--json]
                                    re-send every recorded call of a run and compare the answers
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

from config import MODEL_ROLES, Config
from devserver.recorder.index import RunIndex
from devserver.recorder.items import read_items
from devserver.recorder.record import ENTITY_RE
from devserver.recorder.reproduce import media_request, reproduce
from devserver.recorder.run_id import valid_run_id


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


def reproduce_run(config: Config, exports: Path, run_id: str, as_json: bool) -> int:
    """Re-send a run's recorded calls with this machine's backends; exit 0 only if every step is identical.

    Builds only the backends, the router and the catalog — not the app, whose start-up would mark a
    running server's live runs as interrupted."""
    from devserver.backends.base import MediaFile
    from devserver.backends.registry import build_registry, known_backend_ids
    from devserver.backends.router import Router
    from devserver.engine import image_source
    from devserver.schemas.catalog import Catalog

    events_path = exports / "pipeline_runs" / run_id / "events.jsonl"
    if not valid_run_id(run_id) or not events_path.is_file():
        print(f"no recorded run {run_id!r} under {exports}", file=sys.stderr)
        return 2
    registry = build_registry(config)
    router = Router(registry, config)
    for backend in registry:
        backend.attach(router)
    catalog = Catalog(config.SCHEMAS_DIR, MODEL_ROLES, known_backend_ids()).load()

    def load_image(picture_run: str, file: str) -> MediaFile:
        if not valid_run_id(picture_run) or not ENTITY_RE.fullmatch(file):
            raise ValueError(f"{picture_run}/{file} is not a file of a run record")
        data = (exports / "pipeline_runs" / picture_run / file).read_bytes()
        return MediaFile(data, image_source.MIMES.get(file.rpartition(".")[2], "application/octet-stream"), file)

    def generate(meta: dict) -> object:
        chunk = catalog.output_chunk(meta["output_config"])
        defaults = catalog.output(meta["output_config"]).parameters.model_dump()
        return router.generate(chunk.backend, media_request(meta, chunk, defaults, load_image))

    try:
        steps = reproduce(read_items(events_path), router.chat_model, generate)
    finally:
        registry.close()
    if as_json:
        print(json.dumps([s.to_dict() for s in steps], ensure_ascii=False, indent=2))
    else:
        for step in steps:
            print(f"{step.sequence:>4}  {step.item_type:<24} {step.model:<36} {step.outcome}  {step.detail}")
        counts = {o: sum(s.outcome == o for s in steps) for o in ("identical", "different", "failed")}
        print(f"{len(steps)} calls: " + ", ".join(f"{n} {o}" for o, n in counts.items()))
    return 0 if steps and all(s.outcome == "identical" for s in steps) else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m devserver.recorder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("reindex", help="rebuild exports/index.sqlite from the run folders")
    cmd.add_argument("--exports", type=Path, default=None, help="exports folder (default: EXPORTS_DIR)")
    cmd = commands.add_parser("reproduce", help="re-send a run's recorded calls and compare the answers")
    cmd.add_argument("run_id")
    cmd.add_argument("--exports", type=Path, default=None, help="exports folder (default: EXPORTS_DIR)")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    config = Config.from_env()
    if args.command == "reproduce":
        return reproduce_run(config, args.exports or config.EXPORTS_DIR, args.run_id, args.json)
    return reindex(args.exports or config.EXPORTS_DIR)


if __name__ == "__main__":
    sys.exit(main())
