"""Speaker counting and DER of the offline diariser on real voices: LibriSpeech dialogues spliced with exact RTTM.

    .venv/bin/python benchmarks/eval_librispeech.py [--set dev|blind] [--json out.json] [--save DIR]
    .venv/bin/python benchmarks/eval_librispeech.py --set dev --similarities   # same/different-speaker cosines

Data: ../shared/data/speech/librispeech (CC BY 4.0; train-clean-100: 251 speakers, one utterance each;
test-other: 5 speakers, 10 utterances each). The split is fixed in benchmarks/split.json: DEV dialogues are
built only from the dev speakers (train-clean-100 "dev" + test-other), BLIND dialogues only from the blind ones.

How a dialogue is spliced (seeded, ``random.Random("librispeech:<set>:<seed>")``):
- each speaker's material (one utterance; two for the multi-utterance test-other speakers) is trimmed of
  leading and trailing silence by frame energy (20 ms frames, speech = above the utterance's 10th percentile
  + 15 dB and within 45 dB of its peak), then cut at its longest internal pauses (>= 0.15 s) into 2-3 turns
  (each >= 1 s), so that each speaker speaks several times;
- turns are interleaved round-robin (never the same speaker twice in a row), separated by 0.2-1.0 s of silence;
- half of the dialogues pair speakers of the same sex (SPEAKERS.TXT); about 40 % hold a back-channel: a
  pause-bounded piece (0.25-0.95 s) of another speaker's utterance inserted at a pause inside one turn,
  with silence around it (a "mm-hm" while the other speaks), cut away from that speaker's own turns;
- the RTTM is exact: each turn from its first to its last speech frame.

Scoring: pyannote.metrics DER, collar 0.5 s total (+-0.25 s), accumulated over the set; speaker count right
when the diariser finds as many speakers as the reference has; the diariser runs with the pipeline's default
bounds (consult.config.DiarisationOptions: min 1, max 4).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "speech" / "librispeech"
SPLIT = Path(__file__).resolve().parent / "split.json"
SR = 16_000
HOP = 160  # 10 ms
FRAME = 320  # 20 ms


@dataclass
class Dialogue:
    id: str
    audio: np.ndarray
    turns: list[tuple[float, float, str]]  # (start, end, speaker), exact
    speakers: list[str]
    sexes: list[str]
    backchannel: bool = False
    same_sex: bool = field(init=False)

    def __post_init__(self) -> None:
        self.same_sex = len(set(self.sexes)) == 1

    @property
    def duration(self) -> float:
        return len(self.audio) / SR


def read_sexes(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in ("train-clean-100", "test-other"):
        for line in (root / part / "SPEAKERS.TXT").read_text(encoding="utf-8").splitlines():
            if line.startswith(";") or "|" not in line:
                continue
            f = [x.strip() for x in line.split("|")]
            out[f[0]] = f[1]
    return out


def utterances(root: Path, speaker: str) -> list[Path]:
    """The speaker's utterance files, sorted: test-other speakers have a folder, train-clean-100 one file."""
    folder = root / "test-other" / speaker
    if folder.is_dir():
        return sorted(folder.glob("*.flac"))
    return sorted((root / "train-clean-100").glob(f"{speaker}-*.flac"))


