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
CLASSROOM_LANGUAGES = {"tr", "ar", "ru", "uk", "pl", "ro", "it", "es", "fr", "fa", "ku", "hr", "sr", "bs", "sq", "el",
                       "nl", "pt"}


def fast_report(paths):
    items = load_items(paths)
    filt = load_policy().filter
    return items, evaluate(items, labelled_levels(items, "all"), filt.assess)


SETS = [pytest.param(OWN, id="project"),
        pytest.param([SHARED], id="shared", marks=pytest.mark.skipif(not SHARED.is_file(), reason="no shared/"))]


def test_project_set_is_large_enough():
    items = load_items(OWN)
    assert len(items) >= 300
    assert sum(i.category in P86A for i in items) >= 60
    assert sum(i.category.startswith("benign") for i in items) >= 100
    assert {"de", "en"} <= {i.lang for i in items}
    assert sum(i.category.startswith("adv_") for i in items) >= 300
    assert sum(i.category.startswith("benign") and i.lang not in ("de", "en") for i in items) >= 50
    assert len(CLASSROOM_LANGUAGES - {i.lang for i in items if i.category == "adv_language"}) == 0


def test_every_adversarial_class_is_caught_and_benign_texts_pass():
    """Issue 9: each class of obfuscation >= 0.95 recall at kids and youth; <= 2 % of benign texts blocked."""
    items, report = fast_report(OWN)
    classes = {i.category for i in items if i.category.startswith("adv_")}
    assert len(classes) >= 8
    for level in ("kids", "youth"):
        cats = report.levels[level]
        for name in classes:
            figures = cats[name].figures()
            assert figures["recall"] >= 0.95, (level, name, [e["text"] for e in report.errors
                                                             if e["category"] == name and e["level"] == level])
        benign = [c for name, c in cats.items() if name.startswith("benign")]
        blocked, total = sum(c.fp for c in benign), sum(c.n for c in benign)
        assert total >= 300 and blocked / total <= 0.02, (level, [e["text"] for e in report.errors
                                                                  if e["category"].startswith("benign")
                                                                  and e["got"] == "block"])


def test_report_names_the_view_that_caught_each_item():
    items, report = fast_report(OWN)
    views = report.levels["kids"]["all"].views
    assert {"text", "skeleton", "numbers", "symbol"} <= set(views)
    assert sum(views.values()) == report.levels["kids"]["all"].tp


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


def test_cli_reads_the_project_set_by_default_and_names_the_views(capsys):
    assert main(["evaluate", "--fast-only", "--level", "youth"]) == 0
    out = capsys.readouterr().out
    assert "adv_symbol" in out and "benign_multilingual" in out
    views = out.split("caught by view")[1]
    assert "symbol" in views and "numbers" in views and "skeleton" in views
