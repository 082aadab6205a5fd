"""docs/RESEARCH_EXPORT.md describes every item type the recorder accepts, and no other."""
from __future__ import annotations

import re
from pathlib import Path

from devserver.recorder.items import ITEM_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "RESEARCH_EXPORT.md"


def test_the_item_taxonomy_table_lists_exactly_the_item_types():
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### Item taxonomy"):text.index("## 4.")]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert documented == set(ITEM_TYPES)
