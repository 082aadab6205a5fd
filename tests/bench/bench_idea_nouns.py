"""Does a German idea survive translation → interception → optimization on the embedded model?

For 13 ideas (three from issue 13, ten more) count how many still name the idea's main noun (German or
English) after each stage, and how many stage texts the quality gate would call echo or commentary.

    before   the model's raw answers with the chunk settings of before the gate (no repetition
             penalty, no stop sequences, fixed token budgets), translation always attempted
    gate     the gate and the small-model settings, translation still attempted by the model
    default  what the app does on the embedded demo model: the gate, and the original text kept

Run: `LOCAL_THREADS=1 .venv/bin/python tests/bench/bench_idea_nouns.py [--ideas 13] [--modes before,gate,default]`.
Prints a table; asserts nothing. The same seeds are used in every mode.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import MODEL_ROLES, Config  # noqa: E402
from devserver.backends.local import MODEL, LocalLlamaBackend  # noqa: E402
from devserver.engine import quality, stages  # noqa: E402
from devserver.schemas.catalog import Catalog  # noqa: E402

IDEAS = [
    ("Ein Fuchs im Schnee unter dem Vollmond", ("fuchs", "fox")),
    ("Eine Katze schläft auf dem warmen Dach", ("katze", "cat")),
    ("Ein Leuchtturm am stürmischen Meer", ("leuchtturm", "lighthouse")),
    ("Ein Drache fliegt über die Stadt", ("drache", "dragon")),
    ("Ein Roboter gießt die Blumen im Garten", ("roboter", "robot")),
    ("Der Bäcker backt ein riesiges Brot", ("brot", "bread")),
    ("Ein Pferd galoppiert am Strand", ("pferd", "horse")),
    ("Eine Eule sitzt im dunklen Wald", ("eule", "owl")),
    ("Ein Schiff segelt durch den Nebel", ("schiff", "ship")),
    ("Ein Baum voller goldener Äpfel", ("baum", "tree")),
    ("Ein Elefant spielt Geige im Zirkus", ("elefant", "elephant")),
    ("Eine Burg aus Sand am Meer", ("burg", "castle")),
    ("Ein Hund liest ein Buch im Bett", ("hund", "dog")),
]
MODES = ("before", "gate", "default")
NEW_SETTINGS = ("repeat_penalty", "stop")


def keeps(text: str, noun: tuple[str, str]) -> bool:
    """Tell whether a text names the noun in either language."""
    return any(word in text.lower() for word in noun)


def shown_bad(text: str, source: str, kind: str) -> bool:
    """Tell whether the gate calls a shown text echo or commentary."""
    return bool({"meta_commentary", "template_echo"} & set(quality.review(text, source, kind).problems))


def raw(chat: Any, chunk: Any, parts: stages.PromptParts) -> str:
    """The model's answer as before the gate: chunk settings without the small-model additions."""
    options = {k: v for k, v in chunk.parameters.sent().items() if k not in NEW_SETTINGS}
    return stages.call_chunk(chat, chunk, parts, options).text


def flow(mode: str, chat: Any, catalog: Catalog, idea: str) -> list[tuple[str, str, str]]:
    """Run the three stages in one mode; return (kind, input, output) per stage."""
    translate, manipulate, optimize = (catalog.chunk(n) for n in ("translate", "manipulate", "optimize"))
    context = catalog.interception("bauhaus").context.get("en")
    output_chunk = catalog.output_chunk("sd35_large")
    instruction = output_chunk.optimization_instruction.get("en")
    if mode == "before":
        t = raw(chat, translate, stages.PromptParts(translate.task_instruction, "Target language: English", idea))
        i = raw(chat, manipulate, stages.PromptParts(manipulate.task_instruction, context, t))
        o = raw(chat, optimize, stages.PromptParts(optimize.task_instruction, instruction, i))
    else:
        t = stages.translate(chat, translate, idea, reliable=mode == "gate").text
        i = stages.intercept(chat, manipulate, context, t).text
        o = stages.optimize(chat, optimize, output_chunk, i, "en", reliable=mode == "gate").text
    return [("translation", idea, t), ("interception", t, i), ("optimization", i, o)]


def main() -> None:
    """Print the table of kept nouns per stage and mode."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ideas", type=int, default=len(IDEAS))
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    config = Config.from_env()
    backend = LocalLlamaBackend.from_config(config)
    catalog = Catalog(config.SCHEMAS_DIR, MODEL_ROLES).load()

    def chat(role, messages, options, json_schema=None, on_token=None):
        return backend.chat(messages, MODEL, {**options, "seed": 42})

    ideas = IDEAS[: args.ideas]
    print(f"{len(ideas)} ideas, model {MODEL}, threads {config.LOCAL_THREADS}")
    print("| mode | noun after translation | after interception | after optimization | echo/commentary shown | s |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        started = time.perf_counter()
        kept, bad = [0, 0, 0], 0
        for idea, noun in ideas:
            for index, (kind, source, text) in enumerate(flow(mode, chat, catalog, idea)):
                kept[index] += keeps(text, noun)
                bad += shown_bad(text, source, kind)
        seconds = time.perf_counter() - started
        n = len(ideas)
        print(f"| {mode} | {kept[0]}/{n} | {kept[1]}/{n} | {kept[2]}/{n} | {bad}/{3 * n} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
