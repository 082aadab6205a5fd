"""`GET /api/runs/list` page 1 latency with 1k, 10k and 100k runs in the index, in one run.

Target: page 1 at 100k runs takes at most 1.5× its time at 1k (a page must not cost what the whole
index costs; issue 11 asks for 2×). Through the Flask test client, so routing, the index query and JSON
encoding count; as a researcher, because the list is staff-only.
Run: `.venv/bin/python tests/bench/bench_listing.py [--quick]` (quick: 1k/10k/30k).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.bench.bench_recorder import synthetic_runs  # noqa: E402
from tests.bench.figures import Figure, best_ms, cli  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000, 30_000)
PASSWORD = "bench-password-1234"


def page_ms(sizes: tuple[int, ...], rounds: int = 51) -> dict[int, float]:
    """Give each size an app of its own, then time page 1 of every app in turn, `rounds` times.

    Interleaved, so a burst of load from other processes slows every size alike and the ratio holds;
    each figure is the fastest call (other processes only ever add time)."""
    runs = synthetic_runs(sizes[-1])
    with tempfile.TemporaryDirectory() as tmp:
        apps = [create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp) / str(size)}) for size in sizes]
        try:
            clients = []
            for size, app in zip(sizes, apps):
                app.extensions["devserver.recorder"].index.upsert_many(runs[:size])
                app.extensions["devserver.access"].accounts.add("bench", "researcher", PASSWORD)  # staff-only list
                client = app.test_client()
                assert client.post("/api/auth/login", json={"name": "bench", "password": PASSWORD}).status_code == 200
                assert client.get("/api/runs/list?limit=50").get_json()["total"] == size
                clients.append(client)
            times: dict[int, list[float]] = {size: [] for size in sizes}
            for _ in range(rounds):
                for size, client in zip(sizes, clients):
                    times[size].append(best_ms(lambda: client.get("/api/runs/list?limit=50"), 1))
            return {size: min(values) for size, values in times.items()}
        finally:
            for app in apps:
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
