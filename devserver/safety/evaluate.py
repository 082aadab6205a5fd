"""Measure the safety layer on labelled prompts: precision, recall and false-positive rate per level/category.

Input: JSONL, one item a line — `text`, `lang`, `category`, `expect` ({level: block|allow}), `fast`.
A "positive" is an item expected to block at that level. With the fast filter alone, a third outcome
exists: "needs verification" (an ambiguous hit the model would judge). Those are counted separately and,
for precision and recall, as not blocked — the figures say what the filter decides on its own.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devserver.errors import ValidationFailed
from devserver.safety.levels import LEVELS
from devserver.safety.result import FilterResult

# (text, level) → block | allow | verify, or the fast filter's result (then the evaluation also says
# which view of the text caught each blocked item)
Decide = Callable[[str, str], "str | FilterResult"]


class Item(BaseModel):
    """One labelled prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    lang: str = Field(pattern=r"^[a-z]{2,3}$")  # ISO 639 code of the text's language
    category: str
    expect: dict[Literal["kids", "youth", "adult", "research"], Literal["block", "allow"]]
    fast: bool = False


def load_items(paths: Iterable[Path]) -> list[Item]:
    """Read JSONL files; raise ValidationFailed naming the file and line of a bad item."""
    items: list[Item] = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(Item.model_validate_json(line))
            except ValidationError as exc:
                raise ValidationFailed(f"{path}:{number}: not a labelled item ({exc.errors()[0]['msg']})") from exc
    return items


@dataclass
class Counts:
    """Confusion counts and timing for one group of items."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    verify_positive: int = 0  # expected block, the filter asked for verification
    verify_negative: int = 0  # expected allow, the filter asked for verification
    latency_ms: float = 0.0
    views: dict[str, int] = field(default_factory=dict)  # blocked positives by the view that caught them

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn + self.verify_positive + self.verify_negative

    def add(self, expected: str, got: str, latency_ms: float) -> None:
        self.latency_ms += latency_ms
        if got == "verify":
            if expected == "block":
                self.verify_positive += 1
            else:
                self.verify_negative += 1
        elif expected == "block":
            self.tp, self.fn = (self.tp + 1, self.fn) if got == "block" else (self.tp, self.fn + 1)
        else:
            self.fp, self.tn = (self.fp + 1, self.tn) if got == "block" else (self.fp, self.tn + 1)

    def figures(self) -> dict[str, float | int | None]:
        """Return counts, precision, recall, false-positive rate and mean latency (None where undefined)."""
        positives = self.tp + self.fn + self.verify_positive
        negatives = self.fp + self.tn + self.verify_negative
        return {**{k: v for k, v in asdict(self).items() if k not in ("latency_ms", "views")}, "n": self.n,
                "views": dict(self.views),
                "precision": _ratio(self.tp, self.tp + self.fp), "recall": _ratio(self.tp, positives),
                "false_positive_rate": _ratio(self.fp, negatives),
                "mean_latency_ms": round(self.latency_ms / self.n, 3) if self.n else None}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


@dataclass
class Report:
    """Figures per level (overall and per category) and the items decided wrongly."""

    levels: dict[str, dict[str, Counts]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the report as JSON-safe data."""
        return {"levels": {lv: {cat: c.figures() for cat, c in cats.items()} for lv, cats in self.levels.items()},
                "errors": self.errors}


def evaluate(items: list[Item], levels: Iterable[str], decide: Decide) -> Report:
    """Run `decide` on every item at every level it is labelled for and count the outcomes."""
    report = Report()
    for level in levels:
        cats: dict[str, Counts] = {"all": Counts()}
        for item in items:
            expected = item.expect.get(level)  # type: ignore[call-overload]
            if expected is None:
                continue
            started = time.perf_counter()
            answer = decide(item.text, level)
            ms = (time.perf_counter() - started) * 1000
            got = answer if isinstance(answer, str) else answer.outcome
            view = None if isinstance(answer, str) or not answer.hits or got != expected else answer.hits[0].view
            for name in ("all", item.category):
                counts = cats.setdefault(name, Counts())
                counts.add(expected, got, ms)
                if view is not None and expected == "block":
                    counts.views[view] = counts.views.get(view, 0) + 1
            if got != expected:
                report.errors.append({"level": level, "category": item.category, "expected": expected,
                                      "got": got, "text": item.text})
        report.levels[level] = cats
    return report


def labelled_levels(items: list[Item], choice: str) -> list[str]:
    """Return the levels to evaluate: one named level, or every level some item is labelled for."""
    if choice != "all":
        return [choice]
    present = {lv for item in items for lv in item.expect}
    return [lv for lv in LEVELS if lv in present]


def format_report(report: Report, fast_only: bool) -> str:
    """Render the report as plain-text tables."""
    lines = []
    head = f"{'category':<22}{'n':>5}{'tp':>5}{'fp':>5}{'tn':>5}{'fn':>5}{'verify':>8}{'prec':>8}{'recall':>8}" \
           f"{'fpr':>8}{'ms':>9}"
    for level, cats in report.levels.items():
        lines += [f"== level {level}" + (" (fast filter only; 'verify' = needs the model)" if fast_only else ""),
                  head]
        for name in ["all", *sorted(c for c in cats if c != "all")]:
            f = cats[name].figures()
            verify = f"{f['verify_positive']}+{f['verify_negative']}"
            lines.append(f"{name:<22}{f['n']:>5}{f['tp']:>5}{f['fp']:>5}{f['tn']:>5}{f['fn']:>5}{verify:>8}"
                         f"{_fmt(f['precision']):>8}{_fmt(f['recall']):>8}{_fmt(f['false_positive_rate']):>8}"
                         f"{_fmt(f['mean_latency_ms']):>9}")
        lines.append("")
    caught = [(name, c.views) for name, c in next(iter(report.levels.values()), {}).items() if c.views]
    if caught:
        lines.append(f"caught by view (level {next(iter(report.levels))}, blocked items by the view of the deciding hit):")
        lines += [f"  {name:<22}" + ", ".join(f"{v} {n}" for v, n in sorted(views.items(), key=lambda kv: -kv[1]))
                  for name, views in sorted(caught)]
        lines.append("")
    if report.errors:
        lines.append(f"not as expected ({len(report.errors)}; 'verify' = left to the model):")
        lines += [f"  [{e['level']}/{e['category']}] expected {e['expected']}, got {e['got']}: {e['text']}"
                  for e in report.errors]
    return "\n".join(lines)


def _fmt(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def report_json(report: Report) -> str:
    """Return the report as one JSON object."""
    return json.dumps(report.to_dict(), ensure_ascii=False)
