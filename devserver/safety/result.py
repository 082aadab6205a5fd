"""What the fast filter found and what it means at a level: hits, the outcome, the escalation rule."""
from __future__ import annotations

from dataclasses import dataclass

from devserver.safety.levels import LEVELS
from devserver.safety.terms import Term

# Most serious first: the verdict names the most serious category found.
CATEGORY_PRIORITY = ("p86a", "self_harm", "sexual", "violence_graphic", "weapons", "drugs", "hate")
_ESCALATION = "combination"


@dataclass(frozen=True)
class Hit:
    """One term found in a text."""

    term: Term
    found: str  # the text's key(s) that matched
    fuzzy: bool = False
    view: str = "text"  # the view of the text that caught it: text, skeleton, numbers, symbol, ...


@dataclass(frozen=True)
class FilterResult:
    """The fast filter's outcome for one text at one level."""

    level: str
    outcome: str  # allow | verify | block
    hits: tuple[Hit, ...] = ()  # only the hits that matter at this level
    category: str = "none"

    @property
    def matched_terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.term.term for h in self.hits))

    def describe(self) -> str:
        """Return a technical one-line account of the hits (for the teacher record)."""
        if not self.hits:
            return "no term matched"
        parts = [f"{h.term.term!r} ({h.term.source}/{h.term.category}, {h.term.action(self.level)}"
                 f"{', fuzzy' if h.fuzzy else ''}, found {h.found!r} in view {h.view})" for h in self.hits]
        return "; ".join(parts)


def decide(hits: list[Hit], level: str) -> FilterResult:
    """Turn hits into the outcome at one level (including the two-escalating-codes rule)."""
    relevant = [h for h in hits if h.term.action(level) != "allow"]
    escalating = sorted({h.term.term for h in hits if h.term.escalate})
    if len(escalating) >= 2:
        combo = Term(term=" + ".join(escalating), source=_ESCALATION, category="p86a", match=_ESCALATION,
                     keys=(), raws=(), actions={lv: "block" for lv in LEVELS}, fuzzy=False, clear_with=(),
                     needs_with=(), escalate=False, quantity_clears=False)
        relevant.insert(0, Hit(combo, ", ".join(escalating)))
    if not relevant:
        return FilterResult(level, "allow")
    blocking = [h for h in relevant if h.term.action(level) == "block"]
    outcome = "block" if blocking else "verify"
    pool = blocking or relevant
    category = min((h.term.category for h in pool), key=CATEGORY_PRIORITY.index)
    ordered = sorted(relevant, key=lambda h: (h.term.action(level) != "block",
                                              CATEGORY_PRIORITY.index(h.term.category)))
    return FilterResult(level, outcome, tuple(ordered), category)
