"""Offline diarisation that works out of the box: Silero VAD + resemblyzer (GE2E) embeddings + clustering.

1. Silero VAD (the copy shipped inside faster-whisper) finds speech regions.
2. resemblyzer's VoiceEncoder embeds sliding 1.6 s windows inside each region (``rate`` windows a second).
3. Segmentation: a first agglomerative clustering of the windows (cosine, average linkage, cut at
   ``segment_threshold``) and a Viterbi pass cut each region into runs of one provisional label. It may
   over-split a voice; it only has to put the speaker changes somewhere.
4. Counting on longer embeddings: each window's embedding is averaged with its ``average_windows``
   neighbours on either side inside its run (about 3.6 s of speech instead of 1.6 s), and only the *core*
   windows, further than ``change_margin`` from a provisional speaker change, are clustered. A single 1.6 s
   window of a real voice is noisy (one LibriSpeech reader's windows spread as far apart as two readers),
   and a window straddling a change is a blend of two voices: such blends used to form a third "speaker"
   at turn changes. A new speaker needs a cluster of core windows that stays apart up to
   ``count_threshold`` and holds at least ``min_cluster`` windows; smaller clusters are outliers.
   ``num_speakers`` fixes the count, ``min_speakers``/``max_speakers`` bound it. Long inputs cluster an
   evenly spaced subsample of at most ``max_cluster_windows`` windows (bounded memory).
5. Every window (1.6 s, not averaged: boundaries stay sharp) is given to the nearest centroid and the
   centroids refined (k-means style); labels are smoothed by a Viterbi pass (cosine similarity to each
   centroid, a penalty per speaker change) and turned into turns; very short turns are merged into their
   neighbours and pauses shorter than ``fill_gap`` inside one speaker's speech are closed.

Constants were set on dev data only (benchmarks/split.json): 60 spliced LibriSpeech dialogues of the dev
readers (benchmarks/eval_librispeech.py: 30 two-speaker, 20 three-speaker, 10 one-speaker, half same-sex),
the 8 dev AMI excerpts (benchmarks/eval_ami.py --split dev), the generated consultations
(audio_fixtures) and 15 single voices (each fixture voice alone; the 5 LibriSpeech test-other readers, 10
utterances from several chapters each).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from consult.backends import package_version
from consult.errors import ModelLoadError, StageError
from consult.interfaces import ProgressHook
from schemas import ModelInfo, SpeakerTurn

log = logging.getLogger(__name__)

SR = 16_000
_VAD_CHUNK = 300  # seconds of audio per VAD call
_WIN = 160  # mel frames (10 ms) per embedding window: resemblyzer's 1.6 s partial


@dataclass(frozen=True)
class OfflineDiarOptions:
    window_rate: float = 4.0
    """Embedding windows per second (each window is 1.6 s long)."""
    min_turn: float = 0.4
    """Turns shorter than this (s) are merged into a neighbour."""
    segment_threshold: float = 0.34
    """Average-linkage cosine distance at which the first clustering of 1.6 s windows is cut (step 3). Was
    the speaker-count threshold before (it over-counted real voices: LibriSpeech dev 46/60 counts right);
    as a segmenter it may over-split, so the value matters little (0.30 and 0.40 give the same dev counts)."""
    count_threshold: float = 0.26
    """Average-linkage cosine distance between clusters of averaged core windows above which they are two
    speakers (step 4). LibriSpeech dev, speakers right (DER): 0.22: 55/60 (2.9 %), 0.24: 59/60 (1.9 %),
    0.26: 60/60 (1.8 %), 0.28: 59/60 (2.6 %), 0.30: 58/60 (2.7 %); the fixtures stay 0.0 % and the 15
    single voices one speaker from 0.26 to 0.28 (0.24 split one test-other reader whose chapters differ);
    AMI dev 25.8 % from 0.24 to 0.30. Same-speaker windows averaged over 3.6 s part at <= 0.24 (90th
    percentile of a reader's dendrogram top, dev), different readers at >= 0.35 (10th percentile)."""
    average_windows: int = 4
    """Each window is averaged with this many neighbours on either side, inside its run (step 4): 9 windows,
    3.6 s of speech. LibriSpeech dev counts right at the best threshold: 2: 60/60, 3: 59/60, 4: 60/60, 6:
    59/60, 8: 59/60; without averaging at most 46/60."""
    change_margin: float = 0.8
    """Windows whose centre is closer than this (s) to a provisional speaker change are left out of the
    count (their 1.6 s may hold both voices); 0.5 and 0.8 give the same dev counts. Without this step, the
    averaged windows at turn changes formed extra speakers (LibriSpeech dev 60/60 -> 43-50/60)."""
    min_cluster: int = 3
    """A speaker needs at least this many windows (and ``min_cluster_frac`` of them); smaller clusters are
    outliers (a breath, a window straddling two voices) assigned to the nearest speaker. Without it, half of
    the single voices cut from the fixtures were split in two."""
    min_cluster_frac: float = 0.01
    refine_iters: int = 5
    """Centroid refinement passes over all windows after clustering."""
    switch_penalty: float = 0.2
    """Viterbi smoothing: cost (in cosine similarity) of a speaker change between neighbouring windows."""
    fill_gap: float = 1.0
    """Pauses shorter than this (s) between two turns of the same speaker are closed: references count the
    pauses inside a turn as speech (fixtures mean DER 4.3 % -> 0.5 %, AMI 28.0 % -> 25.6 %)."""
    max_cluster_windows: int = 2000
    """At most this many windows go through agglomerative clustering (O(n^2) memory); longer inputs cluster
    every k-th window."""
    vad_min_silence_ms: int = 300
    """A pause this long ends a speech region (windows never straddle one). 150 keeps more interjections
    that follow a short pause, but changed AMI's speaker count (DER 24.8 % -> 26.4 %)."""
    vad_threshold: float = 0.25
    """Silero speech probability threshold. 0.25 rather than Silero's 0.5: far-field meeting speech (AMI) is
    missed at 0.5 (accumulated DER 36.6 % -> 28.0 %) and the generated consultations improve too (mean DER
    5.7 % -> 4.3 %); benchmarks/eval_ami.py."""


class OfflineDiariser:
    """Diariser back-end with no downloads: Silero VAD + resemblyzer + scipy clustering."""

    def __init__(self, *, device: str = "cpu", options: OfflineDiarOptions | None = None) -> None:
        self.options = options or OfflineDiarOptions()
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation warning
                from resemblyzer import VoiceEncoder
            self._encoder = VoiceEncoder(device="cpu" if device == "auto" else device, verbose=False)
            # warm up librosa's mel filters and the LSTM once here, not on the first file
            self._embed(np.zeros(SR * 2, np.float32) + 1e-4, [(0.0, 2.0)], None)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load the resemblyzer voice encoder ({type(exc).__name__}: {exc}); "
                "pip install resemblyzer 'setuptools<81'."
            ) from exc

    def model_info(self) -> list[ModelInfo]:
        return [
            ModelInfo(stage="diarisation-vad", name="silero-vad (faster-whisper)",
                      version=package_version("faster-whisper")),
            ModelInfo(stage="diarisation-embedding", name="resemblyzer GE2E 256-d",
                      version=package_version("resemblyzer")),
            ModelInfo(stage="diarisation-clustering", name="agglomerative cosine + centroid refinement (scipy)",
                      version=package_version("scipy")),
        ]

    # -- stages ---------------------------------------------------------------------------------------
    @staticmethod
    def speech_regions(audio: np.ndarray, threshold: float = 0.25, *,
                       min_silence_ms: int = 300) -> list[tuple[float, float]]:
        """Silero speech regions (s): ``threshold`` on the speech probability, pauses from ``min_silence_ms``
        split regions, regions padded by 120 ms, shorter than 200 ms dropped."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        opts = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=120,
                          min_speech_duration_ms=200)
        stamps = get_speech_timestamps(audio, opts)
        return [(s["start"] / SR, s["end"] / SR) for s in stamps]

    def _regions(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Speech regions of ``audio``, found ``_VAD_CHUNK`` seconds at a time (Silero's batched input is a
        copy of the whole signal: about 700 MB for an hour); regions cut by a chunk edge are joined."""
        step = _VAD_CHUNK * SR
        regions: list[tuple[float, float]] = []
        for a in range(0, len(audio), step):
            for s, e in self.speech_regions(audio[a: a + step], self.options.vad_threshold,
                                            min_silence_ms=self.options.vad_min_silence_ms):
                s, e = s + a / SR, e + a / SR
                if regions and s - regions[-1][1] < 0.05:
                    regions[-1] = (regions[-1][0], e)
                else:
                    regions.append((s, e))
        return regions

    def _embed(self, audio: np.ndarray, regions: list[tuple[float, float]],
               hook: ProgressHook | None) -> tuple[np.ndarray, np.ndarray]:
        """Return (embeddings [n, 256], window centres [n] in seconds).

        Mel frames (10 ms) of every speech region are cut into 160-frame windows (1.6 s, resemblyzer's
        partial length) every ``1/window_rate`` s. Windows go through the encoder in batches of 256 as they
        are cut (one LSTM pass per batch; only the embeddings are kept). A region shorter than a window is
        embedded at its own length, cut down to a multiple of 100 ms so that such regions batch together
        (zero padding would feed the LSTM silence last and blur the voice: short interjections were lost).
        """
        import torch
        from resemblyzer.audio import wav_to_mel_spectrogram

        step = max(1, int(round(100 / self.options.window_rate)))
        batch = 256  # one LSTM call per batch: smaller batches are several times slower on CPU
        pending: list[np.ndarray] = []
        pending_idx: list[int] = []
        short: dict[int, list[tuple[int, np.ndarray]]] = {}
        done_idx: list[np.ndarray] = []
        done_emb: list[np.ndarray] = []
        centres: list[float] = []
        total = sum(e - s for s, e in regions) or 1.0
        seen = 0.0

        def run(mels: list[np.ndarray], idx: list[int]) -> None:
            with torch.inference_mode():
                x = torch.from_numpy(np.stack(mels)).to(self._encoder.device)
                done_emb.append(self._encoder(x).cpu().numpy().astype(np.float32))
            done_idx.append(np.asarray(idx))

        for start, end in regions:
            seen += end - start
            wav = audio[int(start * SR): int(end * SR)]
            if len(wav) < int(0.25 * SR):
                continue
            mel = wav_to_mel_spectrogram(wav)  # (frames, 40)
            n = len(mel)
            if n < _WIN:
                short.setdefault(n // 10 * 10, []).append((len(centres), mel[: n // 10 * 10]))
                centres.append((start + end) / 2.0)
                continue
            offsets = list(range(0, n - _WIN + 1, step))
            if offsets[-1] != n - _WIN:
                offsets.append(n - _WIN)
            for o in offsets:
                pending.append(mel[o: o + _WIN])
                pending_idx.append(len(centres))
                centres.append(start + (o + _WIN / 2) / 100.0)
                if len(pending) >= batch:
                    run(pending, pending_idx)
                    pending, pending_idx = [], []
                    if hook:
                        hook("diarisation", 0.1 + 0.8 * min(1.0, seen / total))
        if pending:
            run(pending, pending_idx)
        for items in short.values():
            for k in range(0, len(items), batch):
                part = items[k: k + batch]
                run([m for _, m in part], [i for i, _ in part])
        if not centres:
            return np.zeros((0, 256), np.float32), np.zeros(0)
        embs = np.empty((len(centres), 256), np.float32)
        for idx, emb in zip(done_idx, done_emb, strict=True):
            embs[idx] = emb
        return embs, np.asarray(centres)

    # -- clustering -----------------------------------------------------------------------------------
    def _cluster(self, embs: np.ndarray, num: int | None, lo: int, hi: int, *,
                 threshold: float | None = None, count: np.ndarray | None = None,
                 count_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (labels [n] in 0..k-1, centroids [k, d] unit-norm) for the windows ``embs``.

        The agglomerative step (cut at ``threshold``, default ``segment_threshold``) runs on ``count`` (the
        averaged embeddings, default ``embs``) restricted to ``count_mask``, at most ``max_cluster_windows``
        of them (every ``stride``-th); all windows ``embs`` are then assigned to the nearest centroid and
        the centroids refined on them."""
        n = len(embs)
        x = _unit(embs)
        if n == 0:
            return np.zeros(0, int), np.zeros((0, embs.shape[1]), np.float32)
        if n < 2 or num == 1 or hi <= 1:
            return np.zeros(n, int), _unit(x.mean(0, keepdims=True))
        xc = x if count is None else _unit(count)
        if count_mask is not None and int(count_mask.sum()) >= 2:
            xc_sel = xc[count_mask]
        else:
            xc_sel = xc
        stride = max(1, -(-len(xc_sel) // self.options.max_cluster_windows))
        t = self.options.segment_threshold if threshold is None else threshold
        cents = self._ahc_centroids(xc_sel[::stride], num, lo, hi, t)
        labels = np.argmax(xc @ cents.T, axis=1)
        least = num or lo  # refinement may not drop speakers below what was asked for
        for _ in range(self.options.refine_iters):
            keep = np.unique(labels)
            if len(keep) < min(least, len(cents)):
                break
            cents = _unit(np.stack([x[labels == k].mean(0) for k in keep]))
            new = np.argmax(x @ cents.T, axis=1)
            if len(np.unique(new)) < min(least, len(cents)):
                break
            same = np.array_equal(keep[new], labels)
            labels = new
            if same:
                break
        keep, labels = np.unique(labels, return_inverse=True)
        cents = _unit(np.stack([x[labels == k].mean(0) for k in range(len(keep))]))
        log.debug("%d clusters from %d windows (clustered %d)", len(cents), n, len(xc_sel[::stride]))
        return labels, cents

    def _ahc_centroids(self, x: np.ndarray, num: int | None, lo: int, hi: int, threshold: float) -> np.ndarray:
        """Average-linkage clustering of unit vectors ``x``; centroids of the speaker-sized clusters.

        The count is ``num``, else the number of clusters holding at least ``min_cluster`` windows (and
        ``min_cluster_frac`` of them) when the tree is cut at ``threshold``, bounded by [lo, hi]."""
        from scipy.cluster.hierarchy import fcluster, linkage

        n = len(x)
        one = _unit(x.mean(0, keepdims=True))
        if n < 2:
            return one
        z = linkage(x, method="average", metric="cosine")
        min_size = max(self.options.min_cluster, int(round(self.options.min_cluster_frac * n)))

        def big(labels: np.ndarray) -> list[int]:
            """Cluster ids of ``labels`` with enough windows, largest first."""
            ks, counts = np.unique(labels, return_counts=True)
            order = np.argsort(-counts, kind="stable")
            return [int(ks[i]) for i in order if counts[i] >= min_size]

        if num is not None:
            target = num
        else:
            found = len(big(fcluster(z, threshold, "distance")))
            target = max(lo, min(hi, max(1, found)))
        target = min(target, n)
        if target <= 1:
            return one
        # the coarsest cut of the tree with ``target`` speaker-sized clusters; small ones are outliers
        for k in range(target, min(n, target + 200) + 1):
            labels = fcluster(z, k, "maxclust")
            keep = big(labels)
            if len(keep) >= target:
                keep = keep[:target]
                break
        else:  # not enough big clusters (asked for more speakers than the audio holds): plain cut
            labels = fcluster(z, target, "maxclust")
            keep = [int(k) for k in np.unique(labels)]
        if len(keep) < 2:
            return one
        return _unit(np.stack([x[labels == k].mean(0) for k in keep]))

    def _count_view(self, embs: np.ndarray, centres: np.ndarray, regions: list[tuple[float, float]],
                    seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(averaged embeddings [n, d], core mask [n]) for counting, from the provisional labels ``seg``.

        A run is a stretch of consecutive windows of one region with one provisional label (windows are in
        time order). Each window is averaged with up to ``average_windows`` neighbours on either side inside
        its run; it is core when no provisional change (a run boundary inside the same region) lies within
        ``change_margin`` seconds of its centre."""
        n = len(embs)
        x = _unit(embs)
        rid = np.searchsorted(np.asarray([s for s, _ in regions]), centres, side="right") - 1
        new_run = np.ones(n, bool)
        new_run[1:] = (rid[1:] != rid[:-1]) | (seg[1:] != seg[:-1])
        run = np.cumsum(new_run) - 1
        starts = np.flatnonzero(new_run)
        ends = np.append(starts[1:], n)
        s, e = starts[run], ends[run]  # each window's run [s, e)
        idx = np.arange(n)
        k = self.options.average_windows
        csum = np.vstack([np.zeros((1, x.shape[1]), np.float64), np.cumsum(x, axis=0, dtype=np.float64)])
        avg = _unit((csum[np.minimum(idx + k + 1, e)] - csum[np.maximum(idx - k, s)]).astype(np.float32))
        # a run boundary is a change when the neighbouring run is in the same region
        left_change = (s > 0) & (rid[np.maximum(s - 1, 0)] == rid)
        right_change = (e < n) & (rid[np.minimum(e, n - 1)] == rid)
        left_at = np.where(left_change, (centres[np.maximum(s - 1, 0)] + centres[s]) / 2, -np.inf)
        right_at = np.where(right_change, (centres[np.minimum(e, n - 1)] + centres[e - 1]) / 2, np.inf)
        margin = self.options.change_margin
        core = (centres - left_at > margin) & (right_at - centres > margin)
        return avg, core

    def _assign(self, embs: np.ndarray, centres: np.ndarray, regions: list[tuple[float, float]],
                num: int | None, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps 3-5 of the module docstring: provisional runs, count on averaged core windows, labels."""
        seg, seg_cents = self._cluster(embs, None, 1, max(hi, 2))
        seg = self._smooth(embs, seg, seg_cents, centres)
        if num == 1 or hi <= 1 or len(embs) < 2:
            return self._cluster(embs, num, lo, hi)
        avg, core = self._count_view(embs, centres, regions, seg)
        labels, cents = self._cluster(embs, num, lo, hi, threshold=self.options.count_threshold,
                                      count=avg, count_mask=core)
        return self._smooth(embs, labels, cents, centres), cents

    # -- smoothing and turns --------------------------------------------------------------------------
    def _smooth(self, x: np.ndarray, labels: np.ndarray, cents: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Viterbi over each stretch of windows (no gap over 1 s): similarity to centroids minus a penalty
        per speaker change: a short run of windows keeps its own speaker only when it is clearly closer to it."""
        if len(cents) < 2 or len(labels) < 2:
            return labels
        sims = _unit(x) @ cents.T
        pen = self.options.switch_penalty
        out = labels.copy()
        breaks = np.flatnonzero(np.diff(centres) >= 1.0) + 1
        for seg in np.split(np.arange(len(labels)), breaks):
            if len(seg) < 2:
                continue
            s = sims[seg]
            k = s.shape[1]
            score = s[0].copy()
            back = np.zeros((len(seg), k), int)
            for t in range(1, len(seg)):
                stay = score
                j = int(np.argmax(score))
                switch = score[j] - pen
                back[t] = np.where(stay >= switch, np.arange(k), j)
                score = np.maximum(stay, switch) + s[t]
            path = np.zeros(len(seg), int)
            path[-1] = int(np.argmax(score))
            for t in range(len(seg) - 1, 0, -1):
                path[t - 1] = back[t, path[t]]
            out[seg] = path
        return out

    def _to_turns(self, regions: list[tuple[float, float]], centres: np.ndarray,
                  labels: np.ndarray) -> list[tuple[float, float, int]]:
        turns: list[tuple[float, float, int]] = []
        for start, end in regions:
            i0 = int(np.searchsorted(centres, start, side="left"))
            i1 = int(np.searchsorted(centres, end, side="right"))
            if i1 <= i0:
                # too short to embed: nearest window's label
                if len(centres) == 0:
                    continue
                j = int(np.argmin(np.abs(centres - (start + end) / 2)))
                turns.append((start, end, int(labels[j])))
                continue
            cs = centres[i0:i1]
            ls = labels[i0:i1]
            bounds = [start] + [float((cs[i] + cs[i + 1]) / 2) for i in range(len(cs) - 1)] + [end]
            for i, lab in enumerate(ls):
                s, e = bounds[i], bounds[i + 1]
                if turns and turns[-1][2] == lab and s - turns[-1][1] < 1e-6:
                    turns[-1] = (turns[-1][0], e, int(lab))
                else:
                    turns.append((s, e, int(lab)))
        turns = self._merge_short(turns)
        merged: list[tuple[float, float, int]] = []
        gap = max(0.05, self.options.fill_gap)
        for t in turns:
            if merged and merged[-1][2] == t[2] and t[0] - merged[-1][1] < gap:
                merged[-1] = (merged[-1][0], t[1], t[2])
            else:
                merged.append(t)
        return merged

    def _merge_short(self, turns: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
        """Merge turns shorter than ``min_turn`` into the neighbour that touches them."""
        changed = True
        while changed and len(turns) > 1:
            changed = False
            for i, (s, e, _lab) in enumerate(turns):
                if e - s >= self.options.min_turn:
                    continue
                prev_touch = i > 0 and s - turns[i - 1][1] < 0.05
                next_touch = i + 1 < len(turns) and turns[i + 1][0] - e < 0.05
                if prev_touch:
                    ps, _, pl = turns[i - 1]
                    turns[i - 1] = (ps, e, pl)
                    del turns[i]
                    changed = True
                    break
                if next_touch:
                    _, ne, nl = turns[i + 1]
                    turns[i + 1] = (s, ne, nl)
                    del turns[i]
                    changed = True
                    break
        return turns

    def diarise(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 4,
        hook: ProgressHook | None = None,
    ) -> list[SpeakerTurn]:
        try:
            if hook:
                hook("diarisation", 0.0)
            regions = self._regions(audio)
            if not regions:
                return []
            embs, centres = self._embed(audio, regions, hook)
            labels, cents = self._assign(embs, centres, regions, num_speakers, min_speakers, max_speakers)
            raw = self._to_turns(regions, centres, labels)
        except Exception as exc:
            raise StageError("diarisation", f"{type(exc).__name__}: {exc}") from exc
        # speaker ids in order of first appearance
        order: dict[int, str] = {}
        turns = []
        for s, e, lab in raw:
            if lab not in order:
                order[lab] = f"SPEAKER_{len(order):02d}"
            turns.append(SpeakerTurn(speaker=order[lab], start=round(s, 3), end=round(e, 3)))
        if hook:
            hook("diarisation", 1.0)
        return turns


def channel_turns(channels: np.ndarray, *, crosstalk_db: float = 10.0, above_floor_db: float = 12.0,
                  min_gap: float = 0.8, min_turn: float = 0.2) -> list[SpeakerTurn]:
    """Diarisation of a stereo recording where each channel is one speaker (left SPEAKER_00, right SPEAKER_01).

    Speech is found by Silero VAD on each channel; a 10 ms frame is kept for a channel when that channel is
    not more than ``crosstalk_db`` quieter than the other (what leaks from the other speaker's microphone is
    dropped, overlapping speech is kept on both) and at least ``above_floor_db`` above the channel's noise
    floor (its 10th percentile frame level; the VAD also fires on the leak during the other's pauses).
    Gaps shorter than ``min_gap`` are closed, then turns shorter than ``min_turn`` dropped."""
    try:
        hop = SR // 100
        n = channels.shape[1] // hop
        db = []
        for ch in channels[:2]:
            e = np.square(ch[: n * hop].astype(np.float64)).reshape(n, hop).mean(axis=1)
            db.append(10.0 * np.log10(e + 1e-12))
        # frame energy smoothed over 100 ms so that a pause between syllables does not flip the dominance
        kernel = np.ones(10) / 10.0
        db = [np.convolve(d, kernel, mode="same") for d in db]
        turns: list[SpeakerTurn] = []
        for c in range(2):
            mask = np.zeros(n, bool)
            for start, end in OfflineDiariser.speech_regions(channels[c]):
                mask[int(start * 100): int(end * 100)] = True
            mask &= db[c] >= db[1 - c] - crosstalk_db
            mask &= db[c] >= float(np.percentile(db[c], 10)) + above_floor_db
            edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
            spans = [(s / 100.0, e / 100.0) for s, e in zip(edges[::2], edges[1::2], strict=True)]
            merged: list[tuple[float, float]] = []
            for s, e in spans:
                if merged and s - merged[-1][1] < min_gap:
                    merged[-1] = (merged[-1][0], e)
                else:
                    merged.append((s, e))
            turns += [SpeakerTurn(speaker=f"SPEAKER_{c:02d}", start=round(s, 3), end=round(e, 3))
                      for s, e in merged if e - s >= min_turn]
    except Exception as exc:
        raise StageError("diarisation", f"{type(exc).__name__}: {exc}") from exc
    return sorted(turns, key=lambda t: (t.start, t.speaker))


def _unit(x: np.ndarray) -> np.ndarray:
    unit: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-8)
    return unit
