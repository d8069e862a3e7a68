"""Train the medication tagger (``consult.backends.tagger``) from generated sentences, on CPU.

Generates ``--n`` labelled turns (``consult.extract.synth``, seeded), trains a WordPiece tokenizer on them
and on the lexicon names, trains a small BERT-style token classifier from scratch, scores it on a held-out
generated split (other random streams, and lexicon names never seen in training), and writes
``config.json``, ``model.safetensors`` (fp16), the tokenizer files and ``training_card.json`` to ``--out``.
Deterministic given the seed and the thread count::

    python scripts/train_tagger.py                       # the bundled model (consult/data/models/tagger)
    python scripts/train_tagger.py --n 2000 --epochs 1 --out /tmp/tagger
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast  # noqa: E402

from consult.backends import package_version  # noqa: E402
from consult.backends.tagger import MAX_TOKENS, TokenTagger, bio_labels  # noqa: E402
from consult.extract.lexicon import DrugLexicon  # noqa: E402
from consult.extract.synth import GENERATOR_VERSION, Example, SynthConfig, generate, lexicon_names  # noqa: E402
from consult.extract.tagset import LABELS  # noqa: E402

log = logging.getLogger("train_tagger")

DEFAULT_OUT = REPO / "consult" / "data" / "models" / "tagger"
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_WORD_CHARS = 40


# --------------------------------------------------------------------------- tokenizer
def learn_vocabulary(words: Counter[str], vocab_size: int, min_frequency: int = 2) -> list[str]:
    """WordPiece vocabulary by byte-pair-style merges over word counts, with every tie broken by the pieces'
    text: the same corpus always gives the same vocabulary (the ``tokenizers`` trainers order ties by
    hash maps, which differ from run to run)."""
    types = sorted(words)
    seqs = [[w[0], *("##" + c for c in w[1:])] for w in types]
    counts = [words[w] for w in types]
    vocab = list(SPECIAL) + sorted({sym for seq in seqs for sym in seq})
    known = set(vocab)
    pairs: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for i, seq in enumerate(seqs):
        for pair in pairwise(seq):
            pairs[pair] += counts[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, pair) for pair, c in pairs.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -neg:
            continue  # a stale count: the current one is in the heap too
        if -neg < min_frequency:
            break
        a, b = pair
        merged = a + b[2:]
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
        changed: set[tuple[str, str]] = set()
        for i in sorted(where.pop(pair, ())):
            seq, c = seqs[i], counts[i]
            if not any(x == a and y == b for x, y in pairwise(seq)):
                continue
            for old in pairwise(seq):
                pairs[old] -= c
                changed.add(old)
            out: list[str] = []
            k = 0
            while k < len(seq):
                if k + 1 < len(seq) and seq[k] == a and seq[k + 1] == b:
                    out.append(merged)
                    k += 2
                else:
                    out.append(seq[k])
                    k += 1
            seqs[i] = out
            for new in pairwise(out):
                pairs[new] += c
                where.setdefault(new, set()).add(i)
                changed.add(new)
        pairs.pop(pair, None)
        for q in sorted(changed):
            if pairs.get(q, 0) > 0:
                heapq.heappush(heap, (-pairs[q], q))
    return vocab


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """WordPiece (``tokenizers``) on accent-free lower-case text; words, punctuation and digit runs are split
    apart; the vocabulary comes from :func:`learn_vocabulary` over the corpus."""
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=True, lowercase=True
    )
    pre = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(), pre_tokenizers.Digits(individual_digits=False)]
    )
    words: Counter[str] = Counter()
    for text in texts:
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)):
            if len(word) <= MAX_WORD_CHARS:
                words[word] += 1
    vocab = learn_vocabulary(words, vocab_size)
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=MAX_WORD_CHARS))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))]
    )
    return tok


def wrap_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=MAX_TOKENS,
    )


# --------------------------------------------------------------------------- data
def encode(tok: Tokenizer, examples: list[Example], label2id: dict[str, int]) -> list[tuple[list[int], list[int]]]:
    """Token ids and BIO label ids (-100 on [CLS]/[SEP]) of each example, cut at :data:`MAX_TOKENS`."""
    out: list[tuple[list[int], list[int]]] = []
    for ex, enc in zip(examples, tok.encode_batch([e.text for e in examples]), strict=True):
        ids = enc.ids
        labels: list[int] = []
        spans = sorted(ex.spans, key=lambda s: s.start)
        prev_span: object = None
        for (s, e), special in zip(enc.offsets, enc.special_tokens_mask, strict=True):
            if special or e <= s:
                labels.append(-100)
                continue
            span = next((sp for sp in spans if sp.start <= s < sp.end), None)
            if span is None:
                labels.append(label2id["O"])
                prev_span = None
                continue
            labels.append(label2id[("I-" if span is prev_span else "B-") + span.label])
            prev_span = span
        if len(ids) > MAX_TOKENS:
            ids, labels = ids[: MAX_TOKENS - 1] + [ids[-1]], labels[: MAX_TOKENS - 1] + [-100]
        out.append((ids, labels))
    return out


def batches(data: list[tuple[list[int], list[int]]], size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar lengths (less padding), in a random order."""
    order = sorted(range(len(data)), key=lambda i: (len(data[i][0]), rng.random()))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(groups)
    return groups


