"""The shipped schema files validate; a broken set yields one error that names every problem."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config import MODEL_ROLES, ROOT
from devserver.backends.registry import known_backend_ids
from devserver.schemas.catalog import Catalog, SchemaProblems, read_folder

BROKEN = Path(__file__).parent.parent / "fixtures" / "schemas_broken"
SCHEMAS = ROOT / "schemas"


def test_every_shipped_schema_file_validates():
    snap = read_folder(SCHEMAS, MODEL_ROLES, known_backend_ids())
    files = {p.stem for sub in ("chunks", "pipelines") for p in (SCHEMAS / sub).glob("*.json")}
    assert set(snap.chunks) | set(snap.pipelines) == files
    assert len(snap.interception) >= 16 and len(snap.outputs) >= 10
    assert len(snap.interception) == len(list((SCHEMAS / "configs/interception").glob("*.json")))


def test_shipped_configs_have_substantial_contexts_in_both_languages():
    snap = read_folder(SCHEMAS, MODEL_ROLES, known_backend_ids())
    for cfg in snap.interception.values():
        if cfg.context is None:
            assert cfg.id == "user_defined"
            continue
        for lang in ("de", "en"):
            assert 400 <= len(cfg.context.get(lang)) <= 1600, (cfg.id, lang)


def test_stillepost_is_recursive_through_languages():
    snap = read_folder(SCHEMAS, MODEL_ROLES, known_backend_ids())
    cfg = snap.interception["stillepost"]
    assert snap.pipelines[cfg.pipeline].type == "recursive_interception"
    iterations = cfg.parameters.iterations or snap.pipelines[cfg.pipeline].iterations
    assert iterations >= 2 and len(cfg.parameters.languages) >= iterations


def test_every_output_config_has_mappings_duration_and_media_type():
    snap = read_folder(SCHEMAS, MODEL_ROLES, known_backend_ids())
    media = {snap.chunks[o.chunk].media_type for o in snap.outputs.values()}
    assert {"image", "audio", "music", "video", "code"} <= media
    for out in snap.outputs.values():
        chunk = snap.chunks[out.chunk]
        assert ("prompt" in chunk.input_mappings or chunk.takes_image) and chunk.estimated_duration_seconds > 0


def test_broken_set_reports_every_problem_at_once():
    with pytest.raises(SchemaProblems) as info:
        read_folder(BROKEN, MODEL_ROLES, known_backend_ids())
    text = info.value.message
    expected = {
        "configs/interception/typo_field.json": "colour",          # unknown field
        "configs/interception/missing_pipeline.json": "no_such_pipeline",
        "pipelines/dangling.json": "no_such_chunk",
        "chunks/bad_role.json": "STAGE9_MODEL",
        "configs/output/twin.json": "duplicate id",
        "configs/interception/renamed.json": "file name",
        "configs/output/not_json.json": "not readable JSON",
    }
    for file, fragment in expected.items():
        lines = [line for line in text.splitlines() if file in line]
        assert any(fragment in line for line in lines), (file, fragment, text)
    assert len(info.value.details["problems"]) >= len(expected)


def test_reload_keeps_the_last_good_snapshot_when_an_edit_is_broken(tmp_path):
    root = tmp_path / "schemas"
    subprocess.run(["cp", "-r", str(SCHEMAS), str(root)], check=True)
    catalog = Catalog(root, MODEL_ROLES, known_backend_ids()).load()
    path = root / "configs/interception/dada.json"
    data = json.loads(path.read_text())
    data["name"]["en"] = "Dada (edited)"
    path.write_text(json.dumps(data))
    catalog.reload()
    assert catalog.interception("dada").name.en == "Dada (edited)"
    data["pipeline"] = "gone"
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaProblems):
        catalog.reload()
    assert catalog.interception("dada").name.en == "Dada (edited)"


def test_validate_command_exits_non_zero_and_lists_problems():
    ok = subprocess.run([sys.executable, "-m", "devserver.schemas", "validate", str(SCHEMAS)],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "devserver.schemas", "validate", str(BROKEN)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "STAGE9_MODEL" in bad.stderr and "no_such_chunk" in bad.stderr
