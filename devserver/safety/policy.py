"""The safety policy of one app: compiled term filter plus the verifier's texts, loaded once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import ROOT
from devserver.safety.filter import TermFilter
from devserver.safety.terms import PolicyFile, load_terms, read_model

DEFAULT_DIR = ROOT / "schemas" / "safety"


@dataclass(frozen=True)
class SafetyPolicy:
    """Everything the checkpoints need that comes from data: the filter and the verifier's texts."""

    filter: TermFilter
    texts: PolicyFile

    def negative_prompt(self, level: str) -> str:
        """Return the level's default negative prompt for generators."""
        return self.texts.negative_prompts[level]  # type: ignore[index]


def load_policy(directory: Path | None = None) -> SafetyPolicy:
    """Read `policy.json` and the term lists it names; raise ConfigError on any problem."""
    directory = directory or DEFAULT_DIR
    texts = read_model(directory / "policy.json", PolicyFile)
    assert isinstance(texts, PolicyFile)
    return SafetyPolicy(filter=TermFilter(load_terms(directory, texts)), texts=texts)
