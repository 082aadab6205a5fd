"""The run index filters, pages, counts and rebuilds like a researcher expects."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from devserver.recorder import RunIndex


def meta(created: str, **fields) -> dict:
    media = fields.pop("media", [])
    outputs = [{"index": i, "output_config": f"{m}_model", "media_type": m} for i, m in enumerate(media)]
    return {"run_id": str(uuid.uuid4()), "created_at": created, "updated_at": created, "status": "succeeded",
            "schema": "dada", "safety_level": "youth", "session": None, "lang": "de", "input_text": "",
            "models": {"stage1": "local/smollm2-135m"}, "outputs": outputs, **fields}


@pytest.fixture
def index(tmp_path):
    idx = RunIndex(tmp_path / "index.sqlite")
    yield idx
    idx.close()


@pytest.fixture
def runs(index):
    rows = {
        "dog": meta("2024-05-01T08:00:00.000+00:00", input_text="Ein Hund im Park", media=["image"]),
        "blocked": meta("2024-05-01T23:59:59.999+00:00", status="blocked", safety_level="kids",
                        session="ABC123", input_text="Ärger im Schloss"),
        "music": meta("2024-05-02T00:00:00.000+00:00", schema="stille_post", media=["music", "image"],
                      input_text="100% laut", session="ABC123"),
        "running": meta("2024-05-03T12:00:00.000+00:00", status="running", input_text="Vulkan_Hund"),
    }
    index.upsert_many(rows.values())
    return {name: m["run_id"] for name, m in rows.items()}


def ids(page: dict) -> list[str]:
    return [r["run_id"] for r in page["runs"]]


def test_list_is_newest_first_with_total_and_pages(index, runs):
    page = index.list(limit=2)
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 0
    assert ids(page) == [runs["running"], runs["music"]]
    assert ids(index.list(limit=2, offset=2)) == [runs["blocked"], runs["dog"]]
    assert ids(index.list(limit=10, order="created_at"))[0] == runs["dog"]
    assert index.list(limit=10, offset=10)["runs"] == [] and index.list(offset=10)["total"] == 4


def test_row_carries_what_the_run_browser_shows(index, runs):
    row = index.get(runs["music"])
    assert row["media_types"] == ["image", "music"]
    assert row["output_configs"] == ["image_model", "music_model"]
    assert row["models"] == ["local/smollm2-135m"] and row["input_preview"] == "100% laut"


@pytest.mark.parametrize("filters, expected", [
    ({"status": "blocked"}, ["blocked"]),
    ({"schema": "stille_post"}, ["music"]),
    ({"safety_level": "kids"}, ["blocked"]),
    ({"session": "ABC123"}, ["music", "blocked"]),
    ({"media_type": "image"}, ["music", "dog"]),
    ({"media_type": "video"}, []),
    ({"since": "2024-05-02"}, ["running", "music"]),
    ({"until": "2024-05-01"}, ["blocked", "dog"]),  # a bare date covers the whole day
    ({"since": "2024-05-01T12:00:00Z", "until": "2024-05-02T00:00:00+00:00"}, ["music", "blocked"]),
    ({"since": "2024-05-02T01:00:00+02:00"}, ["running", "music", "blocked"]),  # 23:00 UTC on 05-01
    ({"q": "PARK"}, ["dog"]),
    ({"q": "ärger"}, ["blocked"]),  # case-insensitive beyond ASCII
    ({"q": "100%"}, ["music"]),
    ({"q": "%"}, ["music"]),  # a literal percent sign, not a wildcard
    ({"q": "n_h"}, ["running"]),  # a literal underscore: "Ein Hund" does not match
    ({"session": "ABC123", "media_type": "music"}, ["music"]),
])
def test_filters(index, runs, filters, expected):
    page = index.list(filters)
    assert ids(page) == [runs[name] for name in expected]
    assert page["total"] == len(expected)


def test_upsert_replaces_the_row_and_its_media(index, runs):
    row = meta("2024-05-01T08:00:00.000+00:00", media=["image"])
    row["run_id"] = runs["dog"]
    row.update(status="failed", outputs=[{"index": 0, "output_config": "clip", "media_type": "video"}])
    index.upsert(row)
    assert index.get(runs["dog"])["status"] == "failed"
    assert ids(index.list({"media_type": "image"})) == [runs["music"]]
    assert ids(index.list({"media_type": "video"})) == [runs["dog"]]
    assert index.list()["total"] == 4


def test_stats_count_by_status_schema_media_and_day(index, runs):
    stats = index.stats()
    assert stats["total"] == 4
    assert stats["by_status"] == {"blocked": 1, "running": 1, "succeeded": 2}
    assert stats["by_schema"] == {"dada": 3, "stille_post": 1}
    assert stats["by_media_type"] == {"image": 2, "music": 1}
    assert stats["by_day"] == {"2024-05-01": 2, "2024-05-02": 1, "2024-05-03": 1}
    assert index.stats({"session": "ABC123"})["by_status"] == {"blocked": 1, "succeeded": 1}


def test_bad_filters_and_orders_are_refused(index):
    with pytest.raises(ValueError):
        index.list({"stauts": "running"})
    with pytest.raises(ValueError):
        index.list(order="created_at; DROP TABLE runs")
    with pytest.raises(ValueError):
        index.list({"since": "yesterday"})


def test_rebuild_reads_folders_and_skips_broken_ones(index, tmp_path):
    runs_dir = tmp_path / "pipeline_runs"
    good = meta("2024-06-01T10:00:00.000+00:00", status="cancelled", media=["audio"])
    mismatch, broken = meta("2024-06-01T10:00:00.000+00:00"), str(uuid.uuid4())
    for name, content in ((good["run_id"], json.dumps(good)), (str(uuid.uuid4()), json.dumps(mismatch)),
                          (broken, '{"run_id": "'), ("not-a-run", json.dumps(good))):
        (runs_dir / name).mkdir(parents=True)
        (runs_dir / name / "metadata.json").write_text(content, encoding="utf-8")
    index.upsert(meta("2024-01-01T00:00:00.000+00:00"))  # a stale row with no folder

    assert index.rebuild(runs_dir) == {"indexed": 1, "skipped": 2}
    page = index.list()
    assert ids(page) == [good["run_id"]] and page["runs"][0]["media_types"] == ["audio"]
    assert index.stats()["by_media_type"] == {"audio": 1}


def test_rebuild_of_a_missing_folder_empties_the_index(index, tmp_path: Path):
    index.upsert(meta("2024-01-01T00:00:00.000+00:00"))
    assert index.rebuild(tmp_path / "nowhere") == {"indexed": 0, "skipped": 0}
    assert index.list()["total"] == 0


def test_the_unfiltered_total_stays_exact_through_updates_reopens_and_rebuilds(index, runs, tmp_path):
    assert index.list()["total"] == 4
    index.upsert_many([meta("2024-06-01T00:00:00.000+00:00"), {**meta("2024-05-01T08:00:00.000+00:00"),
                                                                 "run_id": runs["dog"], "status": "failed"}])
    assert index.list()["total"] == 5 == len(index.run_ids())
    index.close()
    reopened = RunIndex(tmp_path / "index.sqlite")
    try:
        assert reopened.list()["total"] == 5
        reopened.upsert_many([meta("2024-07-01T00:00:00.000+00:00")], replace_all=True)
        assert reopened.list()["total"] == 1 == len(reopened.run_ids())
    finally:
        reopened.close()