def collate(data: list[tuple[list[int], list[int]]], idx: list[int]) -> dict[str, torch.Tensor]:
    width = max(len(data[i][0]) for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    for r, i in enumerate(idx):
        x, y = data[i]
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
        labels[r, : len(y)] = torch.tensor(y)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


# --------------------------------------------------------------------------- scores
def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "support": tp + fn}


def evaluate(model: BertForTokenClassification, hf_tok: PreTrainedTokenizerFast, examples: list[Example],
             data: list[tuple[list[int], list[int]]], id2label: list[str]) -> dict[str, Any]:
    """Token-level F1 (label of each non-special token, B/I merged) and span-level F1 (exact character
    spans decoded as the extractor decodes them), per label and micro-averaged."""
    model.eval()
    tok_counts: dict[str, Counter[str]] = {lab: Counter() for lab in LABELS}
    with torch.inference_mode():
        rng = random.Random(0)
        for idx in batches(data, 64, rng):
            b = collate(data, idx)
            pred = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1)
            gold = b["labels"]
            keep = gold != -100
            for g, p in zip(gold[keep].tolist(), pred[keep].tolist(), strict=True):
                gl = id2label[g].split("-", 1)[-1] if g else "O"
                pl = id2label[p].split("-", 1)[-1] if p else "O"
                if gl == pl and gl != "O":
                    tok_counts[gl]["tp"] += 1
                else:
                    if pl != "O":
                        tok_counts[pl]["fp"] += 1
                    if gl != "O":
                        tok_counts[gl]["fn"] += 1
    tagger = TokenTagger(model, hf_tok)
    predicted = tagger.tag([e.text for e in examples])
    span_counts: dict[str, Counter[str]] = {lab: Counter() for lab in LABELS}
    for ex, spans in zip(examples, predicted, strict=True):
        gold = {(s.start, s.end, s.label) for s in ex.spans}
        pred = {(s.start, s.end, s.label) for s in spans}
        for _, _, lab in gold & pred:
            span_counts[lab]["tp"] += 1
        for _, _, lab in pred - gold:
            span_counts[lab]["fp"] += 1
        for _, _, lab in gold - pred:
            span_counts[lab]["fn"] += 1

    def table(counts: dict[str, Counter[str]]) -> dict[str, Any]:
        per = {lab: _prf(c["tp"], c["fp"], c["fn"]) for lab, c in counts.items()}
        total = Counter()
        for c in counts.values():
            total.update(c)
        return {"micro": _prf(total["tp"], total["fp"], total["fn"]), "labels": per}

    no_drug = [spans for ex, spans in zip(examples, predicted, strict=True) if ex.kind == "no_drug"]
    invented = sum(any(s.label == "DRUG" for s in spans) for spans in no_drug)
    return {"token": table(tok_counts), "span": table(span_counts),
            "no_drug_sentences": len(no_drug), "no_drug_sentences_with_a_drug_span": invented}


