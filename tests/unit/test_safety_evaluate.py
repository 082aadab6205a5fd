"""The evaluator, run in-process on the project's labelled set and the shared starter set (fast filter)."""
from __future__ import annotations

from pathlib import Path

import pytest

from devserver.safety.__main__ import main
from devserver.safety.evaluate import evaluate, labelled_levels, load_items
from devserver.safety.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
OWN = sorted((ROOT / "tests" / "fixtures" / "safety").glob("*.jsonl"))
SHARED = ROOT.parent / "shared" / "fixtures" / "safety_prompts.jsonl"
P86A = ("p86a", "p86a_obfuscated")


def fast_report(paths):
    items = load_items(paths)
    filt = load_policy().filter
    return items, evaluate(items, labelled_levels(items, "all"), lambda text, level: filt.assess(text, level).outcome)


SETS = [pytest.param(OWN, id="project"),
        pytest.param([SHARED], id="shared", marks=pytest.mark.skipif(not SHARED.is_file(), reason="no shared/"))]


def test_project_set_is_large_enough():
    items = load_items(OWN)
    assert len(items) >= 300
    assert sum(i.category in P86A for i in items) >= 60
    assert sum(i.category.startswith("benign") for i in items) >= 100
    assert {i.lang for i in items} == {"de", "en"}


@pytest.mark.parametrize("paths", SETS)
def test_p86a_recall_and_no_blocked_near_miss(paths):
    items, report = fast_report(paths)
    for level, cats in report.levels.items():
        for category in P86A:
            figures = cats[category].figures()
            assert figures["recall"] >= 0.98, (level, category, figures)
        near = cats["benign_near_miss"].figures()
        assert near["fp"] == 0, (level, [e for e in report.errors if e["category"] == "benign_near_miss"])


def test_cli_prints_json(capsys):
    assert main(["evaluate", str(OWN[0]), "--fast-only", "--json", "--level", "kids"]) == 0
    import json
    data = json.loads(capsys.readouterr().out)
    assert set(data["levels"]) == {"kids"}
    assert {"precision", "recall", "false_positive_rate", "tp", "fp", "tn", "fn", "mean_latency_ms"} <= \
        set(data["levels"]["kids"]["all"])
