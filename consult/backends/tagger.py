"""Medication extraction by a small token classifier (BERT-style encoder trained from scratch on generated
sentences by ``scripts/train_tagger.py``; the bundled one is in ``consult/data/models/tagger``).

The model tags drug names and posology spans (strength, dose, route, frequency, times of day, duration, as
needed, maxima, supply, renewals) in each sentence of each segment (one batched pass). Drug spans are
normalised through the lexicon; a span the lexicon cannot resolve is kept only when the model is sure of
it, it is no everyday word, it sounds like a lexicon name and a posology was tagged for it: then without
ATC code and flagged for review. Posology spans are read by the posology grammar, the status by the status
rules, and mentions are attributed, followed and merged by the steps of
:class:`consult.extract.extractor.RuleBasedExtractor`, given the tagged spans through its public hooks
(``find_drugs``, ``read_posology``). Confidence: model span probability x ASR word
probability x parser certainty.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from rapidfuzz import fuzz, process

from consult.backends import package_version
from consult.config import ExtractionOptions
from consult.errors import ModelLoadError
from consult.extract.core import EvidenceIndex, Field, Mention, Region
from consult.extract.extractor import ExtractorOptions, RuleBasedExtractor
from consult.extract.lexicon import DrugEntry, DrugLexicon, DrugMatch, phonetic_key
from consult.extract.numbers import find_numbers
from consult.extract.posology import bare_strength, parse_posology
from consult.extract.stopwords import STOPWORDS
from consult.extract.tagset import LABELS, ordinary_words
from consult.extract.text import fold, key_of, split_sentences
from consult.resources import packaged_path
from schemas import MedicationLine, ModelInfo, Segment
from schemas.medication import Quantity
from schemas.report import Role

logger = logging.getLogger(__name__)

EXTRACTOR_NAME = "consult-tagger"
BUNDLED_MODEL = "data/models/tagger"
TRAIN_HINT = "train one with `python scripts/train_tagger.py --out FOLDER`"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")

UNKNOWN_DRUG_MIN_PROBABILITY = 0.9
"""A drug span that the lexicon cannot resolve is kept only when the model's probability reaches this..."""
UNKNOWN_DRUG_MIN_SIMILARITY = 92.0
"""...and its phonetic key is this similar (rapidfuzz ratio) to a lexicon name's (a garbled known name)."""
MAX_TOKENS = 128
"""Longest input of the model (position embeddings, training truncation)."""
WINDOW_TOKENS = 64
"""Longest window (tokens, with [CLS] and [SEP]) read at once: the generated training turns are almost all
shorter (99 % under 62 tokens); longer sentences are read in overlapping windows."""
WINDOW_STRIDE = 24
BATCH_SIZE = 64

LABEL_FIELDS: dict[str, tuple[str, ...]] = {
    "STRENGTH": ("strength",),
    "DOSE": ("dose", "form"),
    "ROUTE": ("route",),
    "FREQ": ("frequency", "when"),
    "WHEN": ("when", "frequency"),
    "DURATION": ("duration",),
    "PRN": ("as_needed",),
    "MAX": ("max_per_day", "max_per_intake", "min_interval"),
    "QSP": ("quantity_for",),
    "RENEWAL": ("renewals",),
}
"""Fields that the posology grammar may read in a span of each label."""
_LABEL_ORDER = {label: i for i, label in enumerate(("STRENGTH", "DOSE", "FREQ", "MAX", "QSP", "RENEWAL", "DURATION",
                                                     "PRN", "ROUTE", "WHEN"))}
"""Spans read first win a field: a frequency said in words beats the one implied by the times of day."""
_MASS_OR_VOLUME = {"mg", "g", "ug", "mL", "[iU]", "%"}
_DEMI = re.compile(r"(?i)\b(demi)-")
_HALF_A = re.compile(r"\bhalf an? ")


def bio_labels() -> list[str]:
    """Model classes: ``O`` then ``B-``/``I-`` of each label of :data:`consult.extract.tagset.LABELS`."""
    return ["O"] + [f"{p}-{label}" for label in LABELS for p in ("B", "I")]


@dataclass(frozen=True)
class TaggedSpan:
    """A span ``[start, end)`` of a text that the model tagged, with its mean token probability."""

    start: int
    end: int
    label: str
    probability: float


