"""docs/RESEARCH_EXPORT.md describes every item type the recorder accepts and every metadata field of each.

The writers are held to the same table: `build_item` refuses a field that `METADATA_FIELDS` does not
declare for its item type, so every test that runs the pipeline checks them (and
tests/integration/test_research_export.py checks records of real runs explicitly).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from devserver.recorder.items import ITEM_TYPES, METADATA_FIELDS, build_item

DOC = (Path(__file__).resolve().parents[2] / "docs" / "RESEARCH_EXPORT.md").read_text(encoding="utf-8")
TAXONOMY = DOC[DOC.index("### Item taxonomy"):DOC.index("### Metadata of each item type")]
FIELDS = DOC[DOC.index("### Metadata of each item type"):DOC.index("#### Every metadata field")]
GLOSSARY = DOC[DOC.index("#### Every metadata field"):DOC.index("## 4.")]


def rows(section: str) -> list[tuple[str, str]]:
    """Return the first two cells of each table row of a section (header and rule lines left out)."""
    cells = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return [(first.strip(), second.strip()) for first, second in cells[1:]] if cells else []


def documented_fields() -> dict[str, set[str]]:
    """Return item type → the metadata fields the page lists for it (groups expanded)."""
    groups: dict[str, str] = {}
    types: dict[str, str] = {}
    for first, second in rows(FIELDS):
        if first.startswith("*"):
            groups[first.strip("*")] = second
        else:
            types.update({name: second for name in re.findall(r"`([a-z0-9_]+)`", first)})

    def expand(cell: str) -> set[str]:
        names = set(re.findall(r"`([a-z0-9_]+)`", cell))
        return names.union(*(expand(groups[group]) for group in re.findall(r"\*([a-z]+)\*", cell)))

    return {item_type: expand(cell) for item_type, cell in types.items()}


def test_the_item_taxonomy_table_lists_exactly_the_item_types():
    first_cells = [line.split("|")[1] for line in TAXONOMY.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert documented == set(ITEM_TYPES)


def test_every_item_type_has_exactly_the_documented_metadata_fields():
    assert set(METADATA_FIELDS) == set(ITEM_TYPES)
    documented = documented_fields()
    assert set(documented) == set(ITEM_TYPES)
    wrong = {t: (sorted(documented[t] - METADATA_FIELDS[t]), sorted(METADATA_FIELDS[t] - documented[t]))
             for t in ITEM_TYPES if documented[t] != METADATA_FIELDS[t]}
    assert not wrong, f"item type: (only on the page, only in METADATA_FIELDS): {wrong}"


def test_every_metadata_field_is_explained_once():
    explained = [re.fullmatch(r"`([a-z0-9_]+)`", first).group(1) for first, _ in rows(GLOSSARY)]
    assert len(explained) == len(set(explained)) and explained == sorted(explained)
    assert set(explained) == set().union(*METADATA_FIELDS.values())


@pytest.mark.parametrize("item_type", sorted(ITEM_TYPES))
def test_a_writer_cannot_add_an_undocumented_field(item_type):
    allowed = {name: "x" for name in METADATA_FIELDS[item_type]}
    assert build_item(1, item_type, metadata=allowed)["metadata"] == allowed
    with pytest.raises(ValueError, match="undocumented_field"):
        build_item(1, item_type, metadata={**allowed, "undocumented_field": 1})
