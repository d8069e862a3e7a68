"""Transcription stage on a GPU: consult's transcriber against bare faster-whisper, same audio, model, run.

    python benchmarks/gpu_asr.py --audio fr-10min.flac --model /path/whisper-base \
        [--compute-types float16,int8_float16] [--batch-sizes 0,16] [--repeat 3] [--json out.json] \
        [--random-arch large-v3-turbo]

For every compute type and batch size (0 = sequential), after one warm-up, it times the median of
``--repeat`` runs of (a) consult's speech stage (``consult.transcribe.transcribe_stage``: language given, first
pass with VAD, hallucination guards, windowing and word timestamps, coverage check, second pass for drug names)
and (b) bare ``WhisperModel.transcribe`` / ``BatchedInferencePipeline`` with the same language, beam size and
VAD (faster-whisper's other defaults); it prints wall time, times real time, words, the
ratio ours/bare, and the GPU utilisation and memory sampled by ``nvidia-smi`` every 100 ms during the run.

``--random-arch large-v3-turbo`` also times a *larger architecture* with random weights (no larger Whisper
weights can be fetched on an offline machine): a Hugging Face ``WhisperForConditionalGeneration`` with the
large-v3-turbo dimensions (32 encoder layers, 4 decoder layers, d_model 1280, 128 mel bins) is initialised
randomly, converted to CTranslate2, and decoded with the end-of-text token suppressed and
``max_new_tokens`` set to the mean number of tokens per 30 s window that the real base model produced on
the same audio, no timestamps and no temperature fallback: the compute of a large-v3-turbo pass over this
audio, not its accuracy. The base model is timed the same way in the same run, for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

SR = 16_000


class GpuSampler:
    """``nvidia-smi`` utilisation (%) and memory used (MiB) every 100 ms while active."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        try:
            self._proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 "-lms", "100"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            return self
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                util, mem = (float(x) for x in line.strip().split(",")[:2])
            except ValueError:
                continue
            self.samples.append((util, mem))

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def summary(self) -> dict[str, float | None]:
        if not self.samples:
            return {"gpu_util_mean": None, "gpu_mem_peak_mib": None}
        return {"gpu_util_mean": round(statistics.mean(u for u, _ in self.samples), 1),
                "gpu_mem_peak_mib": max(m for _, m in self.samples)}


def _words(segments: Any) -> tuple[int, int, int]:
    """(words, segments, tokens) of a list of consult or faster-whisper segments (consumes a generator)."""
    words = segs = tokens = 0
    for s in segments:
        segs += 1
        ws = getattr(s, "words", None)
        words += len(ws) if ws else len(str(s.text).split())
        tokens += len(getattr(s, "tokens", None) or [])
    return words, segs, tokens


def timed(fn: Any, repeat: int) -> dict[str, Any]:
    fn()  # warm-up
    walls, last = [], None
    with GpuSampler() as gpu:
        for _ in range(repeat):
            t0 = time.perf_counter()
            last = fn()
            walls.append(time.perf_counter() - t0)
    words, segs, tokens = last
    return {"wall_s": round(statistics.median(walls), 3), "walls": [round(w, 3) for w in walls], "words": words,
            "segments": segs, "tokens": tokens, **gpu.summary()}


ARCHS = {
    # openai/whisper-large-v3-turbo dimensions
    "large-v3-turbo": dict(num_mel_bins=128, d_model=1280, encoder_layers=32, decoder_layers=4,
                           encoder_attention_heads=20, decoder_attention_heads=20, encoder_ffn_dim=5120,
                           decoder_ffn_dim=5120),
    # a tiny one, to check this script's conversion path on a CPU
    "tiny-random": dict(num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128),
}


