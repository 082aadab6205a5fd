"""The term lists are validated data: a typo fails loudly with file and field."""
from __future__ import annotations

import json
import shutil

import pytest

from devserver.errors import ConfigError
from devserver.safety.policy import DEFAULT_DIR, load_policy


@pytest.fixture()
def lists(tmp_path):
    for path in DEFAULT_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(path, change):
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_shipped_lists_load():
    policy = load_policy()
    assert len(policy.filter.terms) > 300
    assert {t.source for t in policy.filter.terms} == {"p86a", "ambiguous", "kids", "youth", "symbols", "languages"}


def test_unknown_field_is_rejected(lists):
    edit(lists / "kids.json", lambda d: d["groups"][0].update(catgory="drugs"))
    with pytest.raises(ConfigError, match=r"kids.json: groups.0.catgory"):
        load_policy(lists)


def test_unknown_action_is_rejected(lists):
    edit(lists / "p86a.json", lambda d: d["actions"].update(kids="maybe"))
    with pytest.raises(ConfigError, match="p86a.json: actions.kids"):
        load_policy(lists)


def test_duplicate_term_is_rejected(lists):
    edit(lists / "youth.json", lambda d: d["groups"][0]["de"].append("Maßaker".replace("ß", "ss")))
    with pytest.raises(ConfigError, match="duplicates"):
        load_policy(lists)


def test_new_term_takes_effect(lists):
    assert load_policy(lists).filter.assess("ein Glibberwurm", "kids").outcome == "allow"
    edit(lists / "kids.json", lambda d: d["groups"][0]["de"].append("Glibberwurm"))
    assert load_policy(lists).filter.assess("ein Glibberwurm", "kids").outcome == "block"
