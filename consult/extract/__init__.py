"""Medication extraction: drug lexicon, posology parser, status rules and the rule-based extractor."""

from __future__ import annotations

from consult.extract.extractor import ExtractorOptions, RuleBasedExtractor
from consult.extract.lexicon import DrugLexicon
from consult.extract.posology import Posology, parse_posology
from consult.extract.textinput import parse_text_transcript
from schemas import MedicationLine, Segment


def extract_from_text(text: str, language: str = "fr") -> tuple[list[Segment], list[MedicationLine]]:
    """Parse a text transcript (``DOC:``/``PAT:``/``Doctor:``/``Patient:``/``Médecin :`` lines or plain
    text) and extract its medications."""
    segments, roles = parse_text_transcript(text)
    lines = RuleBasedExtractor().extract(segments, roles=roles, language=language)
    return segments, lines


__all__ = [
    "DrugLexicon",
    "ExtractorOptions",
    "Posology",
    "RuleBasedExtractor",
    "extract_from_text",
    "parse_posology",
    "parse_text_transcript",
]