def random_model(arch: str, out: Path, tokenizer_dir: Path, compute_type: str) -> Path:
    """A randomly initialised Whisper of ``arch``'s dimensions, converted to CTranslate2 in ``out/ct2``."""
    import ctranslate2
    import torch
    from transformers import PreTrainedTokenizerFast, WhisperConfig, WhisperForConditionalGeneration

    dims = ARCHS[arch]
    cfg = WhisperConfig(vocab_size=51865, max_source_positions=1500, max_target_positions=448,
                        decoder_start_token_id=50258, pad_token_id=50257, bos_token_id=50257, eos_token_id=50257,
                        **dims)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(cfg).to(torch.float16)
    hf_dir = out / "hf"
    model.save_pretrained(hf_dir)
    del model

    class Converter(ctranslate2.converters.TransformersConverter):  # type: ignore[misc]
        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: Any, **kwargs: Any) -> Any:
            # same vocabulary as the base model (51,865 tokens): its tokenizer.json
            return PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_dir / "tokenizer.json"),
                                           bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                           unk_token="<|endoftext|>")

    spec_dir = out / "ct2"
    Converter(str(hf_dir), load_as_float16=True).convert(str(spec_dir), quantization=compute_type, force=True)
    base_cfg = json.loads((tokenizer_dir / "config.json").read_text())
    merged = json.loads((spec_dir / "config.json").read_text())
    for key in ("lang_ids", "suppress_ids", "suppress_ids_begin"):
        if key in base_cfg:
            merged[key] = base_cfg[key]
    (spec_dir / "config.json").write_text(json.dumps(merged))
    for name in ("tokenizer.json", "vocabulary.txt"):
        (spec_dir / name).write_bytes((tokenizer_dir / name).read_bytes())
    (spec_dir / "preprocessor_config.json").write_text(json.dumps({
        "feature_size": dims["num_mel_bins"], "n_fft": 400, "hop_length": 160, "chunk_length": 30,
        "sampling_rate": SR}))
    return spec_dir


def speech_windows(audio: np.ndarray, n_mels: int) -> np.ndarray:
    """Log-mel features (windows, n_mels, 3000) of the audio left after Silero VAD, cut in 30 s windows."""
    from faster_whisper.feature_extractor import FeatureExtractor
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(audio, VadOptions())
    speech = np.concatenate([audio[t["start"]:t["end"]] for t in stamps]) if stamps else audio
    fe = FeatureExtractor(feature_size=n_mels)
    n = 30 * SR
    feats = []
    for i in range(0, len(speech), n):
        f = fe(speech[i:i + n], padding=n - len(speech[i:i + n]))[:, :3000]
        feats.append(f)
    return np.stack(feats).astype(np.float32)


