"""Run every benchmark that reports figures and write one table into docs/PERFORMANCE.md.

    .venv/bin/python -m tests.bench [--quick] [--only listing,polling] [--no-write]

Each module in BENCHES has `figures(quick) -> list[Figure]`. The table (machine, date, each figure
with its target and ratio) replaces the part of docs/PERFORMANCE.md between the two bench markers.
A benchmark that cannot run here (no frontend build, no model) is listed with the reason, not skipped
silently. `--quick` uses smaller sizes so the whole run stays around a minute.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import time
from datetime import date
from pathlib import Path

from tests.bench.figures import Figure

BENCHES = ("workshop", "polling", "event_streams", "listing", "safety_filter", "frontend_size", "offline_flow")
DOC = Path(__file__).resolve().parents[2] / "docs" / "PERFORMANCE.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> str:
    """Describe the machine the figures come from."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {load:.1f}"


def table(rows: list[str], quick: bool) -> str:
    """Return the Markdown block for the figures."""
    head = [START, f"Produced by `python -m tests.bench{' --quick' if quick else ''}` on {date.today()} "
            f"({machine()}).", "", "| figure | measured | target | ratio | meets | notes |",
            "|---|---|---|---|---|---|"]
    return "\n".join([*head, *rows, END])


def run(names: list[str], quick: bool) -> list[str]:
    """Run the named benchmarks; return one table row per figure (or per failure)."""
    rows = []
    for name in names:
        started = time.perf_counter()
        try:
            found: list[Figure] = importlib.import_module(f"tests.bench.bench_{name}").figures(quick)
        except Exception as exc:  # one benchmark that cannot run here must not hide the others
            rows.append(f"| {name} | – | – | – | not run | {type(exc).__name__}: {exc} |")
            continue
        for figure in found:
            rows.append(figure.row())
            print(figure.row(), f"({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def main() -> None:
    """Run the benchmarks and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    block = table(run(args.only.split(","), args.quick), args.quick)
    print(block)
    if not args.no_write:
        text = DOC.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
        DOC.write_text(pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n",
                       encoding="utf-8")
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
