"""Print the gzipped size of the student page's JavaScript and its ratio to the 250 kB budget.

The student page's JS is what `dist/index.html` loads up front: its module entry script plus every
`modulepreload` link. Chunks loaded on demand (the run pages) and the p5.js library that only the
sandboxed sketch iframe loads are listed separately and do not count against the budget.

Usage: .venv/bin/python tests/bench/bench_frontend_size.py [path/to/dist]
(build first: `cd public/ai4artsed-frontend && npm run build`)
"""
from __future__ import annotations

import gzip
import sys
from html.parser import HTMLParser
from pathlib import Path

BUDGET_BYTES = 250 * 1000
CSS_BUDGET_BYTES = 50 * 1000  # all stylesheets together; plain CSS without a framework stays far below
DEFAULT_DIST = Path(__file__).resolve().parents[2] / "public" / "ai4artsed-frontend" / "dist"
UNSAFE_MARKERS = ("new Function(", "eval(")


class _EntryScripts(HTMLParser):
    """Collect the JS files index.html loads before the page is interactive."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("type") == "module" and a.get("src"):
            self.paths.append(a["src"] or "")
        if tag == "link" and a.get("rel") == "modulepreload" and a.get("href"):
            self.paths.append(a["href"] or "")


def gzipped_size(path: Path) -> int:
    """Return the size of the file after gzip at the highest level."""
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def entry_files(dist: Path) -> list[Path]:
    """Return the JS files the student page loads up front."""
    parser = _EntryScripts()
    parser.feed((dist / "index.html").read_text(encoding="utf-8"))
    return [dist / p.lstrip("/") for p in dict.fromkeys(parser.paths)]


def figures(quick: bool = False) -> list:
    """Return the gzipped student-page JS and all CSS as figures against their budgets."""
    from tests.bench.figures import Figure

    if not (DEFAULT_DIST / "index.html").is_file():
        raise FileNotFoundError(f"no build at {DEFAULT_DIST}: run scripts/build_frontend.sh first")
    js = sum(gzipped_size(p) for p in entry_files(DEFAULT_DIST)) / 1000
    css = sum(gzipped_size(p) for p in (DEFAULT_DIST / "assets").glob("*.css")) / 1000
    return [Figure("student page JS, gzipped", js, "kB", BUDGET_BYTES / 1000, False, "loaded up front"),
            Figure("all CSS, gzipped", css, "kB", CSS_BUDGET_BYTES / 1000, False, "every stylesheet of the app")]


def main(argv: list[str]) -> int:
    """Print sizes, the budget ratio and whether the bundle is free of eval."""
    dist = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIST
    if not (dist / "index.html").is_file():
        print(f"no build at {dist}: run `npm run build` in public/ai4artsed-frontend first", file=sys.stderr)
        return 1
    entry = entry_files(dist)
    total = 0
    print("student page JS (loaded up front):")
    for path in entry:
        size = gzipped_size(path)
        total += size
        print(f"  {path.relative_to(dist)}: {path.stat().st_size / 1000:.1f} kB raw, {size / 1000:.1f} kB gzipped")
    print(f"total gzipped: {total / 1000:.1f} kB of {BUDGET_BYTES / 1000:.0f} kB budget "
          f"(ratio {total / BUDGET_BYTES:.2f}, {'within' if total <= BUDGET_BYTES else 'OVER'} budget)")

    lazy = sorted(p for p in (dist / "assets").glob("*.js") if p not in entry)
    if lazy:
        print("loaded on demand (not in the budget):")
        for path in lazy:
            print(f"  {path.relative_to(dist)}: {gzipped_size(path) / 1000:.1f} kB gzipped")
    p5 = dist / "vendor" / "p5.min.js"
    if p5.is_file():
        print(f"sketch iframe only: vendor/p5.min.js {gzipped_size(p5) / 1000:.1f} kB gzipped")

    unsafe = [str(p.relative_to(dist)) for p in (dist / "assets").glob("*.js")
              if any(m in p.read_text(encoding="utf-8") for m in UNSAFE_MARKERS)]
    print(f"eval/new Function in app JS: {', '.join(unsafe) if unsafe else 'none (CSP-safe)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