def speech_mask(x: np.ndarray) -> np.ndarray:
    """10 ms frames that carry speech: 20 ms energy above the 10th percentile + 15 dB, within 45 dB of the peak."""
    n = max(0, (len(x) - FRAME) // HOP + 1)
    if n == 0:
        return np.zeros(0, bool)
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    db = 10 * np.log10(np.mean(np.square(x[idx].astype(np.float64)), axis=1) + 1e-10)
    thr = max(np.percentile(db, 10) + 15.0, db.max() - 45.0)
    return db > thr


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def pieces(x: np.ndarray, min_pause: float = 0.15) -> list[tuple[int, int]]:
    """Speech stretches of ``x`` (sample indices) separated by pauses of at least ``min_pause`` s; runs of
    speech shorter than 60 ms (clicks) are ignored."""
    sp = [(a, b) for a, b in runs(speech_mask(x)) if b - a >= 6]
    out: list[tuple[int, int]] = []
    for a, b in sp:
        s, e = a * HOP, min(len(x), b * HOP + FRAME)
        if out and s - out[-1][1] < min_pause * SR:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def cut_turns(ps: list[tuple[int, int]], n: int) -> list[list[tuple[int, int]]]:
    """Group consecutive pieces into ``n`` turns, cutting at the longest pauses that leave every turn >= 1 s."""
    if n <= 1 or len(ps) < 2:
        return [ps]
    gaps = sorted(range(1, len(ps)), key=lambda i: -(ps[i][0] - ps[i - 1][1]))
    cuts: list[int] = []
    for g in gaps:
        trial = sorted([*cuts, g])
        bounds = [0, *trial, len(ps)]
        if all(ps[bounds[j + 1] - 1][1] - ps[bounds[j]][0] >= SR for j in range(len(bounds) - 1)):
            cuts = trial
        if len(cuts) == n - 1:
            break
    bounds = [0, *cuts, len(ps)]
    return [ps[bounds[j]: bounds[j + 1]] for j in range(len(bounds) - 1)]


def _load(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32")
    if sr != SR:
        raise SystemExit(f"{path}: {sr} Hz, expected {SR}")
    return x


def build_dialogue(root: Path, did: str, speakers: list[str], sexes: dict[str, str], rng: random.Random,
                   backchannel: bool) -> Dialogue | None:
    """One dialogue of ``speakers`` (see the module docstring); None when a speaker has too little speech."""
    mats: dict[str, list[tuple[np.ndarray, list[tuple[int, int]]]]] = {}
    for spk in speakers:
        files = utterances(root, spk)
        chosen = rng.sample(files, min(len(files), 2 if len(files) > 1 else 1))
        mats[spk] = [(x, pieces(x)) for x in (_load(f) for f in chosen)]
    # back-channel: a short pause-bounded piece of a speaker other than the first, cut from its own material
    bc: tuple[str, np.ndarray] | None = None
    if backchannel:
        for spk in rng.sample(speakers[1:], len(speakers) - 1):
            for m, (x, ps) in enumerate(mats[spk]):
                for j in (len(ps) - 1, 0):
                    if len(ps) > 2 and 0.25 * SR <= ps[j][1] - ps[j][0] <= 0.95 * SR:
                        bc = (spk, x[ps[j][0]: ps[j][1]])
                        mats[spk][m] = (x, ps[:j] + ps[j + 1:])
                        break
                if bc:
                    break
            if bc:
                break
    # each speaker's turns: (audio, speech pieces in it); pauses shorter than the cut stay inside a turn
    Turn = tuple[np.ndarray, list[tuple[int, int]]]
    turns_of: dict[str, list[Turn]] = {}
    for spk in speakers:
        out: list[Turn] = []
        for x, ps in mats[spk]:
            if not ps:
                continue
            n = rng.choice([2, 3]) if len(mats[spk]) == 1 else rng.choice([1, 2])
            for grp in cut_turns(ps, n):
                a0 = grp[0][0]
                out.append((x[a0: grp[-1][1]], [(s - a0, e - a0) for s, e in grp]))
        if sum(len(t[0]) for t in out) < 2 * SR:
            return None
        turns_of[spk] = out
    # round-robin interleaving, the order of speakers shuffled at each round, never the same speaker twice
    order: list[tuple[str, Turn]] = []
    queues = {s: list(t) for s, t in turns_of.items()}
    while any(queues.values()):
        left = [s for s in speakers if queues[s]]
        rng.shuffle(left)
        if order and len(left) > 1 and left[0] == order[-1][0]:
            left.append(left.pop(0))
        for s in left:
            order.append((s, queues[s].pop(0)))
    if bc is not None:
        # insert the back-channel at the longest internal pause of a turn of another speaker
        best: tuple[int, int, int] | None = None  # (turn index, piece index, pause length)
        for i, (s, (a, ps)) in enumerate(order):
            if s == bc[0]:
                continue
            for j in range(1, len(ps)):
                gap = ps[j][0] - ps[j - 1][1]
                if ps[j - 1][1] >= 0.8 * SR and len(a) - ps[j][0] >= 0.8 * SR and (best is None or gap > best[2]):
                    best = (i, j, gap)
        if best is None:
            bc = None
        else:
            i, j, _ = best
            s, (a, ps) = order[i]
            cut = (ps[j - 1][1] + ps[j][0]) // 2
            b = bc[1]
            order[i: i + 1] = [(s, (a[:cut], ps[:j])), (bc[0], (b, [(0, len(b))])),
                               (s, (a[cut:], [(u - cut, v - cut) for u, v in ps[j:]]))]
    # render with 0.2-1.0 s pauses; reference turns from the first to the last speech sample of each turn
    chunks: list[np.ndarray] = [np.zeros(int(rng.uniform(0.3, 0.8) * SR), np.float32)]
    ref: list[tuple[float, float, str]] = []
    pos = len(chunks[0])
    for k, (s, (a, ps)) in enumerate(order):
        ref.append(((pos + ps[0][0]) / SR, (pos + ps[-1][1]) / SR, s))
        chunks.append(a)
        pos += len(a)
        pause = np.zeros(int(rng.uniform(0.2, 1.0) * SR if k + 1 < len(order) else 0.5 * SR), np.float32)
        chunks.append(pause)
        pos += len(pause)
    return Dialogue(id=did, audio=np.concatenate(chunks).astype(np.float32), turns=ref, speakers=speakers,
                    sexes=[sexes.get(s, "?") for s in speakers], backchannel=bc is not None)


def pool(root: Path, which: str) -> list[str]:
    split = json.loads(SPLIT.read_text(encoding="utf-8"))["librispeech"]
    out = []
    for part in ("train-clean-100", "test-other"):
        out += [s for s in split[part][which] if utterances(root, s)]
    return out


def build_set(root: Path, which: str, *, n2: int = 30, n3: int = 20, n1: int = 10,
              seed: int = 0) -> list[Dialogue]:
    """``n2`` two-speaker and ``n3`` three-speaker dialogues of the ``which`` speakers (half same-sex), then
    ``n1`` single-speaker recordings (one voice cut into turns with pauses: one voice must stay one)."""
    sexes = read_sexes(root)
    speakers = pool(root, which)
    by_sex: dict[str, list[str]] = {"F": [], "M": []}
    for s in speakers:
        by_sex.setdefault(sexes.get(s, "?"), []).append(s)
    rng = random.Random(f"librispeech:{which}:{seed}")
    out: list[Dialogue] = []
    for k in [2] * n2 + [3] * n3 + [1] * n1:
        i = len(out)
        while True:
            if k == 1:
                d = build_dialogue(root, f"{which}-1spk-{i:02d}", [rng.choice(speakers)], sexes, rng, False)
                if d is not None:
                    out.append(d)
                    break
                continue
            same = i % 2 == 0
            if same:
                sex = rng.choice(["F", "M"])
                chosen = rng.sample(by_sex[sex], k)
            else:
                chosen = [rng.choice(by_sex["F"]), rng.choice(by_sex["M"])]
                rest = [s for s in speakers if s not in chosen]
                chosen += rng.sample(rest, k - 2)
                if len({sexes[s] for s in chosen}) == 1:
                    continue
                rng.shuffle(chosen)
            d = build_dialogue(root, f"{which}-{k}spk-{i:02d}", chosen, sexes, rng, backchannel=rng.random() < 0.4)
            if d is not None:
                out.append(d)
                break
    return out


def write_rttm(path: Path, uri: str, turns: list[tuple[float, float, str]]) -> None:
    path.write_text("".join(f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
                            for s, e, spk in turns), encoding="utf-8")


def similarities(dialogues: list[Dialogue], diariser) -> dict:  # type: ignore[no-untyped-def]
    """Cosine similarity of resemblyzer embeddings of whole reference turns (and of 1.6 s windows), same
    speaker vs different speakers, over the set's dialogues (same-sex different pairs apart)."""
    from resemblyzer import VoiceEncoder  # noqa: F401  (the diariser has loaded it)

    enc = diariser._encoder
    stats: dict[str, list[float]] = {"same_turn": [], "diff_turn": [], "diff_turn_same_sex": []}
    for d in dialogues:
        embs, who = [], []
        for s, e, spk in d.turns:
            if e - s < 1.0:
                continue
            embs.append(enc.embed_utterance(d.audio[int(s * SR): int(e * SR)]))
            who.append(spk)
        sex = dict(zip(d.speakers, d.sexes, strict=True))
        for i in range(len(embs)):
            for j in range(i + 1, len(embs)):
                c = float(embs[i] @ embs[j])
                if who[i] == who[j]:
                    stats["same_turn"].append(c)
                else:
                    stats["diff_turn"].append(c)
                    if sex[who[i]] == sex[who[j]]:
                        stats["diff_turn_same_sex"].append(c)
    q = (1, 5, 10, 25, 50, 75, 90, 95, 99)
    return {k: {"n": len(v), **{f"p{p}": round(float(np.percentile(v, p)), 3) for p in q}}
            for k, v in stats.items() if v}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--librispeech", type=Path, default=DEFAULT)
    ap.add_argument("--set", choices=("dev", "blind"), default="dev")
    ap.add_argument("--two", type=int, default=30, help="two-speaker dialogues (default 30)")
    ap.add_argument("--three", type=int, default=20, help="three-speaker dialogues (default 20)")
    ap.add_argument("--one", type=int, default=10, help="single-speaker recordings (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--save", type=Path, default=None, help="write each dialogue as FLAC + RTTM here")
    ap.add_argument("--similarities", action="store_true",
                    help="print same/different-speaker cosine similarity percentiles instead of diarising")
    args = ap.parse_args(argv)
    if not (args.librispeech / "train-clean-100" / "SPEAKERS.TXT").exists():
        print(f"no LibriSpeech data in {args.librispeech}", file=sys.stderr)
        return 2
    import warnings

    warnings.filterwarnings("ignore", message="'uem' was approximated")
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from consult.backends.offline_diar import OfflineDiariser
    from consult.config import DiarisationOptions

    dialogues = build_set(args.librispeech, args.set, n2=args.two, n3=args.three, n1=args.one, seed=args.seed)
    diariser = OfflineDiariser()
    if args.similarities:
        print(json.dumps(similarities(dialogues, diariser), indent=1))
        return 0
    opts = DiarisationOptions()
    metric = DiarizationErrorRate(collar=0.5, skip_overlap=False)
    rows = []
    t_all = time.perf_counter()
    total_audio = 0.0
    total_diar = 0.0
    print(f"{'dialogue':18s} {'sex':5s} {'bc':2s} {'dur':>5s} {'ref':>3s} {'hyp':>3s} {'DER':>6s}")
    for d in dialogues:
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            sf.write(args.save / f"{d.id}.flac", d.audio, SR)
            write_rttm(args.save / f"{d.id}.rttm", d.id, d.turns)
        t0 = time.perf_counter()
        turns = diariser.diarise(d.audio, num_speakers=opts.num_speakers, min_speakers=opts.min_speakers,
                                 max_speakers=opts.max_speakers)
        secs = time.perf_counter() - t0
        total_audio += d.duration
        total_diar += secs
        r, h = Annotation(uri=d.id), Annotation(uri=d.id)
        for i, (s, e, spk) in enumerate(d.turns):
            r[Segment(s, e), i] = spk
        for i, t in enumerate(turns):
            h[Segment(t.start, t.end), i] = t.speaker
        c = metric(r, h, detailed=True)
        row = {"id": d.id, "speakers": d.speakers, "sexes": "".join(d.sexes), "same_sex": d.same_sex,
               "backchannel": d.backchannel, "duration_s": round(d.duration, 1), "ref_speakers": len(d.speakers),
               "hyp_speakers": len(h.labels()), "der": round(c["diarization error rate"], 4),
               "scored_s": round(c["total"], 2), "errors_s": round(c["missed detection"] + c["false alarm"]
                                                                   + c["confusion"], 2),
               "seconds": round(secs, 2)}
        rows.append(row)
        print(f"{d.id:18s} {row['sexes']:5s} {'bc' if d.backchannel else '':2s} {d.duration:5.1f} "
              f"{row['ref_speakers']:3d} {row['hyp_speakers']:3d} {row['der']:6.3f}", flush=True)

    def summary(sel: list[dict]) -> dict:
        if not sel:
            return {"n": 0}
        scored = sum(r["scored_s"] for r in sel)
        return {"n": len(sel), "der": round(sum(r["errors_s"] for r in sel) / max(scored, 1e-9), 4),
                "count_ok": sum(r["hyp_speakers"] == r["ref_speakers"] for r in sel),
                "count_acc": round(sum(r["hyp_speakers"] == r["ref_speakers"] for r in sel) / len(sel), 3)}

    out = {"set": args.set, "all": summary(rows),
           "one": summary([r for r in rows if r["ref_speakers"] == 1]),
           "two": summary([r for r in rows if r["ref_speakers"] == 2]),
           "three": summary([r for r in rows if r["ref_speakers"] == 3]),
           "two_three": summary([r for r in rows if r["ref_speakers"] > 1]),
           "same_sex": summary([r for r in rows if r["same_sex"] and r["ref_speakers"] > 1]),
           "different_sex": summary([r for r in rows if not r["same_sex"]]),
           "backchannel": summary([r for r in rows if r["backchannel"]]),
           "audio_s": round(total_audio, 1), "diarisation_s": round(total_diar, 2),
           "wall_s": round(time.perf_counter() - t_all, 1)}
    for k in ("all", "one", "two", "three", "two_three", "same_sex", "different_sex", "backchannel"):
        s = out[k]
        if s["n"]:
            print(f"{args.set:5s} {k:13s} n={s['n']:3d}  DER {100 * s['der']:5.2f} %  "
                  f"count {s['count_ok']}/{s['n']} ({100 * s['count_acc']:.0f} %)")
    print(f"diarised {total_audio / 60:.1f} min of audio in {total_diar:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({**out, "dialogues": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