# --------------------------------------------------------------------------- training
def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    cfg = SynthConfig(seed=args.seed)
    train_ex = generate(cfg, args.n, "train")
    held_ex = generate(cfg, args.heldout, "heldout")
    t_gen = time.perf_counter() - t0
    log.info("generated %d training and %d held-out examples in %.1f s", len(train_ex), len(held_ex), t_gen)

    tok = train_tokenizer([e.text for e in train_ex] + lexicon_names(), args.vocab)
    hf_tok = wrap_tokenizer(tok)
    labels = bio_labels()
    label2id = {lab: i for i, lab in enumerate(labels)}
    train_data = encode(tok, train_ex, label2id)
    held_data = encode(tok, held_ex, label2id)
    log.info("tokenizer: %d pieces; %d training tokens", tok.get_vocab_size(), sum(len(x) for x, _ in train_data))

    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.hidden * 4, max_position_embeddings=MAX_TOKENS,
        type_vocab_size=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id,
    )
    torch.manual_seed(args.seed)
    model = BertForTokenClassification(config)
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = (len(train_data) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs if args.max_steps is None else min(args.max_steps,
                                                                             steps_per_epoch * args.epochs)
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    log.info("model: %d parameters; %d steps", n_params, total)
    t1 = time.perf_counter()
    step = 0
    running = 0.0
    for epoch in range(args.epochs):
        model.train()
        for idx in batches(train_data, args.batch_size, random.Random(f"{args.seed}:{epoch}")):
            if step >= total:
                break
            loss = model(**collate(train_data, idx)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if step % 200 == 0 or step == total:
                log.info("epoch %d step %d/%d loss %.4f (%.0f s)", epoch + 1, step, total, running,
                         time.perf_counter() - t1)
    train_seconds = time.perf_counter() - t1
    scores = evaluate(model, hf_tok, held_ex, held_data, labels)
    log.info("held-out span F1 %.4f, token F1 %.4f", scores["span"]["micro"]["f1"], scores["token"]["micro"]["f1"])

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(str(out), safe_serialization=True)
    hf_tok.save_pretrained(str(out))
    for f in out.iterdir():
        if f.is_file():
            f.chmod(0o644)  # safetensors writes 0600: package data must be readable by all
    weights = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    card = {
        "model": "consult tagger: BERT-style token classifier trained from scratch on generated sentences",
        "seed": args.seed,
        "n": args.n,
        "heldout": args.heldout,
        "epochs": args.epochs,
        "steps": step,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "threads": args.threads,
        "architecture": {"hidden": args.hidden, "layers": args.layers, "heads": args.heads,
                         "intermediate": args.hidden * 4, "vocab": tok.get_vocab_size(), "parameters": n_params,
                         "max_tokens": MAX_TOKENS, "weights": "float16"},
        "generator_version": GENERATOR_VERSION,
        "generator_settings": asdict(cfg),
        "generator_hash": cfg.fingerprint(),
        "lexicon_entries": len(DrugLexicon.load().entries),
        "labels": list(LABELS),
        "heldout_scores": scores,
        "train_seconds": round(train_seconds, 1),
        "generate_seconds": round(t_gen, 1),
        "weights_sha256": weights,
        "versions": {"torch": torch.__version__, "transformers": package_version("transformers"),
                     "tokenizers": package_version("tokenizers")},
    }
    (out / "training_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    log.info("saved to %s (%.2f MB); training %.0f s", out, size / 1e6, train_seconds)
    return card


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=13, help="generator and training seed (default 13).")
    p.add_argument("--n", type=int, default=30000, help="generated training examples (default 30000).")
    p.add_argument("--heldout", type=int, default=2000, help="generated held-out examples (default 2000).")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT}).")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8000, help="WordPiece vocabulary size.")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2).")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from transformers.utils import logging as hf_logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    hf_logging.disable_progress_bar()
    card = train(parse_args(argv))
    span = card["heldout_scores"]["span"]
    print(json.dumps({"span_f1": span["micro"]["f1"],
                      "per_label": {k: v["f1"] for k, v in span["labels"].items()},
                      "token_f1": card["heldout_scores"]["token"]["micro"]["f1"],
                      "train_seconds": card["train_seconds"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
