"""Build consult/data/asr_posology.json: how the bundled Whisper mishears posology words (forms, the numbers said
with them, schedules, durations), learnt from data for :func:`consult.extract.heard.respell`.

    .venv/bin/python scripts/build_posology_confusions.py [--per-language N] [--out PATH]

Prescribing sentences are generated from posology phrases (a number and a form, a schedule, a duration; seeded,
deterministic): "Amlodipine cinq milligrammes, un comprimé le matin, pendant un mois." Each is said by the
development TTS voices of benchmarks/voiced.py that no blind recording uses (mb-fr1 and mb-fr4; pico en-US and
mb-us1), as they are and shifted in pitch and pace, transcribed by the bundled model as the first pass of
``consult run`` does (language forced), and the heard words are aligned with the said ones (difflib over folded
words; numbers in digits, mass units as mg / g: :func:`consult.extract.heard.words`). A replaced stretch (1 to 3
words each side) is a candidate pair (heard -> said); it is kept (:func:`keep`) only when it is safe to apply to
any text from speech:

- the said side holds a posology word and only posology words, numbers and their glue: never a drug name or a
  unit (strengths are read as heard);
- the heard side holds no number or unit, and no posology word that the said side lacks ("once per day" is not
  rewritten into "one spray");
- its edge words are not function words of the sentence around ("supositoires au" would eat the "au" of "au
  coucher"), unless the said word there is a number ("de comprimer": 2 comprimés);
- it sounds like what was said (phonetic similarity >= MIN_SOUND), and a lone ordinary word is kept only when
  spelt almost as said ("couche" for coucher, not "seconds" for sachets);
- a number put in from words of the language ("à comprimer": 1 comprimé) was heard at least
  MIN_TIMES_ORDINARY_NUMBER times, and never from a preposition or article that stands before a form as it is
  ("combien de fois", "switch to tablets": NOT_A_NUMBER);
- it was never heard for two different things.

The posology parser applies the pairs to text from speech only, and a number that a pair puts in is read with the
certainty of a homophone (the line is flagged for review). Needs the TTS tools of DEVELOPERS.md; about 35 minutes
on 2 cores; deterministic for a given TTS and model.
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import sys
import tempfile
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "audio_fixtures"))

from generate import Voice, normalise, synthesise, trim  # noqa: E402

SEED = 20261207
VOICES = {
    "fr": [Voice("espeak-ng", "mb-fr1", speed=150), Voice("espeak-ng", "mb-fr4", speed=150),
           Voice("espeak-ng", "mb-fr1", speed=165, pitch_cents=250), Voice("espeak-ng", "mb-fr4", speed=140,
                                                                               pitch_cents=-200, tempo=0.95)],
    "en": [Voice("pico2wave", "en-US"), Voice("espeak-ng", "mb-us1", speed=150),
           Voice("espeak-ng", "mb-us1", speed=165, pitch_cents=-300), Voice("pico2wave", "en-US", tempo=1.1,
                                                                             pitch_cents=200)],
}
"""Development voices that no blind recording uses, each also shifted in pitch and pace (more ways of saying the
same words, still none of the blind voices)."""
DRUGS = {
    "fr": ["Amlodipine", "Metformine", "Doliprane", "Kardégic", "Ramipril", "Simvastatine", "Colchicine",
           "Losartan", "Naproxène", "Spasfon", "Sertraline", "Amoxicilline", "Ibuprofène", "Levothyrox", "Xanax"],
    "en": ["Amlodipine", "Metformin", "Paracetamol", "Ramipril", "Simvastatin", "Naproxen", "Sertraline",
           "Amoxicillin", "Ibuprofen", "Omeprazole", "Atorvastatin", "Lisinopril", "Prednisolone", "Codeine"],
}
STRENGTHS = {"fr": ["cinq milligrammes", "cinquante milligrammes", "mille milligrammes", "quarante milligrammes",
                    "cinq cents milligrammes", "vingt milligrammes", "un gramme"],
             "en": ["five milligrams", "fifty milligrams", "five hundred milligrams", "twenty milligrams",
                    "forty milligrams", "one gram"]}
# (singular, plural, feminine)
FORMS = {
    "fr": [("comprimé", "comprimés", False), ("gélule", "gélules", True), ("sachet", "sachets", False),
           ("cuillère à soupe", "cuillères à soupe", True), ("cuillère à café", "cuillères à café", True),
           ("bouffée", "bouffées", True), ("goutte", "gouttes", True), ("suppositoire", "suppositoires", False),
           ("pulvérisation", "pulvérisations", True), ("ampoule", "ampoules", True)],
    "en": [("tablet", "tablets", False), ("capsule", "capsules", False), ("sachet", "sachets", False),
           ("teaspoon", "teaspoons", False), ("puff", "puffs", False), ("drop", "drops", False),
           ("suppository", "suppositories", False), ("spray", "sprays", False)],
}
COUNTS = {
    "fr": [("un", "une", 1), ("deux", "deux", 2), ("trois", "trois", 3), ("un à deux", "une à deux", 2),
           ("deux à trois", "deux à trois", 3), ("un demi", "une demi", 1)],
    "en": [("one", "one", 1), ("two", "two", 2), ("a", "a", 1), ("one or two", "one or two", 2),
           ("half a", "half a", 1)],
}
SCHEDULES = {
    "fr": ["matin et soir", "le matin", "le soir", "par jour", "trois fois par jour", "au coucher", "midi et soir",
           "toutes les six heures", "si besoin", "au moment des repas", "le matin à jeun", "deux fois par jour"],
    "en": ["twice a day", "in the morning", "at night", "once a day", "three times a day", "every six hours",
           "when needed", "with meals", "before breakfast", "four times a day"],
}
DURATIONS = {
    "fr": ["pendant cinq jours", "pendant une semaine", "pendant dix jours", "pendant trois mois",
           "pendant un mois", "pendant quinze jours", "pendant deux semaines", "", ""],
    "en": ["for five days", "for a week", "for ten days", "for three months", "for a month", "for two weeks", "",
           ""],
}
TAKE = {"fr": ["Prenez", "Vous prendrez", "Vous en prenez", "Il faut prendre", "Vous mettez"],
        "en": ["Take", "You'll take", "Use", "You can have", "Take it as"]}
ITEMS = {"fr": ["Un", "Deux", "Trois", "Quatre"], "en": ["One", "Two", "Three", "Four"]}
LEADS = {"fr": ["", "Alors, ", "Je vous mets ", "On continue ", "Vous prendrez ", "Et "],
         "en": ["", "So, ", "I'll give you ", "Keep taking ", "We'll start ", "And "]}

POSOLOGY = (
    r"comprim\w*|gelules?|sachets?|cuilleres?|bouffees?|gouttes?|suppositoires?|pulverisations?|ampoules?|"
    r"tablets?|capsules?|teaspoons?|puffs?|drops?|suppositor\w*|sprays?|soupe|cafe|"
    r"pendant|jours?|semaines?|mois|days?|weeks?|months?|fois|times|heures?|hours?|matin|soir|midi|coucher|"
    r"morning|night|breakfast|meals?|repas|besoin|needed|jeun|once|twice|for|per|every"
)
ANCHOR = re.compile(rf"^(?:{POSOLOGY})$")
"""A posology word: a said stretch holds one."""
SAID_WORD = re.compile(rf"^(?:{POSOLOGY}|\d+|demi|half|a|au|le|les|et|de|in|at|the|with|when|si|par|a|an)$")
"""The words a said stretch may hold: posology words, numbers and their glue; never a drug name or a unit (a
strength is not respelled)."""
MIN_SOUND = 0.7
"""Lowest phonetic similarity of the heard stretch to the said one (numbers said in words)."""
MIN_SPELLING_ORDINARY = 0.87
"""A heard word of the language on its own ("couche", "matins") is kept only this close in spelling to the said
word: "seconds" is not "sachets", "cuff" is not "puff", "poule" is not "ampoule"."""
MIN_TIMES_ORDINARY_NUMBER = 3
"""A pair that puts in a number where every heard word is a word of the language ("de comprimer": 2 comprimés) is
kept only when heard at least this often: "to spray" and "en comprimé" are also said as they are."""
NOT_A_NUMBER = frozenset({"de", "d", "des", "du", "en", "le", "la", "les", "l", "par", "pour", "sous", "to", "into",
                          "in", "on", "of", "for", "per", "the", "under"})
"""Prepositions and articles that stand before a form or a time word as they are ("combien de fois", "pas de
comprimés", "switch to tablets", "en comprimés"): never read as a number, however often the model wrote them for
one ("de comprimer" for "deux comprimés" is read by :mod:`consult.extract.numbers`' own homophone rule, only
before a form or unit word)."""
SAY = {"fr": {"1": "un", "2": "deux", "3": "trois", "4": "quatre", "5": "cinq"},
       "en": {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}}


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """The ordinary words of French and English, folded (scripts/build_ordinary_words.py), as the name index
    reads them."""
    from consult.extract.names import NameIndex

    return NameIndex.load().ordinary


def keep(heard: str, said: str, language: str, times: int = 1) -> bool:
    """Whether a mined pair (heard -> said, canonical words) is safe to apply to any text from speech (module
    docstring)."""
    from rapidfuzz import fuzz

    from consult.extract.lexicon import phonetic_key
    from consult.extract.stopwords import FRENCH_STOPWORDS, STOPWORDS

    h, s = heard.split(), said.split()
    function = FRENCH_STOPWORDS if language == "fr" else STOPWORDS
    if not all(SAID_WORD.match(w) for w in s) or not any(ANCHOR.match(w) for w in s):
        return False  # a drug name, a unit or no posology word said
    if any(w.isdigit() or w in ("mg", "g", "kg", "ml") for w in h):
        return False  # numbers and units heard are read as heard
    if any(ANCHOR.match(w) and not any(w[:5] == x[:5] for x in s) for w in h):
        return False  # a posology word heard ("once per day") is never rewritten into another one
    if h[0] in NOT_A_NUMBER and s[0].isdigit():
        return False
    if h[0] in function and not ANCHOR.match(h[0]) and not (s[0].isdigit() and h[0] != s[0]):
        return False  # a first word of the sentence around, unless it was heard for the number said
    if len(h) > 1 and h[-1] in function and not ANCHOR.match(h[-1]):
        return False  # a last word of the sentence around: "supositoires au", "gélule de" (500 mg)
    say = " ".join(SAY[language].get(w, w) for w in s)
    if fuzz.ratio(phonetic_key(heard.replace(" ", "")), phonetic_key(say.replace(" ", ""))) / 100 < MIN_SOUND:
        return False
    ordinary = all(w in ordinary_words() or w in function for w in h)
    if ordinary and any(w.isdigit() and w not in h for w in s) and times < MIN_TIMES_ORDINARY_NUMBER:
        return False
    spelling = fuzz.ratio(h[0], say.replace(" ", "")) / 100
    return not (len(h) == 1 and ordinary and spelling < MIN_SPELLING_ORDINARY)


def sentences(language: str, n: int) -> list[str]:
    """``n`` prescribing sentences in ``language`` (seeded): a drug and its strength then the posology, or the
    posology alone after a verb of taking, or a numbered line of an ordonnance read out; tablets and capsules
    (the commonest forms) three and two times as often as the others."""
    rng = random.Random(f"{SEED}-{language}")
    forms = [*FORMS[language][:1] * 3, *FORMS[language][1:2] * 2, *FORMS[language]]
    out = []
    for _ in range(n):
        sg, pl, fem = rng.choice(forms)
        masc, femw, value = rng.choice(COUNTS[language])
        count = femw if fem else masc
        form = sg if value == 1 else pl
        drug = rng.choice(DRUGS[language])
        strength = rng.choice(STRENGTHS[language])
        posology = f"{count} {form} {rng.choice(SCHEDULES[language])}"
        style = rng.random()
        if style < 0.5:
            parts = [f"{rng.choice(LEADS[language])}{drug} {strength}", posology]
        elif style < 0.75:
            parts = [f"{TAKE[language][rng.randrange(len(TAKE[language]))]} {posology}"]
        else:
            parts = [rng.choice(ITEMS[language]), f"{drug} {strength}", posology]
        duration = rng.choice(DURATIONS[language])
        if duration:
            parts.append(duration)
        out.append(", ".join(parts) + ".")
    return out


def words(text: str) -> list[tuple[str, str]]:
    """(key, word as said) of each word of ``text``: the key aligns heard and said words (endings French does not
    say are alike), the said word is what the table writes (:mod:`consult.extract.heard`)."""
    from consult.extract.heard import said_words
    from consult.extract.heard import words as keys
    from consult.extract.text import fold

    folded = fold(text)
    return list(zip(keys(folded), said_words(folded), strict=True))


def pairs(said: str, heard: str) -> list[tuple[str, str]]:
    """(heard, said) stretches that differ, 1 to 3 words each side, the said side holding a posology word. A
    stretch of ordinary short words heard for a number is also given with the next word when that one was heard
    right ("de" for "deux" alone says nothing safe; "de comprimer" for "deux comprimés" does)."""
    from consult.extract.stopwords import STOPWORDS

    said_words, heard_words = words(said), words(heard)
    a, b = [k for k, _ in said_words], [k for k, _ in heard_words]
    out = []
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op != "replace" or not (1 <= i2 - i1 <= 3 and 1 <= j2 - j1 <= 3):
            continue
        spans = [(i2, j2)]
        s = [w for _, w in said_words[i1:i2]]
        h = [w for _, w in heard_words[j1:j2]]
        if any(w.isdigit() and w not in h for w in s) and all(w in STOPWORDS for w in h) and n + 1 < len(ops) \
                and ops[n + 1][0] == "equal" and i2 - i1 < 3 and j2 - j1 < 3:
            spans.append((i2 + 1, j2 + 1))
        for e_s, e_h in spans:
            s = [w for _, w in said_words[i1:e_s]]
            h = [w for _, w in heard_words[j1:e_h]]
            if any(ANCHOR.match(w) for w in s):
                out.append((" ".join(h), " ".join(s)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-language", type=int, default=250, help="sentences per language")
    ap.add_argument("--out", type=Path, default=ROOT / "consult" / "data" / "asr_posology.json")
    ap.add_argument("--heard", type=Path, default=ROOT / ".cache" / "posology_heard.json",
                    help="what the model heard for each sentence and voice, kept to rebuild the table without "
                         "decoding again (read when present)")
    args = ap.parse_args(argv)
    cache: dict[str, str] = json.loads(args.heard.read_text(encoding="utf-8")) if args.heard.exists() else {}

    from consult.backends.factory import build_transcriber
    from consult.config import Settings

    transcriber = build_transcriber(Settings())  # loaded once; used only for sentences not in the cache
    tables: dict[str, dict[str, str]] = {}
    counts: dict[str, dict[str, int]] = {}
    heard_times: dict[str, dict[str, int]] = {}
    for language in ("fr", "en"):
        seen: dict[str, Counter[str]] = defaultdict(Counter)
        said_n = 0
        todo = sentences(language, args.per_language)
        with tempfile.TemporaryDirectory() as tmp:
            for k, sentence in enumerate(todo):
                for voice in VOICES[language]:
                    key = f"{language}|{voice}|{sentence}"
                    if key not in cache:
                        audio = normalise(trim(synthesise(sentence, voice, Path(tmp))))
                        result = transcriber.transcribe(audio, language=language)
                        cache[key] = " ".join(s.text for s in result.segments)
                    heard = cache[key]
                    said_n += 1
                    for h, s in pairs(sentence, heard):
                        seen[h][s] += 1
                if k % 25 == 0:
                    print(f"{language}: {k + 1}/{len(todo)} sentences", file=sys.stderr, flush=True)
        table = {}
        times: dict[str, int] = {}
        for h, said in sorted(seen.items()):
            if len(said) > 1:
                continue  # heard for two different things
            if not keep(h, next(iter(said)), language, sum(said.values())):
                continue
            table[h] = next(iter(said))
            times[h] = sum(said.values())
        tables[language] = table
        heard_times[language] = times
        counts[language] = {"sentences": len(todo), "said": said_n, "pairs": len(table),
                            "heard_stretches": len(seen)}
        print(f"{language}: {counts[language]}", file=sys.stderr)
    data = {
        "about": "Posology words as the bundled Whisper base model heard them, said by development TTS voices "
                 "(scripts/build_posology_confusions.py): heard folded words -> said folded words (numbers as "
                 "digits).",
        "counts": counts,
        "tables": tables,
        "times_heard": heard_times,
    }
    args.heard.parent.mkdir(parents=True, exist_ok=True)
    args.heard.write_text(json.dumps(cache, ensure_ascii=False, indent=0), encoding="utf-8")
    args.out.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {sum(len(t) for t in tables.values())} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
