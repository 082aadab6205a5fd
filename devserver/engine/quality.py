"""The quality gate on every model-written text: is this answer a usable result of its task?

Small models (and sometimes large ones) answer a task with something else: a loop of the same
phrase, a comment about the task ("In this translation, I've…", "Here is…"), the prompt template
echoed back (`INPUT:`), a text far longer or shorter than its input, or — for a translation — the
wrong language, or — for an optimization — a text that no longer names what its input named (the
idea's subject lost on the way to the generator). `review()` strips what can be stripped (a leading
template label, a "Here is …:" preface) and names what cannot; the stage retries once with `STRICT`
settings and otherwise falls back honestly (see stages.py). Pure functions: no model, no I/O. Good
answers pass untouched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from devserver.engine.language import looks_english

# A leading label the template invites the model to repeat ("INPUT:\n\n…", "Translation: …").
LABEL = re.compile(r"^\s*(?:\*\*)?(?:INPUT|OUTPUT|ANSWER|RESULT|TRANSLATION|REWRITTEN TEXT|TEXT|PROMPT|"
                   r"Input|Output|Answer|Result|Translation|Rewritten text|Prompt)\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.UNICODE)
# A one-line preface before the real answer: "Here is the translation:\n\nA fox …".
PREFACE = re.compile(r"^\s*(?:sure[,!.]?\s*)?(?:here(?:'s| is| are)|below is)\b[^\n]{0,120}:\s*\n+", re.IGNORECASE)
# Commentary about the task instead of doing it. Anchored at the start, or naming the template's parts.
META_START = re.compile(
    r"^\s*(?:sure\b|certainly\b|of course\b|as an ai\b|i(?:'m| am) sorry\b|i can(?:not|'t)\b|"
    r"here(?:'s| is| are)\b|in this (?:translation|context|text|version|rewrite|task|prompt)\b|"
    r"the (?:input|context|task|translation|original)\b(?: text)? (?:is|was|has|says|describes|reads)\b|"
    r"i(?:'ve| have) (?:made|added|translated|changed|rewritten|transformed|kept)\b|"
    r"(?:this|the following) (?:is|text is) (?:a |the )?(?:translation|rewritten|transformed)\b)",
    re.IGNORECASE)
META_ANYWHERE = re.compile(r"\b(?:the|this) (?:INPUT|CONTEXT|TASK(?:_INSTRUCTION)?)\b|\bTASK_INSTRUCTION\b|"
                           r"^\s*(?:INPUT|CONTEXT|TASK)\s*:", re.MULTILINE)
META_PHRASE = re.compile(r"\b(?:the|this) (?:original )?input\b|\btranslated into\b|\bin this translation\b|"
                         r"\bthe translation of\b|\bas an ai\b", re.IGNORECASE)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
ECHO_WORDS = 8  # this many consecutive words of the task instruction in an answer = an echo
# Words that name nothing (German and English): the "did the subject survive" check looks past them.
FUNCTION_WORDS = frozenset("""
about above after again against along also among around away back because been before being below
between both could does doing down during each even every from further have having here into just like
made make many more most much must near only other over same should some such than that their them then
there these they this those through under until upon very were what when where which while with within
without would your
aber alle allem allen aller alles also auch auf aus bei beim bin bis dann dass dein deine dem den denn der
des dessen die dies diese diesem diesen dieser dieses doch dort durch eine einem einen einer eines etwas
euch für gegen hat hatte hier ihm ihn ihr ihre ihrem ihren immer ist jede jedem jeden jeder jedes kein
keine mein meine mit nach nicht noch nur oder ohne sehr sein seine seinem seinen sich sie sind über um und
uns unter viel vom von vor wann war waren was weil wenn wer wie wird wo zum zur zwischen
""".split())
STEM = 5  # words agree on their first five letters: "sleeps"/"sleeping", "Fuchs"/"Fuchses"
# The share of the input's naming words an answer must keep, per task (tasks not listed may change them).
KEEP = {"optimization": 0.34}


@dataclass(frozen=True)
class Limits:
    """How far an answer's length (in words) may stray from its input's for one kind of task."""

    low: float  # at least low × input words (floored at 1 word)
    high: float  # at most high × input words + slack
    slack: int


LIMITS = {"translation": Limits(0.4, 2.5, 8), "interception": Limits(0.15, 8.0, 60),
          "optimization": Limits(0.2, 6.0, 60)}
# Settings for the one retry: deterministic, discouraged from loops, and told plainly what to answer.
STRICT_OPTIONS = {"temperature": 0.0, "repeat_penalty": 1.3}
STRICT_NOTE = ("Answer with the result itself only: no introduction, no explanation, no labels, and do not "
               "repeat these instructions.")


@dataclass(frozen=True)
class Review:
    """The gate's finding: the cleaned text and the problems left (empty = usable)."""

    text: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def words(text: str) -> list[str]:
    """Return the lower-cased words of a text."""
    return [w.lower() for w in WORD.findall(text)]


