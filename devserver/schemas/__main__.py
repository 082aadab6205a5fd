"""`python -m devserver.schemas validate [DIR]`: check every schema file, list every problem."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import MODEL_ROLES, Config
from devserver.backends.registry import known_backend_ids
from devserver.schemas.catalog import SchemaProblems, read_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devserver.schemas")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="validate every file under schemas/")
    validate.add_argument("root", nargs="?", type=Path, help="schemas folder (default: SCHEMAS_DIR)")
    args = parser.parse_args(argv)
    root = args.root or Config.from_env().SCHEMAS_DIR
    try:
        snap = read_folder(root, MODEL_ROLES, known_backend_ids())
    except SchemaProblems as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"schemas OK: {len(snap.chunks)} chunks, {len(snap.pipelines)} pipelines, "
          f"{len(snap.interception)} interception configs, {len(snap.outputs)} output configs ({root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
