"""The per-file pipeline: audio -> diarised transcript -> roles -> medications -> report.

``Pipeline`` loads every model once in its constructor; ``process`` runs one file. Its stages (``load_for``,
``diarise_stage``, ``assemble_report``) are shared with the Ray workers. Elsewhere, by concern: building the
back-ends in :mod:`consult.backends.factory`, job ids in :func:`consult.config.job_id`, writing files in
:mod:`consult.outputs`, the FHIR bundle in :mod:`consult.fhir`, batches (the report store, retries, Ray) in
:mod:`workers`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from consult.align import assign_speakers
from consult.audio import Audio, channels_separated, load_audio
from consult.backends.factory import build_diariser, build_extractor, build_transcriber
from consult.config import Settings, job_id
from consult.errors import ExtractionError, StageError
from consult.interfaces import AsrResult, Diariser, MedicationExtractor, ProgressHook, Transcriber
from consult.outputs import atomic_write
from consult.roles import assign_roles, role_map, role_warnings
from consult.transcribe import stage_warnings, transcribe_stage
from schemas import ConsultationReport, ModelInfo, SpeakerTurn, StageTiming
from schemas.report import AudioInfo, Speaker, TextSource

log = logging.getLogger(__name__)

class _Timer:
    def __init__(self) -> None:
        self.timings: list[StageTiming] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings.append(StageTiming(stage=name, seconds=round(time.perf_counter() - t0, 3)))


class Pipeline:
    """consult's pipeline with its models loaded once.

    Args:
        settings: all options (defaults: bundled Whisper base, offline diarisation, rule extractor).
        transcriber, diariser, extractor: pre-built back-ends (tests, workers), else built from settings.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transcriber: Transcriber | None = None,
        diariser: Diariser | None = None,
        extractor: MedicationExtractor | None = None,
    ) -> None:
        self.settings = settings or Settings()
        t0 = time.perf_counter()
        self.transcriber = transcriber or build_transcriber(self.settings)
        self.diariser = diariser or build_diariser(self.settings)
        self.extractor = extractor or build_extractor(self.settings)
        self.load_seconds = time.perf_counter() - t0
        self._prepared: set[str] = set()

    def model_info(self) -> list[ModelInfo]:
        return [*self.transcriber.model_info(), *self.diariser.model_info(), *self.extractor.model_info()]

    def prepare_extraction(self, language: str) -> None:
        """Start loading what the extractor needs for ``language`` (``prepare``, when the back-end has one: the
        status model's French parser) in a background thread, while the recording is transcribed: a single French
        file no longer waits 4-7 s for it after its transcription. Loaded once per process; a failure there only
        means extraction loads it itself."""
        prepare = getattr(self.extractor, "prepare", None)
        if prepare is None or language in self._prepared:
            return
        self._prepared.add(language)

        def run() -> None:
            try:
                prepare(language)
            except Exception:  # extraction loads (and reports) it itself
                log.debug("extractor preparation for %s failed", language, exc_info=True)

        threading.Thread(target=run, name=f"prepare-extraction-{language}", daemon=True).start()

    def process(self, audio_path: str | Path, *, hook: ProgressHook | None = None,
                language: str | None = None) -> ConsultationReport:
        """Run the whole pipeline on one file. ``language`` overrides ``settings.asr.language``.

        With ``settings.concurrent_stages`` diarisation runs in a second thread while the transcriber runs
        (both release the GIL in their native code), else one after the other."""
        timer = _Timer()
        with timer.stage("audio"):
            audio = load_for(self.settings, audio_path)
        if hook:
            hook("audio", 1.0)
        if self.settings.concurrent_stages:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diarisation") as pool:
                t0 = time.perf_counter()
                future = pool.submit(diarise_stage, self.diariser, self.settings, audio, hook)
                with timer.stage("transcription"):
                    asr = transcribe_stage(self.transcriber, self.settings, audio, hook, language,
                                           on_language=self.prepare_extraction)
                turns = future.result()
                timer.timings.insert(1, StageTiming(stage="diarisation",
                                                    seconds=round(time.perf_counter() - t0, 3)))
        else:
            with timer.stage("diarisation"):
                turns = diarise_stage(self.diariser, self.settings, audio, hook)
            with timer.stage("transcription"):
                asr = transcribe_stage(self.transcriber, self.settings, audio, hook, language,
                                       on_language=self.prepare_extraction)
        return assemble_report(self.settings, audio.info, turns, asr, self.extractor, timer=timer, hook=hook,
                               models=self.model_info())


# -- stages (shared by Pipeline.process and the Ray workers) ---------------------------------------------

def load_for(settings: Settings, audio_path: str | Path) -> Audio:
    """Decode ``audio_path`` as the settings ask (duration limit, stereo channels kept unless 'mix')."""
    return load_audio(audio_path, max_duration=settings.audio.max_duration_s,
                      keep_channels=settings.audio.stereo_channels != "mix")


