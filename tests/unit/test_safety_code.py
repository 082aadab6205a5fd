"""The code check reads a sketch's strings after constant folding and refuses sketches that load anything.

Each trick builds the same forbidden word at run time; a sketch built the same way from a harmless
word must pass, so the test shows it is the folded value that blocks, not the trick itself.
"""
from __future__ import annotations

import pytest

from devserver.safety.checkpoint import check_code
from devserver.safety.code import read_js
from devserver.safety.policy import load_policy
from devserver.safety.verifier import Verifier


@pytest.fixture(scope="module")
def verifier():
    return Verifier(load_policy(), None, conservative=True)


def sketch(expression: str, before: str = "") -> str:
    return ("function setup() { createCanvas(512, 512) }\n"
            f"function draw() {{ background(240); {before} text({expression}, 20, 40) }}\n")


def codes(word: str) -> str:
    return ", ".join(str(ord(c)) for c in word)


TRICKS = {
    "concatenation": lambda w: f'"{w[:3]}" + "{w[3:6]}" + "{w[6:]}"',
    "template literal": lambda w: f'`{w[:4]}${{"{w[4:7]}"}}{w[7:]}`',
    "fromCharCode": lambda w: f"String.fromCharCode({codes(w)})",
    "fromCodePoint spread": lambda w: f"String.fromCodePoint(...[{codes(w)}])",
    "atob": lambda w: f"atob('{__import__('base64').b64encode(w.encode()).decode()}')",
    "unicode escapes": lambda w: '"' + "".join(f"\\u{ord(c):04x}" for c in w) + '"',
    "hex escapes": lambda w: '"' + "".join(f"\\x{ord(c):02x}" for c in w) + '"',
    "code point escapes": lambda w: '"' + "".join(f"\\u{{{ord(c):x}}}" for c in w) + '"',
    "char codes joined": lambda w: f"[{codes(w)}].map(c => String.fromCharCode(c)).join('')",
    "reversed": lambda w: f'"{w[::-1]}".split("").reverse().join("")',
    "variables": lambda w: "word",
    "+= in steps": lambda w: "acc",
    "percent-encoded": lambda w: "decodeURIComponent('" + "".join(f"%{ord(c):02X}" for c in w) + "')",
}
BEFORE = {
    "variables": lambda w: f'const head = "{w[:5]}"; let word = head + "{w[5:]}";',
    "+= in steps": lambda w: f'let acc = ""; acc += "{w[:4]}"; acc += "{w[4:]}";',
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_each_folding_trick_is_read_as_the_word_it_builds(trick):
    word = "Hakenkreuz"
    code = sketch(TRICKS[trick](word), BEFORE.get(trick, lambda w: "")(word))
    assert word in read_js(code).texts


@pytest.mark.parametrize("trick", sorted(TRICKS))
@pytest.mark.parametrize("level", ["kids", "adult"])
def test_a_forbidden_word_built_at_run_time_is_blocked(verifier, trick, level):
    word = "Hakenkreuz"
    code = sketch(TRICKS[trick](word), BEFORE.get(trick, lambda w: "")(word))
    verdict = check_code(code, level, verifier)
    assert verdict.decision == "block" and verdict.category == "p86a", verdict


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_the_same_trick_with_a_harmless_word_passes(verifier, trick):
    word = "Sonnenblume"
    code = sketch(TRICKS[trick](word), BEFORE.get(trick, lambda w: "")(word))
    assert check_code(code, "kids", verifier).decision == "allow"


@pytest.mark.parametrize("line", [
    'loadImage("https://example.com/cat.png");',
    'loadImage("//example.com/cat.png");',
    'loadImage("cat.png");',
    'loadFont("https://fonts.example/x.ttf");',
    'loadJSON("ht" + "tps://api.example/data.json");',
    'fetch("/api/runs/list");',
    'const x = new XMLHttpRequest();',
    'const w = new WebSocket("wss://example.com");',
    'import("https://cdn.example/lib.js");',
    'createDiv(\'<script src="https://cdn.example/x.js"></script>\');',
    'createDiv(\'<img src="//tracker.example/p.gif">\');',
    'let u = atob("aHR0cHM6Ly9ldmlsLmV4YW1wbGU="); document.location = u;',
    'window["fe" + "tch"]("/api/runs/list");',
    'const get = fetch; get("/api/runs/list");',
    'globalThis.fetch("/api/runs/list");',
])
def test_a_sketch_that_loads_anything_from_outside_is_refused(verifier, line):
    code = sketch('"Hallo"', line)
    verdict = check_code(code, "adult", verifier)
    assert verdict.decision == "block" and "outside" in verdict.teacher_reason, verdict


def test_an_import_statement_is_refused(verifier):
    code = 'import confetti from "https://cdn.example/confetti.js";\n' + sketch('"Hallo"')
    assert check_code(code, "adult", verifier).decision == "block"


def test_inline_data_and_links_in_comments_are_fine(verifier):
    code = sketch('"Hallo"', 'let img = loadImage("data:image/png;base64,iVBORw0KGgo=");'
                              ' // colours from https://p5js.org/reference/')
    assert check_code(code, "kids", verifier).decision == "allow"


def test_a_hostile_sketch_is_checked_quickly_and_without_error(verifier):
    chain = " + ".join(['"a"'] * 3000)
    bomb = '"ab".repeat(1e9)'
    nested = "(" * 400 + '"x"' + ")" * 400
    for expression in (chain, bomb, nested, "String.fromCharCode(1114112, -5)", "atob('%%%')"):
        assert check_code(sketch(expression), "kids", verifier).decision in ("allow", "block")
    cycles = "let a = a + a + a; let b = b + b; b += b + a; let c = [c, c].join(c);"
    assert check_code(sketch("a + b + c", cycles), "kids", verifier).decision == "allow"
