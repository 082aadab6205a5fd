"""What the fake vision and guard models "see": pictures recognised by their pixels, texts by markers.

A fake vision model describes a picture by its main colour (`describe`), and judges it unsafe when it looks like one in the fake's `unsafe_images`
(tests register the 8x8 thumbnail of a picture the sketch backend renders; the same picture, even
re-encoded as JPEG or scaled, is recognised). A fake guard model finds its verdict in the text it classifies:
`unsafe-S10` (Llama Guard codes, comma-separated: `unsafe-S1,S10`) makes it say unsafe,
`garbage-answer` makes it answer outside its format, anything else is safe.
"""
from __future__ import annotations

import base64
import io
import re
from typing import Any

from PIL import Image

UNSAFE_MARKER = re.compile(r"unsafe-(S\d+(?:,S\d+)*)")
GARBAGE_MARKER = "garbage-answer"


TOLERANCE = 8  # per channel, out of 255: what re-encoding (JPEG) and scaling may change in a thumbnail


def pixel_digest(data: bytes) -> bytes:
    """Return a picture's 8x8 colour thumbnail: it survives re-encoding and scaling; ValueError if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB").resize((8, 8), Image.Resampling.BOX).tobytes()
    except OSError as exc:
        raise ValueError(f"image: unknown format ({exc})") from None


def is_registered(data: bytes, registered: set[bytes]) -> bool:
    """Tell whether a picture looks like one of the registered thumbnails."""
    key = pixel_digest(data)
    return any(max(abs(a - b) for a, b in zip(key, known)) <= TOLERANCE for known in registered)


def decode_b64(value: str) -> bytes:
    """Return the bytes of a base64 string or a base64 data URL."""
    return base64.b64decode(value.split(",", 1)[1] if value.startswith("data:") else value, validate=True)


def image_verdict(images: list[bytes], unsafe: set[bytes]) -> dict[str, Any]:
    """Return our JSON verdict for pictures: unsafe when any of them is a registered unsafe picture."""
    flagged = any(is_registered(data, unsafe) for data in images)
    if flagged:
        return {"safe": False, "category": "violence_graphic", "reason": "The picture shows a violent scene."}
    return {"safe": True, "category": "none", "reason": "A harmless picture."}


COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 210, 40),
           "black": (10, 10, 10), "white": (245, 245, 245), "grey": (128, 128, 128)}


def describe(images: list[bytes]) -> str:
    """Describe pictures as a vision model would, deterministically: by the colour that fills most of the first."""
    pixels = pixel_digest(images[0])
    r, g, b = (sum(pixels[i::3]) // 64 for i in range(3))
    colour = min(COLOURS, key=lambda name: sum((a - c) ** 2 for a, c in zip((r, g, b), COLOURS[name])))
    return f"A picture filled mostly with {colour}. A calm, simple composition with soft light."


def llama_guard_answer(text: str, images: list[bytes] = (), unsafe: set[bytes] = frozenset()) -> str:
    """Answer as Llama Guard does: `safe`, or `unsafe` and a line of hazard codes (pictures: S1 when registered)."""
    if images:
        return "unsafe\nS1" if any(is_registered(data, unsafe) for data in images) else "safe"
    if GARBAGE_MARKER in text:
        return "I can't help with that request."
    found = UNSAFE_MARKER.search(text)
    return f"unsafe\n{found.group(1)}" if found else "safe"


def shieldgemma_answer(text: str) -> str:
    """Answer as ShieldGemma does: `Yes` (violates a policy) or `No`."""
    if GARBAGE_MARKER in text:
        return "Maybe"
    return "Yes" if UNSAFE_MARKER.search(text) else "No"


# which policy a Llama Guard code of the marker violates (ShieldGemma reads the policy's words)
POLICY_WORDS = {"S1": "violence", "S9": "dangerous", "S10": "hate", "S11": "self-harm", "S12": "sexual"}
_QUESTION = re.compile(r"Human Question: (.*?)\n<end_of_turn>", re.DOTALL)
_POLICY = re.compile(r'^\* "([^"]+)"', re.MULTILINE)


def shieldgemma_policy_answer(prompt: str) -> str:
    """Answer a raw one-policy ShieldGemma prompt: `Yes` when the question's marker names that policy's harm."""
    question, policy = _QUESTION.search(prompt), _POLICY.search(prompt)
    if not question or not policy or "<start_of_turn>model" not in prompt:
        return "I do not understand this prompt."
    said = question.group(1)
    if GARBAGE_MARKER in said:
        return "Maybe"
    found = UNSAFE_MARKER.search(said)
    if not found:
        return "No"
    words = [POLICY_WORDS.get(code) for code in found.group(1).split(",")]
    return "Yes" if any(w and w in policy.group(1).lower() for w in words) else "No"


def shieldgemma_logprobs(answer: str, top: int) -> list[dict[str, Any]]:
    """Return the first token's log-probabilities as Ollama reports them (Yes vs No; neither for other answers)."""
    if answer not in ("Yes", "No"):
        first = {"token": answer.split()[0] if answer.split() else "", "logprob": -0.1}
        return [{**first, "top_logprobs": [first]}]
    yes, no = (-0.05, -3.0) if answer == "Yes" else (-4.0, -0.02)
    alternatives = sorted([{"token": "Yes", "logprob": yes}, {"token": "No", "logprob": no},
                           {"token": "The", "logprob": -9.0}], key=lambda a: -a["logprob"])[:max(1, top)]
    return [{"token": answer, "logprob": max(yes, no), "top_logprobs": alternatives}]