def fixed_length_runs(args: argparse.Namespace, audio: np.ndarray, seconds: float) -> list[dict[str, Any]]:
    """Encoder + beam-5 decoder of the base model and of a random ``args.random_arch`` on the same 30 s speech
    windows, each decoding exactly the mean number of tokens the real base model wrote per window."""
    import ctranslate2

    ct = args.compute_types.split(",")[0]
    device = args.device
    prompt_ids = None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        big_dir = random_model(args.random_arch, Path(tmp), args.model, ct)
        build_s = time.perf_counter() - t0
        models = [("base", args.model, 80), (f"{args.random_arch} (random weights)", big_dir,
                                               ARCHS[args.random_arch]["num_mel_bins"])]
        n_tokens = None
        for name, folder, n_mels in models:
            model = ctranslate2.models.Whisper(str(folder), device=device, compute_type=ct)
            feats = speech_windows(audio, n_mels)
            if prompt_ids is None:
                from faster_whisper.tokenizer import Tokenizer
                from tokenizers import Tokenizer as HfTokenizer

                tok = Tokenizer(HfTokenizer.from_file(str(args.model / "tokenizer.json")), True, task="transcribe",
                                language=args.language)
                prompt_ids = [*tok.sot_sequence, tok.no_timestamps]
            if n_tokens is None:  # the real base model's own length per window
                out = model.generate(ctranslate2.StorageView.from_array(feats), [prompt_ids] * len(feats),
                                     beam_size=5)
                n_tokens = min(224, max(8, int(round(statistics.mean(len(r.sequences_ids[0]) for r in out)))))
                print(f"random {args.random_arch} built and converted in {build_s:.0f} s; {len(feats)} windows "
                      f"of speech, {n_tokens} tokens per window (base model, beam 5)")
            for bs in (int(b) for b in args.batch_sizes.split(",")):
                step = bs or 1

                def run(m: Any = model, f: np.ndarray = feats, k: int = step, p: list[int] = prompt_ids,
                        n: int = n_tokens) -> tuple[int, int, int]:
                    lengths = []
                    for i in range(0, len(f), k):
                        part = f[i:i + k]
                        # CTranslate2's Whisper generates max_length / 2 tokens at most (measured): 2 n gives n
                        res = m.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(part)),
                                         [p] * len(part), beam_size=5, max_length=min(448, 2 * n),
                                         suppress_tokens=[-1, 50257])
                        lengths += [len(r.sequences_ids[0]) for r in res]
                    return 0, len(lengths), sum(lengths)

                r = timed(run, args.repeat)
                mode = f"batch {bs}" if bs else "sequential"
                row = {"compute_type": ct, "mode": mode, "impl": f"fixed-length {name}", **r,
                       "x_real_time": round(seconds / r["wall_s"], 1), "tokens_per_window": n_tokens}
                rows.append(row)
                print(f"{ct:13s} {mode:10s} {name:34s} {r['wall_s']:7.2f} s  {row['x_real_time']:6.1f}x  "
                      f"tokens {r['tokens']} in {r['segments']} windows  GPU {r['gpu_util_mean']}%  "
                      f"{r['gpu_mem_peak_mib']} MiB")
            del model
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True, help="CTranslate2 Whisper folder (the bundled base).")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--language", default="fr")
    ap.add_argument("--compute-types", default="float16,int8_float16")
    ap.add_argument("--batch-sizes", default="0,16")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--random-arch", choices=sorted(ARCHS), default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from consult.backends.whisper import FasterWhisperTranscriber
    from consult.config import AsrOptions, Settings
    from consult.transcribe import transcribe_stage

    audio, sr = sf.read(str(args.audio), dtype="float32")
    assert sr == SR and audio.ndim == 1, "give a 16 kHz mono file"
    seconds = len(audio) / SR
    results: dict[str, Any] = {"audio": args.audio.name, "audio_seconds": seconds, "device": args.device,
                               "runs": []}
    print(f"audio {args.audio.name}: {seconds:.0f} s; model {args.model}; device {args.device}")
    for ct in args.compute_types.split(","):
        bare = WhisperModel(str(args.model), device=args.device, compute_type=ct)
        kw: dict[str, Any] = dict(language=args.language, beam_size=5, vad_filter=True)
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            opts = AsrOptions(model=str(args.model), device=args.device, compute_type=ct, batch_size=bs,
                              language=args.language)
            ours = FasterWhisperTranscriber(opts, cache_dir=Path(tempfile.gettempdir()))
            if bs:
                batched = BatchedInferencePipeline(bare)

                def run_bare(b: Any = batched, n: int = bs, k: dict[str, Any] = kw) -> tuple[int, int, int]:
                    return _words(b.transcribe(audio, batch_size=n, **k)[0])
            else:
                def run_bare(m: Any = bare, k: dict[str, Any] = kw) -> tuple[int, int, int]:
                    return _words(m.transcribe(audio, **k)[0])

            settings = Settings(asr=opts)

            def run_ours(t: Any = ours, st: Settings = settings) -> tuple[int, int, int]:
                return _words(transcribe_stage(t, st, audio, language=args.language).segments)

            r_bare = timed(run_bare, args.repeat)
            r_ours = timed(run_ours, args.repeat)
            mode = f"batch {bs}" if bs else "sequential"
            for impl, r in (("consult", r_ours), ("bare", r_bare)):
                row = {"compute_type": ct, "mode": mode, "impl": impl, **r,
                       "x_real_time": round(seconds / r["wall_s"], 1)}
                results["runs"].append(row)
                print(f"{ct:13s} {mode:10s} {impl:8s} {r['wall_s']:7.2f} s  {row['x_real_time']:6.1f}x  "
                      f"words {r['words']:5d}  GPU {r['gpu_util_mean']}%  {r['gpu_mem_peak_mib']} MiB")
            print(f"{'':13s} {mode:10s} ratio consult/bare {r_ours['wall_s'] / r_bare['wall_s']:.3f}")
            del ours
        del bare

    if args.random_arch:
        results["fixed_length"] = fixed_length_runs(args, audio, seconds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