def strip_echo(text: str) -> str:
    """Remove a leading template label or "Here is …:" preface a model put before its answer."""
    previous = None
    while previous != text:
        previous = text
        text = LABEL.sub("", PREFACE.sub("", text, count=1), count=1).strip()
    return text


def repetitive(text: str) -> bool:
    """Tell whether a text loops: a phrase of 3+ words repeated 3+ times, or a line repeated."""
    tokens = words(text)
    lines = [line.strip().lower() for line in text.splitlines() if len(line.split()) >= 3]
    if len(lines) != len(set(lines)):
        return True
    for size in (3, 4, 5, 6):
        seen: dict[tuple[str, ...], int] = {}
        for i in range(len(tokens) - size + 1):
            gram = tuple(tokens[i:i + size])
            seen[gram] = seen.get(gram, 0) + 1
            if seen[gram] >= 3:
                return True
    return False


def echoes(text: str, instruction: str) -> bool:
    """Tell whether the answer repeats a run of ECHO_WORDS words of the task instruction."""
    said = words(instruction)
    if len(said) < ECHO_WORDS:
        return False
    answer = " " + " ".join(words(text)) + " "
    return any(" " + " ".join(said[i:i + ECHO_WORDS]) + " " in answer for i in range(len(said) - ECHO_WORDS + 1))


def length_off(text: str, source: str, kind: str) -> bool:
    """Tell whether the answer's length is far off what the task makes of its input."""
    limits = LIMITS[kind]
    have, had = len(words(text)), max(1, len(words(source)))
    return have < max(1.0, limits.low * had) or have > limits.high * had + limits.slack


def naming_words(text: str) -> set[str]:
    """Return the stems of a text's words that can name something (4+ letters, no function word)."""
    return {w[:STEM] for w in words(text) if len(w) >= 4 and not w.isdigit() and w not in FUNCTION_WORDS}


def lost_subject(text: str, source: str, kind: str) -> bool:
    """Tell whether an answer keeps too few of the words its input names things with.

    Only where the task must keep them (KEEP) and only between texts of the same language: an English
    prompt made from a German text names the same things in other words."""
    share = KEEP.get(kind)
    had = naming_words(source)
    if share is None or not had or looks_english(text) != looks_english(source):
        return False
    return len(had & naming_words(text)) < max(1.0, share * len(had))


def review(text: str, source: str, kind: str, *, instruction: str = "", target: str | None = None) -> Review:
    """Clean one model answer and list what makes it unusable for its task (`kind` is a LIMITS key)."""
    cleaned = strip_echo(text)
    problems: list[str] = []
    if not cleaned:
        problems.append("empty")
    if cleaned and any(p.search(cleaned) for p in (META_START, META_ANYWHERE, META_PHRASE)):
        problems.append("meta_commentary")
    if cleaned and echoes(cleaned, instruction):
        problems.append("template_echo")
    if cleaned and repetitive(cleaned):
        problems.append("repetition")
    if cleaned and length_off(cleaned, source, kind):
        problems.append("length")
    if cleaned and target == "en" and not looks_english(cleaned):
        problems.append("wrong_language")
    if cleaned and lost_subject(cleaned, source, kind):
        problems.append("lost_subject")
    return Review(cleaned, tuple(problems))


def proportional_max_tokens(source: str, factor: float, floor: int, ceiling: int) -> int:
    """Return a token budget proportional to the input (about 1.5 tokens per word), within bounds."""
    return max(floor, min(ceiling, int(len(words(source)) * 1.5 * factor) + floor))
