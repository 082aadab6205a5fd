"""The term lists under `schemas/safety/`: pydantic models (extra="forbid") and the loader.

`policy.json` names the list files; each list has a default action per level and groups of terms.
A group gives its terms in short form (`de`/`en` arrays) or in full (`entries`, with variants and
context rules). Every problem is reported with the file and the field; a typo never loads silently.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devserver.errors import ConfigError
from devserver.safety.levels import LEVELS
from devserver.safety.normalize import spellings
from devserver.safety.views import clean

Action = Literal["block", "verify", "allow"]
Category = Literal["p86a", "violence_graphic", "sexual", "self_harm", "drugs", "weapons", "hate"]
Match = Literal["word", "prefix", "compound", "token", "number", "symbol"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actions(_Strict):
    """What a hit does at each level: block at once, ask the verifier, or nothing."""

    kids: Action
    youth: Action
    adult: Action
    research: Action


class Entry(_Strict):
    """One term in full form."""

    term: str = Field(min_length=1)
    variants: list[str] = []  # other spellings that are the same term (not left to fuzzy matching)
    match: Match | None = None  # default: the group's
    category: Category | None = None
    actions: Actions | None = None
    fuzzy: bool | None = None
    clear_with: list[str] = []  # words or phrases that show the harmless sense ("88 Tasten", "rotes Kreuz")
    needs_with: list[str] = []  # the hit counts only together with one of these (e.g. "Kreuz" + "Haken")
    escalate: bool = False  # two different escalating codes in one text block ("HH" + "88")
    quantity_clears: bool = False  # a number followed by a noun is a count ("88 Tasten"), not a code
    note: str = ""
    lang: str = ""  # ISO 639-1 code of a term from another language
    source: str = ""  # where the term is documented (a publication or an article name)


class Group(_Strict):
    """Terms sharing a category, a match mode and (optionally) actions."""

    category: Category
    match: Match = "word"
    fuzzy: bool = False
    actions: Actions | None = None
    clear_with: list[str] = []  # added to every entry's own
    needs_with: list[str] = []  # used by entries that name none of their own
    de: list[str] = []
    en: list[str] = []
    entries: list[Entry] = []


class TermList(_Strict):
    """One list file."""

    name: str
    description: str
    actions: Actions
    groups: list[Group]
    sources_required: bool = False  # every entry must name its source (lists of other languages, symbols)

    @model_validator(mode="after")
    def _sources(self) -> "TermList":
        if self.sources_required:
            for gi, group in enumerate(self.groups):
                if group.de or group.en:
                    raise ValueError(f"groups.{gi}: a list with sources_required takes full entries, not de/en arrays")
                missing = [e.term for e in group.entries if not e.source]
                if missing:
                    raise ValueError(f"groups.{gi}: no source for {', '.join(missing)}")
        return self


@dataclass(frozen=True, eq=False)  # identity: a term is a dictionary key while scanning
class Term:
    """A resolved term: keys ready for matching and the rules that decide what a hit means."""

    term: str
    source: str  # list name
    category: str
    match: str
    keys: tuple[tuple[str, ...], ...]  # one key sequence per spelling
    raws: tuple[tuple[str, ...], ...]  # the same with doubled letters kept ("noose" is not "nose")
    actions: dict[str, str]
    fuzzy: bool
    clear_with: tuple[tuple[str, ...], ...]
    needs_with: tuple[tuple[str, ...], ...]
    escalate: bool
    quantity_clears: bool

    def action(self, level: str) -> str:
        """Return what a hit means at this level."""
        return self.actions[level]


class PolicyFile(_Strict):
    """`policy.json`: list files, verifier texts, default negative prompts."""

    term_lists: list[str] = Field(min_length=1)
    p86a_definition: str
    level_rules: dict[Literal["kids", "youth", "adult", "research"], str]
    negative_prompts: dict[Literal["kids", "youth", "adult", "research"], str]

    @model_validator(mode="after")
    def _every_level(self) -> "PolicyFile":
        for name in ("level_rules", "negative_prompts"):
            missing = set(LEVELS) - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} lacks {', '.join(sorted(missing))}")
        return self


def read_model(path: Path, model: type[BaseModel]) -> BaseModel:
    """Read and validate one JSON file; raise ConfigError naming the file and each bad field."""
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: missing safety file", code="safety_lists_invalid") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})", code="safety_lists_invalid") from exc
    except ValidationError as exc:
        problems = [f"{path.name}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid safety list:\n" + "\n".join(problems), code="safety_lists_invalid",
                          details={"problems": problems}) from exc


def _phrases(items: list[str], where: str, raw: bool = False) -> tuple[tuple[str, ...], ...]:
    """Return the distinct key sequences (or, with `raw`, the uncollapsed word sequences) of phrases."""
    out: list[tuple[str, ...]] = []
    for item in items:
        forms = [tuple(t.raws if raw else t.keys) for t in spellings(item)]
        if not forms[0]:
            raise ConfigError(f"{where}: {item!r} has no letters or digits", code="safety_lists_invalid")
        out.extend(f for f in forms if f not in out)
    return tuple(out)


def _symbols(written: list[str], where: str) -> tuple[tuple[str, ...], ...]:
    """Return symbol terms as cleaned characters (never transliterated: "卐" must not become "wan")."""
    forms = tuple(dict.fromkeys((clean(item),) for item in written))
    if any(not form[0] or form[0].isascii() for form in forms):
        raise ConfigError(f"{where}: a symbol term must be non-ASCII characters", code="safety_lists_invalid")
    return forms


def _resolve(entry: Entry, group: Group, lst: TermList, where: str) -> Term:
    match = entry.match or group.match
    written = [entry.term, *entry.variants]
    if match == "symbol":
        keys = raws = _symbols(written, where)
    else:
        keys, raws = _phrases(written, where), _phrases(written, where, raw=True)  # distinct: "Odal-Rune" = "odal rune"
    if match == "number" and not all(k.isdigit() for spelling in keys for k in spelling):
        raise ConfigError(f"{where}: number term {entry.term!r} must be digits", code="safety_lists_invalid")
    if entry.quantity_clears and match != "number":
        raise ConfigError(f"{where}: quantity_clears only applies to number terms", code="safety_lists_invalid")
    actions = (entry.actions or group.actions or lst.actions).model_dump()
    return Term(term=entry.term, source=lst.name, category=entry.category or group.category, match=match,
                keys=keys, raws=raws, actions=actions,
                fuzzy=group.fuzzy if entry.fuzzy is None else entry.fuzzy,
                clear_with=_phrases([*group.clear_with, *entry.clear_with], where),
                needs_with=_phrases(entry.needs_with or group.needs_with, where),
                escalate=entry.escalate, quantity_clears=entry.quantity_clears)


def resolve_list(lst: TermList, file: str) -> list[Term]:
    """Turn a validated list into resolved terms."""
    terms = []
    for gi, group in enumerate(lst.groups):
        entries = [Entry(term=t) for t in (*group.de, *group.en)] + list(group.entries)
        for ei, entry in enumerate(entries):
            terms.append(_resolve(entry, group, lst, f"{file}: groups.{gi}: {entry.term!r}"))
    return terms


def load_terms(directory: Path, policy: PolicyFile) -> list[Term]:
    """Load every list the policy names; raise ConfigError on a bad file or a duplicated term."""
    terms: list[Term] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for name in policy.term_lists:
        lst = read_model(directory / name, TermList)
        assert isinstance(lst, TermList)
        for term in resolve_list(lst, name):
            for keys in term.keys:
                marker = (term.match, keys)
                if marker in seen:
                    raise ConfigError(f"{name}: {term.term!r} duplicates {seen[marker]!r}; keep one entry",
                                      code="safety_lists_invalid")
                seen[marker] = f"{term.term} ({lst.name})"
            terms.append(term)
    return terms
