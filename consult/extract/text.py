"""Text helpers shared by the extraction modules: offset-preserving folding, tokens, sentences."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
_SENTENCE_END = re.compile(
    # a sentence ends at . ! ? or an ellipsis, but a hesitation's ellipsis followed by a lower-case word goes on
    # ("un comprimé matin... non, pardon, deux comprimés matin et soir": one sentence, corrected)
    r"(?<=[!?])\s+|(?<=[^.]\.)\s+|(?<=^\.)\s+|(?:(?<=\.\.)|(?<=…))\s+(?![a-zà-ÿ])|\s*\n\s*"
)


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    low = c.lower()
    if len(low) != 1:
        low = c
    base = "".join(ch for ch in unicodedata.normalize("NFKD", low) if not unicodedata.combining(ch))
    if len(base) != 1:
        return low
    if base in "’`´":
        return "'"
    if base == "μ":
        return "µ"
    return base


def fold(text: str) -> str:
    """Lower-case and strip accents, keeping one output character per input character.

    Offsets in the folded string are therefore offsets in the original string.
    """
    return "".join(_fold_char(c) for c in text)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def key_of(text: str) -> str:
    """Accent-free lower-case key, alphanumerics separated by single spaces (same rule as the builder)."""
    text = strip_accents(text.lower()).replace("®", " ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Token:
    text: str
    """Folded token text (lower-case, no accent)."""
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Word and number tokens of ``text`` with their offsets (folded text)."""
    folded = fold(text)
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(folded)]


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Split on ``.``/``!``/``?`` followed by a space (not inside numbers like ``1.5``) and on new lines; an
    ellipsis ends a sentence unless a lower-case word follows it (a hesitation inside one)."""
    out: list[Sentence] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            out.append(Sentence(pos, m.start(), text[pos : m.start()]))
        pos = m.end()
    if pos < len(text):
        out.append(Sentence(pos, len(text), text[pos:]))
    return [s for s in out if s.text.strip()]
