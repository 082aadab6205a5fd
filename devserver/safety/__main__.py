"""Command line: `python -m devserver.safety evaluate FILE... [--level L|all] [--fast-only] [--json]`
and `python -m devserver.safety check TEXT [--level L]` (fast filter only, for list authors)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config import ROOT, Config
from devserver.safety.checkpoint import check_input
from devserver.safety.evaluate import Decide, evaluate, format_report, labelled_levels, load_items, report_json
from devserver.safety.levels import LEVELS
from devserver.safety.policy import load_policy
from devserver.safety.service import build_safety

FIXTURES = ROOT / "tests" / "fixtures" / "safety"


def _full_decide(config: Config) -> Decide | None:
    """Build the real verifier over the app's router, or explain why it is not available."""
    try:
        from devserver.backends.router import make_router_from_config
    except ImportError as exc:
        print(f"The model path needs devserver.backends.router.make_router_from_config ({exc}). "
              "Use --fast-only to measure the term filter alone.", file=sys.stderr)
        return None
    router = make_router_from_config()  # builds its own Config from the same environment
    # as the app wires it: a guard model (Llama Guard, ShieldGemma) is asked in its own format
    verifier = build_safety(config, router.chat, complete=router.complete).verifier
    return lambda text, level: check_input(text, level, verifier).decision


def _evaluate(args: argparse.Namespace) -> int:
    items = load_items(args.files)
    config = Config.from_env()
    if args.fast_only:
        filt = load_policy(config.SCHEMAS_DIR / "safety").filter
        decide: Decide | None = filt.assess
    else:
        decide = _full_decide(config)
        if decide is None:
            return 2
    report = evaluate(items, labelled_levels(items, args.level), decide)
    print(report_json(report) if args.json else format_report(report, args.fast_only))
    return 0


def _check(args: argparse.Namespace) -> int:
    found = load_policy(Config.from_env().SCHEMAS_DIR / "safety").filter.assess(args.text, args.level)
    print(json.dumps({"outcome": found.outcome, "category": found.category, "matched_terms": found.matched_terms,
                      "hits": found.describe()}, ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="python -m devserver.safety", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="precision/recall/false-positive rate on labelled JSONL files")
    ev.add_argument("files", nargs="*", type=Path, default=sorted(FIXTURES.glob("*.jsonl")),
                    help="labelled JSONL files (default: the project's set in tests/fixtures/safety/)")
    ev.add_argument("--level", choices=[*LEVELS, "all"], default="all")
    ev.add_argument("--fast-only", action="store_true", help="term filter only; no model")
    ev.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    ev.set_defaults(run=_evaluate)
    ck = sub.add_parser("check", help="show what the term filter finds in a text")
    ck.add_argument("text")
    ck.add_argument("--level", choices=LEVELS, default="kids")
    ck.set_defaults(run=_check)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
