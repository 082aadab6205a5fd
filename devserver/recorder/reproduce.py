"""Reproduce a recorded run: re-send every recorded backend call and say, per step, whether it matches.

The proof that a record holds everything needed: each model call item carries `metadata.chat_request`
(the model reference, the messages, the options as the pipeline passed them and the JSON schema)
and `answer_sha256`; each media item carries the prompt, negative prompt, seed, its output config
and the SHA-256 of every file; one that started from a picture names that file of the record
(checked by its SHA-256) and the denoise strength. Re-sending them with the same model and seed must
give the same answer — it does for the embedded llama.cpp model with `LLM_SEED` set (see the tests) and for the
offline sketch; a cloud model may differ, which the report shows per step.

Safety verdicts of the fast filter are deterministic functions of the text and are not re-run here.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from devserver.backends.base import ChatResult, MediaFile, MediaRequest, MediaResult, sha256_text

ChatModelFn = Callable[..., ChatResult]  # router.chat_model(model_ref, messages, options, json_schema)
GenerateFn = Callable[[dict[str, Any]], MediaResult]  # item metadata → the regenerated media
ImageFn = Callable[[str, str], MediaFile]  # (run id, file name) → a recorded picture


@dataclass
class Step:
    """The outcome of re-sending one recorded call."""

    sequence: int
    item_type: str
    kind: str  # "chat" or "media"
    model: str
    outcome: str  # "identical", "different" or "failed"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chat_step(item: dict[str, Any], chat_model: ChatModelFn) -> Step:
    meta = item["metadata"]
    request = meta["chat_request"]
    step = Step(item["sequence"], item["item_type"], "chat", request["model_ref"], "failed")
    try:
        result = chat_model(request["model_ref"], request["messages"], request.get("options") or {},
                            request.get("json_schema"))
    except Exception as exc:  # a backend that is gone is a finding, not a crash of the report
        step.detail = f"{type(exc).__name__}: {exc}"[:300]
        return step
    same = sha256_text(result.text) == meta.get("answer_sha256")
    step.outcome = "identical" if same else "different"
    if not same:
        step.detail = f"now: {result.text[:120]!r}"
    return step


def _media_step(item: dict[str, Any], generate: GenerateFn) -> Step:
    meta = item["metadata"]
    step = Step(item["sequence"], item["item_type"], "media", f"{meta.get('backend')}/{meta.get('model_used')}",
                "failed")
    try:
        result = generate(meta)
    except Exception as exc:
        step.detail = f"{type(exc).__name__}: {exc}"[:300]
        return step
    recorded = [f.get("sha256") for f in meta.get("files") or []]
    now = [hashlib.sha256(f.data).hexdigest() for f in result.files]
    step.outcome = "identical" if recorded == now else "different"
    if recorded != now:
        step.detail = f"{len(now)} file(s), hashes differ"
    return step


def reproducible(item: dict[str, Any]) -> str | None:
    """Return "chat" or "media" when the item records a call that can be re-sent, else None."""
    meta = item.get("metadata") or {}
    if isinstance(meta.get("chat_request"), dict) and meta["chat_request"].get("messages") and meta.get("answer_sha256"):
        return "chat"
    if item.get("item_type", "").startswith("output_") and meta.get("files") and all(
            f.get("sha256") for f in meta["files"]):
        return "media"
    return None


def reproduce(events: Iterable[dict[str, Any]], chat_model: ChatModelFn, generate: GenerateFn | None) -> list[Step]:
    """Re-send every reproducible call of a run's items in order and report each."""
    steps = []
    for item in events:
        kind = reproducible(item)
        if kind == "chat":
            steps.append(_chat_step(item, chat_model))
        elif kind == "media" and generate is not None:
            steps.append(_media_step(item, generate))
    return steps


def media_request(meta: dict[str, Any], chunk: Any, defaults: dict[str, Any],
                  load_image: ImageFn | None = None) -> MediaRequest:
    """Rebuild the media request of a recorded output item: what was sent, else the config's `defaults`.

    An item that started from a picture names it (`input_image`, `<run_id>/<file>`) with the SHA-256
    of what the backend received; `load_image` reads that file of the record, and a file that is gone
    or changed since is an error, not a silently different run."""
    sent = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
    values = {name: sent.get(name, defaults.get(name)) for name in ("width", "height", "steps", "cfg", "duration")}
    return MediaRequest(prompt=meta.get("prompt") or sent.get("prompt") or "", chunk=chunk,
                        negative_prompt=meta.get("negative_prompt") or "", seed=meta.get("seed"),
                        denoise=meta.get("denoise"), input_image=_picture(meta, sent, load_image), **values)


def _picture(meta: dict[str, Any], sent: dict[str, Any], load_image: ImageFn | None) -> MediaFile | None:
    ref = meta.get("input_image")
    if not ref:
        return None
    if load_image is None:
        raise ValueError(f"the item started from the picture {ref}, and no way to read it was given")
    run_id, _, file = str(ref).rpartition("/")
    picture = load_image(run_id, file)
    recorded = (sent.get("input_image") or {}).get("sha256") if isinstance(sent.get("input_image"), dict) else None
    if recorded and hashlib.sha256(picture.data).hexdigest() != recorded:
        raise ValueError(f"the picture {ref} is not the one the backend received (SHA-256 differs)")
    return picture