def diarise_stage(diariser: Diariser, settings: Settings, audio: Audio,
                  hook: ProgressHook | None = None) -> list[SpeakerTurn]:
    """Speaker turns: from the two channels when they carry one speaker each, else from the diariser."""
    s = settings
    d = s.diarisation
    if audio.channels is not None and (s.audio.stereo_channels == "split" or channels_separated(audio.channels)):
        from consult.backends.offline_diar import channel_turns

        return channel_turns(audio.channels)
    return diariser.diarise(audio.samples, num_speakers=d.num_speakers, min_speakers=d.min_speakers,
                            max_speakers=d.max_speakers, hook=hook)


def assemble_report(
    settings: Settings,
    info: AudioInfo,
    turns: list[SpeakerTurn],
    asr: AsrResult,
    extractor: MedicationExtractor,
    *,
    timer: _Timer | None = None,
    hook: ProgressHook | None = None,
    models: list[ModelInfo] | None = None,
) -> ConsultationReport:
    """Words to speakers, roles, medications and warnings: the report of one recording."""
    s = settings
    timer = timer or _Timer()
    warnings: list[str] = []
    if not asr.segments:
        warnings.append("no speech was recognised in the recording")
    warnings.extend(stage_warnings(asr))
    with timer.stage("alignment"):
        segments = assign_speakers(asr.segments, turns)
    with timer.stage("roles"):
        speaker_ids = list(dict.fromkeys([t.speaker for t in turns]))
        try:
            speakers = assign_roles(segments, speaker_ids, doctor_speaker=s.doctor_speaker)
        except ValueError as exc:
            raise StageError("roles", str(exc)) from exc
        warnings.extend(role_warnings(speakers))  # no doctor, an unsure doctor, speakers without a role
    if hook:
        hook("extraction", 0.0)
    with timer.stage("extraction"):
        meds = extractor.extract(segments, roles=role_map(speakers), language=asr.language,
                                 role_confidence={s.id: s.role_confidence for s in speakers
                                                  if s.role_confidence is not None})
    if hook:
        hook("extraction", 1.0)
    if any(m.needs_review for m in meds):
        warnings.append(f"{sum(m.needs_review for m in meds)} medication line(s) need review")
    return ConsultationReport(
        id=job_id(info.sha256, s),
        created_at=datetime.now(timezone.utc),
        audio=info,
        language=asr.language,
        language_probability=asr.language_probability,
        speakers=speakers,
        turns=turns,
        segments=segments,
        medications=meds,
        timings=timer.timings,
        models=models if models is not None else list(extractor.model_info()),
        settings=s.model_dump(mode="json", exclude={"cache_dir"}),
        warnings=warnings,
        asr_revisions=list(getattr(asr, "revisions", [])),
        speech_gaps=list(getattr(asr, "gaps", [])),
    )


_FR_WORDS = frozenset("le la les des du de un une et est je vous il elle pas que qui pour avec dans sur ce ça "
                      "oui non bonjour madame monsieur".split())
_EN_WORDS = frozenset("the a an and is i you he she not that who for with in on it this yes no hello what "
                      "have do your".split())


def guess_language(text: str) -> str:
    """``fr`` or ``en`` from function-word counts (French when unsure: the project's default)."""
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", text.lower())
    fr = sum(w in _FR_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    return "en" if en > fr else "fr"


def report_from_text(
    text: str,
    *,
    name: str = "transcript.txt",
    extractor: MedicationExtractor | None = None,
    settings: Settings | None = None,
    language: str | None = None,
) -> ConsultationReport:
    """Extraction on a text transcript (``DOC:``/``PAT:`` lines, or plain text): the same report as
    :meth:`Pipeline.process` without audio (no times, no diarisation). ``consult extract`` runs it."""
    from consult.extract.textinput import parse_text_transcript

    settings = settings or Settings()
    if not text.strip():
        raise ExtractionError(f"{name}: the transcript is empty: give a text file with one turn per line "
                         "(e.g. 'DOC: ...' / 'PAT: ...').")
    segments, roles = parse_text_transcript(text)
    if not segments:
        raise ExtractionError(f"{name}: no transcript line found (only comments or blank lines).")
    lang = language or guess_language(text)
    extractor = extractor or build_extractor(settings)
    t0 = time.perf_counter()
    meds = extractor.extract(segments, roles=roles, language=lang)
    seconds = time.perf_counter() - t0
    speakers = [Speaker(id=spk, role=role) for spk, role in roles.items()]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ConsultationReport(
        id=job_id(digest, settings),
        created_at=datetime.now(timezone.utc),
        text_source=TextSource(name=name, sha256=digest, lines=len(segments)),
        language=lang,
        speakers=speakers,
        segments=segments,
        medications=meds,
        timings=[StageTiming(stage="extraction", seconds=round(seconds, 4))],
        models=extractor.model_info(),
        settings=settings.model_dump(mode="json", exclude={"cache_dir"}),
    )


def report_schema() -> dict[str, Any]:
    return ConsultationReport.model_json_schema()


def dump_schema(path: Path | None = None) -> str:
    text = json.dumps(report_schema(), indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        atomic_write(path, text)
    return text