def _snap(text: str, a: int, b: int) -> tuple[int, int]:
    """Widen ``[a, b)`` to whole words and trim spaces and punctuation at its ends."""
    while 0 < a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while 0 < b < len(text) and text[b - 1].isalnum() and text[b].isalnum():
        b += 1
    while a < b and (text[a].isspace() or text[a] in ",.;:!?…'’\"«»()-"):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] in ",.;:!?…'’\"«»(-"):
        b -= 1
    return a, b


def decode_spans(text: str, tokens: Sequence[tuple[int, int, str, float]]) -> list[TaggedSpan]:
    """Spans of BIO-tagged tokens ``(start, end, tag, probability)`` (sorted, special tokens left out).

    The first piece of a word gives the word its tag; an ``I-`` tag after another label starts a span."""
    spans: list[TaggedSpan] = []
    cur: list[Any] | None = None  # [start, end, label, probabilities]

    def close() -> None:
        if cur is not None:
            a, b = _snap(text, cur[0], cur[1])
            if b > a:
                spans.append(TaggedSpan(a, b, cur[2], sum(cur[3]) / len(cur[3])))

    prev_end = -1
    for start, end, tag, prob in tokens:
        # the first piece of a word decides its label; the other pieces follow it
        inside_word = start == prev_end and 0 < start < len(text) and text[start - 1].isalnum() \
            and text[start].isalnum()
        prev_end = end
        if inside_word:
            if cur is not None:
                cur[1] = end
                cur[3].append(prob)
            continue
        if tag == "O" or "-" not in tag:
            close()
            cur = None
            continue
        prefix, label = tag.split("-", 1)
        if cur is not None and cur[2] == label and prefix == "I":
            cur[1] = end
            cur[3].append(prob)
            continue
        close()
        cur = [start, end, label, [prob]]
    close()
    merged: list[TaggedSpan] = []
    for s in spans:  # a word split into two spans of the same label by the snapping: one span
        if merged and merged[-1].label == s.label and s.start < merged[-1].end:
            prev = merged.pop()
            s = TaggedSpan(prev.start, max(prev.end, s.end), s.label, (prev.probability + s.probability) / 2)
        merged.append(s)
    return merged


# --------------------------------------------------------------------------- model
def bundled_model_dir() -> Path:
    """Folder of the bundled tagger (package data)."""
    return packaged_path(BUNDLED_MODEL)


