"""The fast term filter: every term list compiled into lookups, one pass per text, no model.

Matching modes (per term, see `terms.py`):

* `word`     the whole word, with an inflection ending ("Massaker" → "Massakern"); a multi-word term
             matches its words in sequence or written together ("Sieg Heil", "sieg-heil", "SiegHeil");
* `token`    the exact short word, doubles kept ("SS", "HH");
* `prefix`   the start of a word ("suizid" → "Suizidgedanken");
* `compound` anywhere inside a word or across a split word ("Hakenkreuzfahne", "Haken kreuz") — only
             for long, unmistakable terms, so that "Heilpflanzen" or "Kreuzfahrt" never match;
* `number`   digits as written, alone or joined by separators ("88", "14/88"), never inside a decimal.

All words are found by dictionary lookups on precomputed keys (inflected forms expanded at load time),
compound and prefix terms by one Aho-Corasick pass over the text's concatenated keys, and
misspellings by the index in `fuzzy.py`; each distinct word and pair of neighbours is analysed once
(`memo.py`). A hit then passes the term's context rules
(`needs_with`, `clear_with`, counts such as "88 Tasten") and becomes, per level, a block, a question
for the verifier, or nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress
from typing import Iterable, Iterator

import ahocorasick

from devserver.safety.fuzzy import MIN_LENGTH, FuzzyIndex, allowed_distance, osa_distance
from devserver.safety.normalize import SUFFIXES, Tokens, fold, prepare_clean, tokens_of
from devserver.safety.memo import Memo
from devserver.safety.result import FilterResult, Hit, decide
from devserver.safety.squeeze import SPLIT_FRAGMENT, SqueezeIndex
from devserver.safety.symbols import SymbolIndex
from devserver.safety.terms import Term
from devserver.safety.views import clean, has_number_words, mixed_skeleton, needs_skeleton, numbers, palochka_as_l

# Words after a number that do not make it a count ("88 und HH" is no quantity).
_FUNCTION_WORDS = frozenset(
    "und oder mit auf im in an als am ist sind der die das den dem des ein eine einer zu von fur bei "
    "and or with on in at as is are the a an to of for by from"
    .split())
LONG_TERM = 8  # compound terms at least this long may also start a longer, split-up compound
MIN_INFLECTED = 5  # shorter word terms get no automatic inflection endings


@dataclass
class _Phrase:
    words: tuple[str, ...]
    term: Term
    open_end: bool  # the last word may continue (prefix/compound terms)
    last_forms: frozenset[str] = frozenset()  # the last word with its inflection endings

    anchor: int = 0  # the word looked up exactly: the longest before the last (rarer than "ein", "the")

    def __post_init__(self) -> None:
        self.last_forms = frozenset(fold(self.words[-1] + s) for s in SUFFIXES)
        before_last = self.words[:-1]
        self.anchor = max(range(len(before_last)), key=lambda j: len(before_last[j]))


@dataclass(frozen=True)
class _Context:
    """Context words of one rule, precompiled: single words with their inflected forms, and phrases."""

    words: frozenset[str]
    phrases: tuple[str, ...]

    @classmethod
    def of(cls, phrases: tuple[tuple[str, ...], ...]) -> "_Context | None":
        if not phrases:
            return None
        words: set[str] = set()
        for phrase in (p for p in phrases if len(p) == 1):
            word = phrase[0]
            words.add(word)
            words.update(fold(word + s) for s in SUFFIXES)
            words.update(word[:-len(s)] for s in SUFFIXES if word.endswith(s) and len(word) > len(s) + 2)
        return cls(frozenset(words), tuple(" " + " ".join(p) + " " for p in phrases if len(p) > 1))

    def present(self, tokens: Tokens) -> bool:
        """Tell whether any of the words or phrases occurs in the text."""
        if not self.words.isdisjoint(tokens.key_set()):
            return True
        return bool(self.phrases) and any(p in tokens.spaced for p in self.phrases)


@dataclass(frozen=True)
class _Word:
    """What one word of a text can contribute, worked out once per distinct word (prompts repeat their words)."""

    exact: tuple[tuple[Term, str], ...]  # terms it is, with the form that matched
    phrases: tuple[_Phrase, ...]  # multi-word terms anchored on it
    fuzzy: tuple[Term, ...]  # terms it nearly spells
    fragment: bool  # one or two letters, not a function word: a piece of a split term ("hi tler")




@dataclass
class _Found:
    tokens: Tokens
    hits: dict[Term, Hit] = field(default_factory=dict)
    counted: set[Term] = field(default_factory=set)  # number terms used as a count ("88 Tasten")

    def add(self, term: Term, found: str, fuzzy: bool = False) -> None:
        if term not in self.hits or (self.hits[term].fuzzy and not fuzzy):
            self.hits[term] = Hit(term, found, fuzzy)


class _Substrings:
    """Keys inside a text, found in one pass (Aho-Corasick): at each position the longest key that starts there."""

    def __init__(self, keys: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        for key in keys:
            self._automaton.add_word(key, key)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, str]]:
        """Return (start, key) in the order of the starts."""
        if self._empty:
            return []
        longest: dict[int, str] = {}
        for last, key in self._automaton.iter(text):
            start = last + 1 - len(key)
            if len(key) > len(longest.get(start, "")):
                longest[start] = key
        return sorted(longest.items())


class TermFilter:
    """All term lists, compiled for matching."""

    def __init__(self, terms: list[Term]):
        self.terms = terms
        self._symbols = SymbolIndex([t for t in terms if t.match == "symbol"])
        terms = [t for t in terms if t.match != "symbol"]
        self._exact: dict[str, list[Term]] = {}
        self._numbers: dict[str, list[Term]] = {}
        self._inside: dict[str, list[tuple[Term, str]]] = {}  # compound/prefix keys for the regex
        self._phrases: dict[str, list[_Phrase]] = {}
        fuzzy_single: list[tuple[str, Term]] = []
        fuzzy_joined: list[tuple[str, Term]] = []
        self._context: dict[Term, tuple[_Context | None, _Context | None]] = {}
        self._exact_raw: dict[str, list[Term]] = {}
        for term in terms:
            for keys in term.keys:
                self._index(term, keys, fuzzy_single, fuzzy_joined)
            if term.match in ("compound", "prefix"):  # as written, doubles kept: letters spelt apart ("W a f f e n S S")
                for raws in term.raws:
                    form, short = "".join(raws), len(raws) > 1 and any(len(r) <= 3 for r in raws)
                    entries = self._inside.setdefault(form, [])
                    if all(t is not term for t, _ in entries):
                        entries.append((term, "prefix" if short else term.match))
            if term.match in ("word", "token") and not term.fuzzy:
                for raws in term.raws:
                    for form in _inflected("".join(raws), term.match):
                        self._exact_raw.setdefault(form, []).append(term)
            if term.needs_with or term.clear_with:
                self._context[term] = (_Context.of(term.needs_with), _Context.of(term.clear_with))
        self._substrings = _Substrings(self._inside)
        self._squeezed = SqueezeIndex(((form, t) for form, ts in self._exact.items() for t in ts), _FUNCTION_WORDS)
        self._squeezed_raw = SqueezeIndex(((form, t) for form, ts in self._exact_raw.items() for t in ts),
                                          _FUNCTION_WORDS)
        self._fuzzy = FuzzyIndex(fuzzy_single + fuzzy_joined)
        self._fuzzy_single = FuzzyIndex(fuzzy_single)  # for two words written apart ("haken kreutz")
        self._words: Memo[str, _Word | None] = Memo(self._word)  # prompts repeat their words: each is analysed once
        # by two neighbouring keys
        self._pairs: Memo[tuple[str, str], tuple[tuple[Term, bool], ...]] = Memo(self._split_word)

    def _index(self, term: Term, keys: tuple[str, ...], fuzzy_single: list, fuzzy_joined: list) -> None:
        if term.match == "number":
            self._numbers.setdefault("".join(keys), []).append(term)
            return
        if len(keys) > 1:
            phrase = _Phrase(keys, term, term.match in ("prefix", "compound"))
            self._phrases.setdefault(keys[phrase.anchor], []).append(phrase)
        # Written together, a phrase with a short word ("SS-Rune", "Waffen-SS") must keep that word's
        # doubles ("ssrune", never "srune") and start a word, and gets no fuzzy matching: otherwise
        # "Waffenschrank", "Landsmann", "Soldaten" or "Uniform" would come within reach.
        short = len(keys) > 1 and any(len(k) <= 3 for k in keys)
        refold = (lambda form: form) if short else fold
        joined_forms = {"".join(keys)} if short else {"".join(keys), fold("".join(keys))}
        if term.match in ("word", "token"):
            if not term.fuzzy:  # matched on the words as written, see _exact_raw
                return
            for form in joined_forms:
                for inflected in _inflected(form, term.match, refold):
                    self._exact.setdefault(inflected, []).append(term)
        else:
            mode = "prefix" if short else term.match
            for form in joined_forms:
                self._inside.setdefault(form, []).append((term, mode))
        if term.fuzzy and term.match != "token" and not short:
            (fuzzy_single if len(keys) == 1 else fuzzy_joined).append((fold("".join(keys)), term))

    # -- scanning -------------------------------------------------------------------------------------

    def scan(self, text: str) -> list[Hit]:
        """Return every hit in the text that survives its context rules (level-independent), each
        naming the first view of the text that caught it."""
        cleaned = clean(text)
        hits: dict[Term, Hit] = {}
        unusual = needs_skeleton(cleaned)  # symbols and look-alikes lie beyond Latin Extended-A
        if unusual:
            for term, symbol, view in self._symbols.scan(cleaned):
                hits.setdefault(term, Hit(term, symbol, view=view))
        codes = sum(term.escalate for term in hits)  # a symbol code counts towards "two codes" ("ᛋᛋ 88 Tattoo")
        seen: set[str] = set()
        for view, form in _views(cleaned, unusual) if unusual else (("text", cleaned),):
            prepared = prepare_clean(form)
            if prepared in seen:  # most texts look the same in every view: scan each distinct one once
                continue
            seen.add(prepared)
            tokens = tokens_of(prepared)
            for hit in self._scan(tokens, codes):
                known = hits.get(hit.term)
                if known is None or known.fuzzy and not hit.fuzzy:  # credit the view that saw it exactly
                    hits[hit.term] = hit if view == hit.view else Hit(hit.term, hit.found, hit.fuzzy, view)
            if view == "text":
                as_digits = numbers(cleaned, has_number_words(tokens.raws))
                if as_digits is not None:
                    for hit in self._scan(tokens_of(prepare_clean(as_digits)), codes):
                        hits.setdefault(hit.term, Hit(hit.term, hit.found, hit.fuzzy, "numbers"))
        return list(hits.values())

    def _scan(self, tokens: Tokens, codes: int = 0) -> list[Hit]:
        found = _Found(tokens)
        keys = tokens.keys
        words = list(map(self._words.__getitem__, tokens.raws))
        anchors: list[tuple[int, tuple[_Phrase, ...]]] = []
        near: list[tuple[str, tuple[Term, ...]]] = []
        fragment = False
        for i in compress(range(len(words)), words):  # the words that are more than plain words
            word = words[i]
            for term, form in word.exact:
                found.add(term, form)
            if word.phrases:
                anchors.append((i, word.phrases))
            if word.fuzzy:
                near.append((keys[i], word.fuzzy))
            fragment = fragment or word.fragment
        for key in tokens.alternatives:
            for term in self._exact.get(key, ()):
                found.add(term, key)
        self._scan_inside(found)
        self._scan_phrases(found, anchors)
        self._scan_numbers(found)
        for key, terms in near:
            for term in terms:
                found.add(term, key, fuzzy=True)
        self._scan_split(found)
        if fragment:  # a whole term written across words needs a fragment of one or two letters
            self._scan_squeezed(found)
        if not found.hits:
            return []
        survivors = [hit for hit in found.hits.values() if self._in_context(hit, found)]
        if len({hit.term for hit in survivors if hit.term.escalate}) + codes < 2:
            # A lone code before a noun is a count ("88 Tasten"); next to a second code ("HH 88 Graffiti") it is not.
            survivors = [hit for hit in survivors if hit.term not in found.counted]
        return survivors

    def _word(self, raw: str) -> "_Word | None":
        """Analyse one word of a text: its exact terms, the phrases it anchors, the terms it nearly spells (None:
        a plain word)."""
        key = fold(raw)
        exact = tuple((term, key) for term in self._exact.get(key, ()))
        exact += tuple((term, raw) for term in self._exact_raw.get(raw, ()))
        phrases = tuple(self._phrases.get(key, ()))
        fuzzy = ()
        if len(key) >= MIN_LENGTH - 1 and key not in self._exact and key.isalpha():
            fuzzy = tuple(term for _, term in self._fuzzy.lookup(key))
        # Squeezed terms are letters only, so a number ("88") is no fragment of one.
        fragment = len(key) <= SPLIT_FRAGMENT and key.isalpha() and key not in _FUNCTION_WORDS
        return _Word(exact, phrases, fuzzy, fragment) if exact or phrases or fuzzy or fragment else None

    def _scan_inside(self, found: _Found) -> None:
        tokens = found.tokens
        keys = tokens.keys
        for begin, key in self._substrings.find(tokens.joined):
            starts = tokens.starts
            end = begin + len(key)
            index = tokens.token_at(begin)
            at_start = starts[index] == begin
            within = end <= starts[index] + len(keys[index])
            if not within and not _spans_words(tokens, key, begin, end, at_start):
                continue
            for term, mode in self._inside[key]:
                if mode == "prefix" and not at_start:
                    continue
                found.add(term, key)
        for alternative in tokens.alternatives:
            for begin, key in self._substrings.find(alternative):
                for term, mode in self._inside[key]:
                    if mode == "compound" or begin == 0:
                        found.add(term, key)

    def _scan_phrases(self, found: _Found, anchors: list[tuple[int, tuple[_Phrase, ...]]]) -> None:
        keys = found.tokens.keys
        for i, phrases in anchors:
            for phrase in phrases:
                start = i - phrase.anchor
                if start < 0 or phrase.term in found.hits and not found.hits[phrase.term].fuzzy:
                    continue
                fuzzy = _phrase_at(keys, start, phrase)
                if fuzzy is not None:
                    found.add(phrase.term, " ".join(keys[start:start + len(phrase.words)]), fuzzy)

    def _scan_numbers(self, found: _Found) -> None:
        for run in found.tokens.numbers:
            if run.arithmetic:  # "14 + 88 = 102", "18 mal 28": numbers in a calculation are no codes
                continue
            candidates = set(run.parts)
            candidates.update(a + b for a, b in zip(run.parts, run.parts[1:]))
            candidates.add("".join(run.parts))
            counted = (len(run.next_word) >= 3 and run.next_word not in _FUNCTION_WORDS
                       and fold(run.next_word) not in self._exact)
            for digits in candidates:
                for term in self._numbers.get(digits, ()):
                    found.add(term, digits)
                    if counted and term.quantity_clears and digits == run.parts[-1]:
                        found.counted.add(term)

    def _scan_squeezed(self, found: _Found) -> None:
        for term, words in self._squeezed.scan(found.tokens.keys):
            found.add(term, words)
        for term, words in self._squeezed_raw.scan(found.tokens.raws):
            found.add(term, words)

    def _scan_split(self, found: _Found) -> None:
        """Find a word split in two ("haken kreutz", "Wolfs-Angel")."""
        keys = found.tokens.keys
        pairs = list(zip(keys, keys[1:]))
        results = list(map(self._pairs.__getitem__, pairs))
        for pair, hits in zip(compress(pairs, results), filter(None, results)):  # most pairs find nothing
            for term, fuzzy in hits:
                found.add(term, " ".join(pair), fuzzy)

    def _split_word(self, pair: tuple[str, str]) -> tuple[tuple[Term, bool], ...]:
        first, second = pair
        if len(first) < 3 or len(second) < 3 or not (first.isalpha() and second.isalpha()):
            return ()
        joined = first + (second[1:] if first[-1] == second[0] else second)
        exact = [(t, False) for t in self._exact.get(joined, ()) if t.fuzzy and len(t.keys[0]) == 1]
        return tuple(exact + [(term, True) for _, term in self._fuzzy_single.lookup(joined)])

    def _in_context(self, hit: Hit, found: _Found) -> bool:
        needs, clears = self._context.get(hit.term, (None, None))
        if needs is not None and not needs.present(found.tokens):
            return False
        return clears is None or not clears.present(found.tokens)

    # -- deciding -------------------------------------------------------------------------------------

    def assess(self, text: str, level: str) -> FilterResult:
        """Scan a text and decide at one level: block, verify (ask the model) or allow."""
        return decide(self.scan(text), level)


def _views(cleaned: str, unusual: bool) -> Iterator[tuple[str, str]]:
    """Yield (view name, text) for the letter views of a text (see `views.py`; numbers follow the text view);
    `unusual` tells whether the text `needs_skeleton`."""
    yield "text", cleaned
    if unusual:
        yield "skeleton", mixed_skeleton(cleaned)
        as_l = palochka_as_l(cleaned)
        if as_l is not None:
            yield "skeleton", mixed_skeleton(as_l)


def _inflected(form: str, match: str, refold=lambda f: f) -> list[str]:
    """Return a word term with its inflection endings; words under 5 letters get none (beer → Beere, wine →
    winner, Wein → weinen would follow), they list their inflected forms as variants instead."""
    if match != "word" or len(form) < MIN_INFLECTED:
        return [form]
    return [form] + [refold(form + ending) for ending in SUFFIXES]


def _spans_words(tokens: Tokens, key: str, begin: int, end: int, at_start: bool) -> bool:
    """Accept a match across words only if it starts a word and ends one — or an inflected or
    compounded last word when the term is long enough to be unmistakable ("Haken-Kreuzfahne" but not
    "hit lerne")."""
    if not at_start:
        return False
    last = tokens.token_at(end - 1)
    rest = tokens.keys[last][end - tokens.starts[last]:]
    return not rest or rest in SUFFIXES or len(key) >= LONG_TERM


def _phrase_at(keys: list[str], i: int, phrase: _Phrase) -> bool | None:
    """Return None if the phrase does not start at keys[i], else whether the match needed a fuzzy step."""
    words = phrase.words
    if i + len(words) > len(keys):
        return None
    fuzzy = False
    for j in range(len(words)):
        word, key = words[j], keys[i + j]
        if key == word:
            continue
        last = j == len(words) - 1
        if last and (phrase.open_end and key.startswith(word) or key in phrase.last_forms):
            continue
        limit = allowed_distance(len(word))
        if limit and osa_distance(key, word, limit) <= limit or _swapped(key, word):
            fuzzy = True
            continue
        return None
    return fuzzy


def _swapped(key: str, word: str) -> bool:
    """Tell whether key is word with two neighbouring letters swapped ("hiel" for "heil"), for words of 4+
    letters too short for edit-distance matching (a swap never turns "heil" into "weil" or "teil")."""
    if len(key) != len(word) or len(word) < 4:
        return False
    diff = [i for i in range(len(word)) if key[i] != word[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and key[diff[0]] == word[diff[1]] and key[diff[1]] == word[diff[0]]
