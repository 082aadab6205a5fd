"""One benchmark figure: a measured value next to its target, as the one-command table shows it."""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Figure:
    """A measured value and its target; `ratio` is value/target, `higher_is_better` says which way passes."""

    name: str
    value: float
    unit: str
    target: float
    higher_is_better: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.target if self.target else float("nan")

    @property
    def meets(self) -> bool:
        return self.ratio >= 1 if self.higher_is_better else self.ratio <= 1

    def row(self) -> str:
        """Return the figure as a Markdown table row."""
        sign = "≥" if self.higher_is_better else "≤"
        return (f"| {self.name} | {self.value:,.2f} {self.unit} | {sign} {self.target:,.2f} {self.unit} | "
                f"{self.ratio:.2f} | {'yes' if self.meets else '**no**'} | {self.note} |")


def best_ms(func: Callable[[], object], repeat: int = 21) -> float:
    """Return the fastest of `repeat` wall times of `func` in ms (after a warm-up call).

    The fastest, not the median: on a shared machine other processes only ever add time, so the
    minimum is the figure that repeats from run to run."""
    func()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def cli(figures: Callable[[bool], list[Figure]], doc: str | None) -> None:
    """Parse `--quick` and print a benchmark's figures as table rows (its script entry point)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true")
    for figure in figures(parser.parse_args().quick):
        print(figure.row())