class TokenTagger:
    """The token classifier and its tokenizer; :meth:`load` reads them from a local folder (never the network)."""

    def __init__(self, model: Any, tokenizer: Any, *, folder: Path | None = None,
                 card: dict[str, Any] | None = None) -> None:
        self.model = model.float().eval()
        self.tokenizer = tokenizer
        id2label = model.config.id2label
        self.id2label = [id2label[i] for i in range(len(id2label))]
        self.folder = folder
        self.card = card or {}

    @classmethod
    def load(cls, folder: str | Path) -> TokenTagger:
        """Model, tokenizer and training card of a folder written by ``scripts/train_tagger.py``;
        :class:`ModelLoadError` (naming the script) when it is missing or not a tagger."""
        from transformers import BertForTokenClassification, PreTrainedTokenizerFast

        folder = Path(folder)
        if not folder.is_dir():
            raise ModelLoadError(
                f"tagger model folder {folder} does not exist: {TRAIN_HINT} (or leave tagger_model unset "
                "to use the bundled model)."
            )
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"tagger model folder {folder} is not a trained tagger (missing {', '.join(missing)}): {TRAIN_HINT}."
            )
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"tagger model folder {folder}: config.json is unreadable ({exc}): "
                                 f"{TRAIN_HINT}.") from exc
        id2label = config.get("id2label") if isinstance(config, dict) else None
        known = set(bio_labels())
        if not isinstance(id2label, dict) or not id2label or any(v not in known for v in id2label.values()):
            raise ModelLoadError(
                f"tagger model folder {folder}: its labels are not consult's tagger labels; {TRAIN_HINT}."
            )
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        # no "Loading weights" bar for a 4 MB model; transformers leaves these two unannotated
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
            model = BertForTokenClassification.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # transformers raises OSError, ValueError, safetensors errors...
            raise ModelLoadError(
                f"tagger model folder {folder} could not be loaded ({type(exc).__name__}): {TRAIN_HINT}."
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated in transformers
        card_path = folder / "training_card.json"
        try:
            card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        except (OSError, ValueError):
            card = {}
        return cls(model, tokenizer, folder=folder, card=card if isinstance(card, dict) else {})

    def tag(self, texts: Sequence[str]) -> list[list[TaggedSpan]]:
        """Tagged spans of each text, batched; a text longer than :data:`WINDOW_TOKENS` tokens is read in
        overlapping windows, each token taking the reading of the window where it has most context."""
        if not texts:
            return []
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=WINDOW_TOKENS,
            stride=WINDOW_STRIDE,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            add_special_tokens=True,
        )
        samples = enc["overflow_to_sample_mapping"]
        windows = list(zip(enc["input_ids"], enc["offset_mapping"], samples, strict=True))
        first = {k for k in range(len(samples)) if k == 0 or samples[k - 1] != samples[k]}
        last = {k for k in range(len(samples)) if k == len(samples) - 1 or samples[k + 1] != samples[k]}
        best: list[dict[int, tuple[int, int, str, float, int]]] = [{} for _ in texts]
        order = sorted(range(len(windows)), key=lambda k: len(windows[k][0]))
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for i in range(0, len(order), BATCH_SIZE):
                batch = order[i : i + BATCH_SIZE]
                width = max(len(windows[k][0]) for k in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for r, k in enumerate(batch):
                    row = windows[k][0]
                    ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
                    mask[r, : len(row)] = 1
                probs = torch.softmax(self.model(input_ids=ids, attention_mask=mask).logits, dim=-1)
                top_p, top_i = probs.max(dim=-1)
                for r, k in enumerate(batch):
                    row, offsets, sample = windows[k]
                    n = len(row)
                    for t in range(n):
                        s, e = offsets[t]
                        if e <= s:
                            continue  # [CLS], [SEP]
                        # context around the token in this window (a text edge is no window edge)
                        margin = min(t if k not in first else n, n - 1 - t if k not in last else n)
                        old = best[sample].get(s)
                        if old is None or margin > old[4]:
                            label = self.id2label[int(top_i[r, t])]
                            best[sample][s] = (s, e, label, float(top_p[r, t]), margin)
        return [
            decode_spans(text, [tok[:4] for tok in sorted(b.values())]) for text, b in zip(texts, best, strict=True)
        ]


# --------------------------------------------------------------------------- posology of a span
def normalise_span(
    label: str, text: str, *, asr: bool = False, strengths: Sequence[str] = ()
) -> list[tuple[str, object, float]]:
    """``(field, value, certainty)`` read by the posology grammar in a tagged span of ``label``.

    A mass said as a dose is the dose; "Doliprane 1000": a bare number that is a marketed strength of the
    drug (``strengths``) is its strength; "deux Doliprane": a bare count tagged as a dose is a dose in
    units of the product (``dose``)."""
    if label not in LABEL_FIELDS:
        return []
    text = _DEMI.sub(r"\1 ", text)  # "un demi-comprimé": same length, the form is read
    pos = parse_posology(text, asr=asr)
    wanted = LABEL_FIELDS[label]
    out = [(name, slot.value, slot.certainty) for name, slot in pos.slots().items() if name in wanted]
    if label == "DOSE" and pos.dose is not None and pos.dose.value.value == 1 and _HALF_A.search(fold(text)):
        out = [("dose", pos.dose.value.model_copy(update={"value": 0.5}), c) if n == "dose" else (n, v, c)
               for n, v, c in out]  # "half a tablet"
    got = {name for name, _, _ in out}
    if label == "STRENGTH" and "strength" not in got:
        if pos.dose is not None and pos.dose.value.unit in _MASS_OR_VOLUME:
            out.append(("strength", pos.dose.value, pos.dose.certainty))
        elif strengths:
            bare = bare_strength(text, 0, len(text), strengths)
            if bare is not None:
                out.append(("strength", bare[0], 0.9))
    elif label == "DOSE" and "dose" not in got:
        if pos.strength is not None:
            out.append(("dose", pos.strength.value, pos.strength.certainty))
        else:
            nums = find_numbers(fold(text), asr_homophones=asr)
            if len(nums) == 1 and 0 < nums[0].value <= 10 and re.fullmatch(r"[\w\s,.-]*", text):
                n = nums[0]
                q = Quantity(value=n.value, value_high=n.value_high, unit="dose")
                out.append(("dose", q, 0.9 * n.certainty))
    elif label == "QSP" and "quantity_for" not in got and pos.duration is not None:
        out.append(("quantity_for", pos.duration.value, pos.duration.certainty))
    elif label == "DURATION" and "duration" not in got and pos.quantity_for is not None:
        out.append(("duration", pos.quantity_for.value, pos.quantity_for.certainty))
    return out


# --------------------------------------------------------------------------- extractor
class _TaggedTranscript:
    """The model's spans over the sentences of one extraction call, and the two hooks of
    :class:`RuleBasedExtractor` they feed: :meth:`find` (the DRUG spans of a sentence, resolved through the
    lexicon) and :meth:`read_posology` (the fields read in the posology spans of a region)."""

    def __init__(self, lexicon: DrugLexicon, tagger: TokenTagger, sentences: Sequence[str]) -> None:
        self._lexicon = lexicon
        self._tagger = tagger
        unique = list(dict.fromkeys(t for t in sentences if t.strip()))
        self._tags: dict[str, list[TaggedSpan]] = dict(zip(unique, tagger.tag(unique), strict=True))
        self._segment_tags: dict[str, list[TaggedSpan]] = {}
        self.unknown: dict[str, tuple[float, str]] = {}
        """Names kept without a lexicon entry: the model's probability and the closest lexicon name."""

    def tags(self, sentence: str) -> list[TaggedSpan]:
        if sentence not in self._tags:
            self._tags[sentence] = self._tagger.tag([sentence])[0]
        return self._tags[sentence]

    def segment_tags(self, text: str) -> list[TaggedSpan]:
        """Tags of every sentence of a segment, in segment offsets."""
        if text not in self._segment_tags:
            self._segment_tags[text] = [
                TaggedSpan(t.start + sent.start, t.end + sent.start, t.label, t.probability)
                for sent in split_sentences(text)
                for t in self.tags(sent.text)
            ]
        return self._segment_tags[text]

    def find(self, text: str) -> list[DrugMatch]:
        out: list[DrugMatch] = []
        for t in self.tags(text):
            if t.label == "DRUG":
                m = self._resolve(text, t)
                if m is not None:
                    out.append(m)
        return out

    def read_posology(self, mention: Mention, region: Region, evidence: EvidenceIndex) -> bool:
        """Fields read in the tagged posology spans that start in the region (a
        :class:`~consult.extract.core.PosologyReader`)."""
        a, b, text = region.start, region.end, region.text
        spans = [t for t in self.segment_tags(text) if t.label != "DRUG" and a <= t.start < b]
        spans.sort(key=lambda t: (_LABEL_ORDER.get(t.label, 99), t.start))
        added = False
        for t in spans:
            for name, value, certainty in normalise_span(
                t.label, text[t.start : t.end], asr=region.asr, strengths=mention.match.entry.strengths
            ):
                if name in mention.fields:
                    continue
                ev = evidence(region.seg_index, t.start, t.end)
                mention.fields[name] = Field(value, ev, certainty * t.probability)
                added = True
        dose = mention.fields.get("dose")
        if dose is not None and isinstance(dose.value, Quantity) and dose.value.unit != "dose":
            for name in ("max_per_day", "max_per_intake"):  # "no more than 2 at a time": the dose's unit
                cur = mention.fields.get(name)
                if cur is not None and isinstance(cur.value, Quantity) and cur.value.unit == "dose":
                    q = cur.value.model_copy(update={"unit": dose.value.unit, "ucum": dose.value.ucum})
                    mention.fields[name] = Field(q, cur.evidence, cur.certainty)
        return added

    def _resolve(self, text: str, span: TaggedSpan) -> DrugMatch | None:
        """The lexicon entry of a DRUG span, or an entry without code when the model is sure of it."""
        said = text[span.start : span.end]
        entry = self._lexicon.lookup_name(said)
        if entry is not None:
            return DrugMatch(entry, span.start, span.end, span.probability, "tagger+exact")
        candidates = [(said, span.start)]
        if re.match(r"[ld][aeiouyéèh]", fold(said)) and len(said) > 6:
            candidates.append((said[1:], span.start + 1))  # "lamoxicilline": the elided article glued
        for cand, off in candidates:
            found = self._lexicon.find(cand)
            if found:
                m = max(found, key=lambda x: (x.end - x.start, x.score))
                if (m.end - m.start) * 2 >= len(cand.strip()):
                    return DrugMatch(m.entry, off + m.start, off + m.end, m.score * span.probability,
                                     f"tagger+{m.method}")
        if span.probability < UNKNOWN_DRUG_MIN_PROBABILITY or not _could_be_a_name(said, self._lexicon):
            return None
        closest = _closest_name(said, self._lexicon)
        if closest is None:
            return None
        name = " ".join(said.split())
        prev = self.unknown.get(name)
        self.unknown[name] = (max(prev[0], span.probability) if prev else span.probability, closest)
        return DrugMatch(DrugEntry(surface=name, key=key_of(name), name=name, kind="tagger"), span.start, span.end,
                         span.probability, "tagger")


def _could_be_a_name(said: str, lexicon: DrugLexicon) -> bool:
    """An unknown drug name has at least four letters and no everyday or stop word in it."""
    words = key_of(said).split()
    if not words or len("".join(words)) < 4 or any(w.isdigit() for w in words):
        return False
    common = ordinary_words()
    return not any(w in STOPWORDS or w in common or w in lexicon.not_drugs for w in words)


@lru_cache(maxsize=2)
def _phonetic_index(lexicon: DrugLexicon) -> dict[str, str]:
    """Phonetic key -> normalised name, over every lexicon entry (approximate lookups of unknown names)."""
    index: dict[str, str] = {}
    for e in lexicon.entries:
        if len(e.key) >= 4:
            index.setdefault(phonetic_key(e.key), e.name)
    return index


def _closest_name(said: str, lexicon: DrugLexicon) -> str | None:
    """The lexicon name that ``said`` sounds like (phonetic keys at least :data:`UNKNOWN_DRUG_MIN_SIMILARITY`
    similar), or None: a name that resembles no known drug is more likely an everyday word than a drug."""
    index = _phonetic_index(lexicon)
    best = process.extractOne(phonetic_key(key_of(said)), list(index), scorer=fuzz.ratio,
                              score_cutoff=UNKNOWN_DRUG_MIN_SIMILARITY)
    return index[best[0]] if best is not None else None


class TaggerExtractor:
    """Medication extractor (:class:`consult.interfaces.MedicationExtractor`) whose drug and posology spans
    come from a token classifier; normalisation, status, attribution and merging are the rule-based ones."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        review_threshold: float = 0.6,
        lexicon: DrugLexicon | None = None,
        tagger: TokenTagger | None = None,
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else DrugLexicon.load()
        self.options = ExtractorOptions(review_threshold=review_threshold)
        self.tagger = tagger or TokenTagger.load(model_dir if model_dir is not None else bundled_model_dir())

    @classmethod
    def from_options(cls, options: ExtractionOptions) -> TaggerExtractor:
        """Build from :class:`ExtractionOptions`: ``tagger_model`` or the bundled model."""
        return cls(options.tagger_model or None, review_threshold=options.review_threshold)

    def model_info(self) -> list[ModelInfo]:
        card = self.tagger.card
        folder = self.tagger.folder.name if self.tagger.folder is not None else "in-memory"
        trained = f"seed{card.get('seed', '?')}+gen{str(card.get('generator_hash', '?'))[:8]}"
        return [
            ModelInfo(
                stage="extraction",
                name=f"{EXTRACTOR_NAME}:{folder}",
                version=f"{trained}+lexicon{len(self.lexicon.entries)}+transformers{package_version('transformers')}",
            )
        ]

    def extract(
        self,
        segments: Sequence[Segment],
        *,
        roles: Mapping[str, Role],
        language: str,
        role_confidence: Mapping[str, float] | None = None,
    ) -> list[MedicationLine]:
        segs = list(segments)
        sentences = [sent.text for seg in segs for sent in split_sentences(seg.text)]
        tagged = _TaggedTranscript(self.lexicon, self.tagger, sentences)  # one batched pass of the model
        run = RuleBasedExtractor(self.lexicon, self.options, find_drugs=tagged.find, read_posology=tagged.read_posology)
        lines: list[MedicationLine] = []
        for line in run.extract(segs, roles=roles, language=language, role_confidence=role_confidence):
            if line.name in tagged.unknown and self.lexicon.lookup_name(line.name) is None:
                if not line.field_evidence:
                    continue  # an unknown word said without any posology: too weak to be a line
                line = self._flag_unknown(line, *tagged.unknown[line.name])
            lines.append(line.model_copy(update={"id": f"med-{len(lines) + 1}"}))
        logger.debug("tagger extracted %d medication lines from %d segments", len(lines), len(segs))
        return lines

    def _flag_unknown(self, line: MedicationLine, probability: float, closest: str) -> MedicationLine:
        reason = f"drug not in the lexicon (tagger probability {probability:.2f}; sounds like {closest})"
        return line.model_copy(
            update={
                "atc": None,
                "needs_review": True,
                "review_reasons": [*line.review_reasons, reason],
                "confidence": min(line.confidence, self.options.review_threshold),
            }
        )


__all__ = ["TaggedSpan", "TaggerExtractor", "TokenTagger", "bio_labels", "bundled_model_dir", "decode_spans",
           "normalise_span"]
