"""A bounded memo of one function's results: texts repeat their words, so each distinct word is worked on once.

A `Memo` is a dict whose missing keys are computed on first use, so that looking up a known word stays in C
(`map(memo.__getitem__, words)`). It forgets everything once it holds `limit` entries: a stream of new words
(random text, an attack on memory) costs time, never unbounded memory.
"""
from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
LIMIT = 100_000


class Memo(dict, Generic[K, V]):
    """`memo[word]` is `compute(word)`, computed once."""

    def __init__(self, compute: Callable[[K], V], limit: int = LIMIT):
        super().__init__()
        self._compute = compute
        self._limit = limit

    def __missing__(self, word: K) -> V:
        if len(self) >= self._limit:
            self.clear()
        value = self[word] = self._compute(word)
        return value
