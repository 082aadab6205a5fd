"""Child-friendly block messages: what happened, why the rule exists, what to try instead (de, en)."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel, model_validator

from devserver.safety.checkpoint import UNCHECKED_BLOCKED, Verdict
from devserver.safety.policy import DEFAULT_DIR
from devserver.safety.terms import CATEGORIES, read_model

LANGS = ("de", "en")
IMAGE_WITHHELD, IMAGE_UNCHECKED = "image_withheld", "image_unchecked"  # a generated picture that failed its check
UPLOAD_WITHHELD, UPLOAD_UNCHECKED = "upload_withheld", "upload_unchecked"  # an uploaded picture that failed it
MESSAGE_CATEGORIES: tuple[str, ...] = (*CATEGORIES, "other", UNCHECKED_BLOCKED, IMAGE_WITHHELD, IMAGE_UNCHECKED,
                                       UPLOAD_WITHHELD, UPLOAD_UNCHECKED)


class MessageText(BaseModel):
    """One message in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    what: str
    why: str
    try_instead: str


class MessageCatalog(RootModel[dict[str, dict[Literal["de", "en"], MessageText]]]):
    """`messages.json`: category → language → message; every category needs every language."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _complete(self) -> "MessageCatalog":
        missing = [f"{c}/{lang}" for c in MESSAGE_CATEGORIES for lang in LANGS if lang not in self.root.get(c, {})]
        unknown = sorted(set(self.root) - set(MESSAGE_CATEGORIES))
        if missing or unknown:
            raise ValueError(f"missing messages: {', '.join(missing) or '-'}; unknown categories: "
                             f"{', '.join(unknown) or '-'}")
        return self

    def get(self, category: str, lang: str) -> dict[str, Any]:
        """Return the message for a category in a language (unknown category → 'other', language → de)."""
        texts = self.root.get(category) or self.root["other"]
        return texts[lang if lang in LANGS else "de"].model_dump()  # type: ignore[index]


def load_messages(directory: Path | None = None) -> MessageCatalog:
    """Read and validate `messages.json` (ConfigError naming the problem)."""
    catalog = read_model((directory or DEFAULT_DIR) / "messages.json", MessageCatalog)
    assert isinstance(catalog, MessageCatalog)
    return catalog


@cache
def _default_catalog() -> MessageCatalog:
    return load_messages()


def message_for(verdict: Verdict, lang: str, catalog: MessageCatalog | None = None) -> dict[str, Any] | None:
    """Return {title, what, why, try_instead} for a blocking verdict, None when the text was allowed."""
    if verdict.decision != "block":
        return None
    return (catalog or _default_catalog()).get(verdict.category, lang)
