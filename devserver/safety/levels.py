"""Safety levels, strictest first, and the rule that a request may only make the level stricter."""
from __future__ import annotations

from config import SAFETY_LEVELS
from devserver.errors import ValidationFailed

LEVELS: tuple[str, ...] = SAFETY_LEVELS  # kids (6–12), youth (13–17), adult, research
AGE_LEVELS = ("kids", "youth")  # the levels where safety fails closed
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


def check_level(level: str) -> str:
    """Return `level` if it is known, else raise ValidationFailed naming the known levels."""
    if level not in _RANK:
        raise ValidationFailed(f"Unknown safety level {level!r}; use one of {', '.join(LEVELS)}.",
                               code="unknown_safety_level", details={"level": level, "known": list(LEVELS)})
    return level


def effective_level(base: str, requested: str | None) -> str:
    """Return the stricter of `base` and `requested`; a looser request is ignored, not an error."""
    check_level(base)
    if requested is None:
        return base
    check_level(requested)
    return requested if _RANK[requested] < _RANK[base] else base


def fails_closed(level: str) -> bool:
    """Tell whether a check that could not be done must block at this level."""
    return level in AGE_LEVELS
