"""`GET /api/runs/list` page 1 latency with 1k, 10k and 100k runs in the index, in one run.

Target: page 1 at 100k runs takes at most 1.5× its time at 1k (a page must not cost what the whole
index costs). Through the Flask test client, logged in as a researcher (the list is staff-only), so
routing, the access check, the index query and JSON encoding count.
Run: `.venv/bin/python tests/bench/bench_listing.py [--quick]` (quick: 1k/10k/30k).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.conftest import TEST_PASSWORD, add_user  # noqa: E402
from tests.bench.bench_recorder import synthetic_runs  # noqa: E402
from tests.bench.figures import Figure, best_ms, cli  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000, 30_000)


def page_ms(sizes: tuple[int, ...]) -> dict[int, float]:
    """Fill one app's index step by step and time page 1 at each size."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp)})
        try:
            index, client = app.extensions["devserver.recorder"].index, app.test_client()
            user = add_user(app, "researcher")
            login = client.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD})
            assert login.status_code == 200, login.get_json()
            runs = synthetic_runs(sizes[-1])
            times, filled = {}, 0
            for size in sizes:
                index.upsert_many(runs[filled:size])
                filled = size
                assert client.get("/api/runs/list?limit=50").get_json()["total"] == size
                times[size] = best_ms(lambda: client.get("/api/runs/list?limit=50"), 51)
            return times
        finally:
            shutdown(app)


def figures(quick: bool = False) -> list[Figure]:
    """Return the listing figure (largest size against the smallest)."""
    sizes = QUICK_SIZES if quick else SIZES
    times = page_ms(sizes)
    note = ", ".join(f"{n // 1000}k: {ms:.2f} ms" for n, ms in times.items())
    return [Figure(f"runs list page 1, {sizes[-1] // 1000}k vs 1k runs", times[sizes[-1]] / times[sizes[0]], "×",
                   1.5, False, note)]



if __name__ == "__main__":
    cli(figures, __doc__)
