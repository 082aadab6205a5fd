"""Turn a text into comparison keys that defeat the usual obfuscations.

Terms and texts go through the same function, so a term matches whatever spelling folds to the same key:

* case (casefold, so ß → ss); German umlauts become digraphs (ä → ae), other diacritics go (é → e);
  in the keys the digraphs become plain vowels, so "Führer", "Fuehrer" and "Fuhrer" agree; words as
  written (`raws`) keep the digraph, so that "Blüte" (bluete) never reads as "blute"; a term with an
  umlaut is stored both ways (`spellings`); other scripts are transliterated (anyascii), so a Russian
  term and a Russian text meet in the same Latin key; invisible and full-width characters are cleaned
  first (`views.clean`); look-alikes from other scripts are the TR39 skeleton view (`views.skeleton`);
* leetspeak inside words (h4k3nkr3uz, H@kenkreuz, $wastika, h1tler): only in tokens that mix letters with
  digits or symbols, because a pure number is a number (88 stays 88 — number codes are matched on digits);
* letters spelt apart ("s w a s t i k a", "S.S.", "h-a-k-e-n-k-r-e-u-z"): runs of single characters join;
* repeated letters ("swaaastika", "Hitttler") collapse — except in keys of three characters or fewer,
  where doubles carry meaning (SS, HH); ck/tz/ts are spelt k/z/z ("Hakenkreutz", "Hackenkreuz").
  Age-list words are matched as written instead (`raws`), because collapsing makes "noose" read "nose".
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from anyascii import anyascii

from devserver.safety.memo import Memo
from devserver.safety.views import MARKS, clean, is_latin1

# Symbols read as letters that no transliteration gives (anyascii reads "€" as "EUR"): hand-made leetspeak.
_LEET_SYMBOLS = str.maketrans({"€": "e", "£": "l", "¢": "c", "¡": "i", "©": "c", "®": "r", "¥": "y"})
_UMLAUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_PLAIN = str.maketrans({"ä": "a", "ö": "o", "ü": "u"})
_LEET = str.maketrans("01345789@$!", "oieastbgasi")
# Patterns on prepared (ASCII) text start with one character class, so that the regex engine skips ahead to
# where a match can begin instead of trying every position ("[a-z]+" or a look-behind first would not).
# A token: a decimal number ("14.88", one token, never a code) or a run of letters, digits and leetspeak symbols.
_TOKEN = re.compile(r"[a-z0-9@$!](?:(?<=[0-9])[0-9]*(?:[.,][0-9]+)+|[a-z0-9@$!]*)")
# "hh88", "88er": a word glued to a number at its start or end (digits inside a word are leetspeak: "h31l")
_DIGITS_BLOCK = re.compile(r"^([a-z]+)(\d{2,})$|^(\d{2,})([a-z]+)$")
# A number, or numbers joined by separators ("14/88", "1 4 8 8"); never part of a decimal ("14.88").
_NUMBER_RUN = re.compile(r"[0-9](?<![0-9].)(?<![0-9][.,].)[0-9]*(?:[ /|_\-]+[0-9]+)*(?![0-9]|[.,][0-9])")
_DIGITS = re.compile(r"[0-9]+")
_NEXT_WORD = re.compile(r"[^a-z0-9]*([a-z]+)")
_HAS_DIGIT = re.compile(r"[0-9]").search
_DECIMAL = re.compile(r"[0-9][.,][0-9]").search
# On bytes: a bytes translate and one decode cost less than str.translate on ASCII text.
_SEPARATORS = bytes(c if re.fullmatch(r"[a-z0-9@$!]", chr(c)) else 32 for c in range(256))
_SYMBOLIC = re.compile(r"[0-9@$!]").search  # a token that is more than letters needs `_process`
_NOT_SYMBOLIC = bytes(c for c in range(256) if chr(c) not in "0123456789@$!")  # deleted: digits and symbols stay
# Two single characters in a row ("s w a", "S.S."): only then is joining needed.
_TWO_SINGLES = re.compile(r"[^a-z0-9@$!][a-z0-9@$!][^a-z0-9@$!]+[a-z0-9@$!](?![a-z0-9@$!])").search  # on " " + text
_SHORT = 3  # keys this short keep their doubled letters


def prepare(text: str) -> str:
    """Return the text casefolded and in ASCII: cleaned (see `views.clean`), umlauts as digraphs, other
    diacritics dropped, leetspeak symbols read as letters, other scripts transliterated (anyascii)."""
    return prepare_clean(clean(text))


def prepare_clean(cleaned: str) -> str:
    """Return `prepare` of a text that `views.clean` has already cleaned."""
    folded = cleaned.casefold()
    if folded.isascii():
        return folded
    plain = folded.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")  # German text: umlauts (ß casefolds)
    if plain.isascii():
        return plain
    if is_latin1(folded):  # other Latin-1 letters: one table lookup a character
        return folded.translate(_LATIN1)
    # Nothing below reaches across a space (a space composes with no mark), so each space-separated piece is
    # prepared once: texts repeat their words.
    return " ".join(map(_prepare_piece, folded.split(" ")))


@lru_cache(maxsize=1 << 15)
def _prepare_piece(piece: str) -> str:
    if piece.isascii():
        return piece
    composed = unicodedata.normalize("NFC", piece).translate(_UMLAUT).translate(_LEET_SYMBOLS)
    stripped = MARKS.sub("", unicodedata.normalize("NFD", composed))
    if stripped.isascii():  # Latin text with diacritics: no transliteration needed
        return stripped
    return _NON_ASCII.sub(_transliterate, stripped).casefold()


_NON_ASCII = re.compile(r"[^\x00-\x7f][^\x00-\x7f]*")


def _latin1_table() -> dict[int, str]:
    """Return what `prepare_clean` makes of each casefolded Latin-1 letter on its own (ä → ae, é → e, ß → ss),
    so that Latin-1 text (no combining marks can follow: `clean` composed them) needs one translate."""
    table = {}
    for code in range(0x80, 0x100):
        folded = chr(code).casefold()
        if folded != chr(code):  # an upper-case letter: its folded form is looked up instead
            continue
        composed = unicodedata.normalize("NFC", folded).translate(_UMLAUT).translate(_LEET_SYMBOLS)
        stripped = MARKS.sub("", unicodedata.normalize("NFD", composed))
        table[code] = stripped if stripped.isascii() else anyascii(stripped).casefold()
    return table


_LATIN1 = _latin1_table()


@lru_cache(maxsize=20_000)
def _transliterate_run(run: str) -> str:
    return anyascii(run)


def _transliterate(match: re.Match[str]) -> str:
    """Transliterate one run of non-ASCII characters (a word, usually: prompts repeat them, hence the cache)."""
    return _transliterate_run(match.group())


def _sound_alike(text: str) -> str:
    """Spell alike what sounds alike: umlaut digraphs as plain vowels ("Rünen" = "Runen"), the German /ts/
    and /k/ one way ("Hakenkreutz", "Hakenkreuts", "Hackenkreuz" agree)."""
    return (text.replace("ae", "a").replace("oe", "o").replace("ue", "u")
            .replace("ck", "k").replace("tz", "z").replace("ts", "z"))


_DOUBLES = tuple(ch * 2 for ch in "abcdefghijklmnopqrstuvwxyz")


def _collapse(text: str) -> str:
    """Collapse runs of a repeated letter to one ("swaaastika" → "swastika"); digits are left alone."""
    for double in _DOUBLES:
        while double in text:
            text = text.replace(double, double[0])
    return text


def fold(word: str) -> str:
    """Return the comparison key of one processed token (sounds unified, repeated letters collapsed)."""
    if len(word) <= _SHORT or not word[0].isalpha():  # short codes keep doubles; numbers stay as written
        return word
    return _collapse(_sound_alike(word))


_KEYS: Memo[str, str] = Memo(fold)  # texts repeat their words


@dataclass
class NumberRun:
    """Digits as written: the numbers of one run and the word that follows the run (for "88 Tasten")."""

    parts: tuple[str, ...]
    next_word: str
    arithmetic: bool = False  # a term of a sum or a product ("14 + 88 = 102", "18 mal 28"): no code


@dataclass
class Tokens:
    """A text as keys: per-token keys, their concatenation with offsets, number runs and 1→l variants."""

    raws: list[str]
    keys: list[str]
    numbers: list[NumberRun] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    _joined: str | None = None
    _starts: list[int] | None = None
    _spaced: str | None = None
    _key_set: set[str] | None = None

    @property
    def joined(self) -> str:
        """Return all keys concatenated (so "haken kreuz" reads as "hakenkreuz")."""
        if self._joined is None:
            self._joined = "".join(self.keys)
        return self._joined

    @property
    def starts(self) -> list[int]:
        """Return the offset in `joined` where each key begins."""
        if self._starts is None:
            offsets, at = [], 0
            for key in self.keys:
                offsets.append(at)
                at += len(key)
            self._starts = offsets
        return self._starts

    def token_at(self, offset: int) -> int:
        """Return the index of the key that contains `offset` of `joined`."""
        return bisect_right(self.starts, offset) - 1

    @property
    def spaced(self) -> str:
        """Return the keys joined by single spaces, padded (for multi-word context phrases)."""
        if self._spaced is None:
            self._spaced = " " + " ".join(self.keys) + " "
        return self._spaced

    def key_set(self) -> set[str]:
        """Return the set of keys (for context-word lookups)."""
        if self._key_set is None:
            self._key_set = set(self.keys)
        return self._key_set


# Inflection endings a word term may carry (German and English); matched by pre-expanding the term keys.
SUFFIXES = ("e", "en", "er", "es", "em", "n", "s", "ern", "ens", "ed", "ing", "d")


def _join_singles(raw: list[str]) -> list[str]:
    """Join runs of single characters: ["s", "w", "a"] → ["swa"] ("ß" casefolds to "ss": one letter too)."""
    out: list[str] = []
    run: list[str] = []
    for tok in raw:
        if len(tok) == 1 or tok == "ss" and run:
            run.append(tok)
            continue
        if run:
            out.append("".join(run))
            run = []
        out.append(tok)
    if run:
        out.append("".join(run))
    return out


def _process(tok: str, out: list[str], alternatives: list[str]) -> None:
    """Append the processed form(s) of one raw token: words as they are, leetspeak decoded, glued numbers split."""
    if tok.isdigit():
        out.append(tok)
        return
    tok = tok.strip("!")
    if not tok:
        return
    glued = _DIGITS_BLOCK.match(tok)
    if glued:
        out.extend(part for part in glued.groups() if part)
        return
    if "." in tok or "," in tok:  # a decimal number (the only token with a mark): no leetspeak, no code
        out.append(tok)
        return
    decoded = tok.translate(_LEET)
    out.append(decoded)
    if "1" in tok:  # 1 stands for l as often as for i
        alternatives.append(tok.replace("1", "l").translate(_LEET))


def tokenize(text: str) -> Tokens:
    """Split a text into comparison keys (see the module docstring)."""
    return tokens_of(prepare(text))


def tokens_of(prepared: str) -> Tokens:
    """Split an already prepared text (see `prepare`) into comparison keys."""
    raws: list[str] = []
    alternatives: list[str] = []
    is_ascii = prepared.isascii()
    if is_ascii:  # byte translations instead of regular-expression scans
        encoded = prepared.encode("ascii")
        symbols = encoded.translate(None, _NOT_SYMBOLIC)
        symbolic, digits = bool(symbols), bool(symbols.translate(None, b"@$!"))
    else:
        symbolic = _SYMBOLIC(prepared) is not None  # digits or leetspeak symbols
        digits = symbolic and _HAS_DIGIT(prepared) is not None
    if is_ascii and not (digits and _DECIMAL(prepared)):  # no decimal: the runs between separators
        found = encoded.translate(_SEPARATORS).decode("ascii").split()
        two_singles = _two_single_tokens(found, prepared)
    else:
        found = _TOKEN.findall(prepared)
        two_singles = _TWO_SINGLES(" " + prepared) is not None
    spelt: list[str] = []  # letters spelt apart keep their doubles as an alternative ("S S r u n e s")
    if two_singles:
        found = _join_singles(found)
        spelt = [tok for tok in found if len(tok) > _SHORT and tok.isalpha() and _collapse(tok) != tok]
    if not symbolic:  # letters only (the common case): every token is a word as it stands
        raws = found
    else:
        for tok in found:
            if tok.isalpha():
                raws.append(tok)
            else:
                _process(tok, raws, alternatives)
    keys = list(map(_KEYS.__getitem__, raws))
    numbers = _number_runs(prepared) if digits else []
    return Tokens(raws=raws, keys=keys, numbers=numbers, alternatives=[fold(a) for a in alternatives] + spelt)


def _two_single_tokens(found: list[str], prepared: str) -> bool:
    """Tell whether two tokens of one character follow each other, by the token lengths as bytes (in C)."""
    try:
        return b"\x01\x01" in bytes(map(len, found))
    except ValueError:  # a token of 256 characters or more
        return _TWO_SINGLES(" " + prepared) is not None


_OPERATOR = r"(?:[+*=:^]|(?<=\s)x(?=\s)|mal|plus|minus|times|geteilt durch|divided by|gleich|equals|hoch)"
_OPERATOR_BEFORE = re.compile(r"(?:^|[\s\d])" + _OPERATOR + r"\s*$")
_OPERATOR_AFTER = re.compile(r"\s*" + _OPERATOR + r"(?:\s|\d|$)")


def _number_runs(prepared: str) -> list[NumberRun]:
    runs = []
    for match in _NUMBER_RUN.finditer(prepared):
        nxt = _NEXT_WORD.match(prepared, match.end())
        arithmetic = bool(_OPERATOR_BEFORE.search(prepared, max(0, match.start() - 16), match.start())
                          or _OPERATOR_AFTER.match(prepared, match.end()))
        runs.append(NumberRun(tuple(_DIGITS.findall(match.group())), nxt.group(1) if nxt else "", arithmetic))
    return runs


def keys_of(phrase: str) -> list[str]:
    """Return the keys of a phrase, exactly as a text containing it would produce them."""
    return tokenize(phrase).keys


def spellings(phrase: str) -> list[Tokens]:
    """Return a term as written, plus without its umlauts if it has any ("Führer" → "fuhrer")."""
    forms = [tokenize(phrase)]
    plain = phrase.casefold().translate(_PLAIN)
    if plain != phrase.casefold():
        forms.append(tokenize(plain))
    return forms
