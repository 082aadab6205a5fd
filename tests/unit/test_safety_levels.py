"""Levels: a request may make the level stricter, never looser."""
from __future__ import annotations

import pytest

from devserver.errors import ValidationFailed
from devserver.safety.levels import effective_level


@pytest.mark.parametrize("base,requested,expected", [
    ("youth", "kids", "kids"),
    ("youth", "adult", "youth"),
    ("youth", "research", "youth"),
    ("kids", "adult", "kids"),
    ("adult", "youth", "youth"),
    ("research", None, "research"),
    ("adult", "adult", "adult"),
])
def test_request_only_tightens(base, requested, expected):
    assert effective_level(base, requested) == expected


@pytest.mark.parametrize("base,requested", [("youth", "toddler"), ("everyone", None)])
def test_unknown_level_is_rejected(base, requested):
    with pytest.raises(ValidationFailed):
        effective_level(base, requested)
