"""Label strings of the review page, French first, English too.

Only this module holds user-facing words; ``demo.app`` looks them up with :func:`texts`.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES: tuple[str, ...] = ("fr", "en")

# Column keys of the medication table, in display order. ``demo.app`` relies on this order.
COLUMNS: tuple[str, ...] = (
    "id",
    "drug_text",
    "name",
    "atc",
    "strength",
    "dose",
    "route",
    "frequency",
    "when",
    "duration",
    "as_needed",
    "status",
    "confidence",
    "needs_review",
    "decision",
)

_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "consult — relecture de consultation",
        "header": (
            "## consult — relecture d'une consultation\n"
            "> ⚠️ **BROUILLON PRODUIT PAR UNE IA.** La transcription et les lignes de prescription ci-dessous "
            "sont générées automatiquement et peuvent contenir des erreurs (mots mal reconnus, doses, "
            "locuteurs). **Un médecin doit vérifier chaque ligne** avant tout usage clinique "
            "(recommandations HAS 2025 sur l'IA générative en santé). Rien n'est transmis : tout reste "
            "sur cette machine.\n\n"
            "Les mots <mark>surlignés</mark> ont été reconnus avec une faible probabilité (< 0,6) ; "
            "la colonne « à vérifier » signale les lignes de faible confiance."
        ),
        "audio_in": "Enregistrement de la consultation (fichier ou micro)",
        "run": "Transcrire et extraire",
        "player": "Écouter l'enregistrement",
        "summary": "Résumé",
        "transcript": "Transcription par tour de parole",
        "table": "Médicaments (brouillon, modifiable)",
        "approve_all": "Tout approuver",
        "reset": "Réinitialiser",
        "bundle_btn": "Télécharger le bundle FHIR",
        "report_btn": "Télécharger le rapport (report.json)",
        "bundle_file": "Bundle FHIR (bundle.json)",
        "report_file": "Rapport (report.json)",
        "decision_help": (
            "Colonne « décision » : **approuvé**, **rejeté** ou **en attente**. Formats des cellules : "
            "dosage/dose « 500 mg », « 1 comprimé », « 1-2 comprimé » ; fréquence « 3/d » (3 par jour), "
            "« 1/8h » (toutes les 8 h), « 2/wk » ; durée « 7 d », « 2 wk », « 3 mo » ; "
            "moments « matin, soir » ; si besoin « oui »/« non ». Une cellule vide efface la valeur."
        ),
        "no_audio": "Aucun enregistrement : déposez un fichier audio ou enregistrez avec le micro.",
        "no_report": "Aucun rapport : lancez d'abord « Transcrire et extraire ».",
        "pipeline_error": "Échec du traitement : {error}",
        "table_error": "Le tableau contient des valeurs non reconnues ; rien n'a été exporté :\n{errors}",
        "cell_error": "ligne {line}, colonne « {column} » : « {value} » non reconnu ({expected})",
        "unknown_line": "ligne « {line} » inconnue (ajout de ligne non pris en charge ici)",
        "duplicate_line": "ligne « {line} » présente deux fois",
        "bad_row": "ligne {index} : {count} colonnes au lieu de {expected}",
        "empty_name": "le nom normalisé ne peut pas être vide",
        "expect_quantity": "attendu : « 500 mg », « 1 comprimé », « 1-2 comprimé » ou vide",
        "expect_frequency": "attendu : « 3/d », « 1-2/d », « 1/8h », « 2/wk » ou vide",
        "expect_duration": "attendu : « 7 d », « 2 wk », « 3 mo » ou vide",
        "expect_when": "attendu : moments séparés par des virgules (matin, midi, soir...) ou codes FHIR",
        "expect_bool": "attendu : oui ou non",
        "expect_status": "attendu : nouveau, renouvelé, modifié, arrêté ou mentionné",
        "expect_decision": "attendu : approuvé, rejeté ou en attente",
        "expect_atc": "attendu : un code ATC (ex. J01CA04) ou vide",
        "duration_label": "Durée",
        "language_label": "Langue",
        "speakers_label": "Locuteurs",
        "medications_label": "Médicaments",
        "to_review_label": "à vérifier",
        "warnings_label": "Avertissements",
        "empty_transcript": "_Aucune parole reconnue._",
        "yes": "oui",
        "no": "non",
        "doctor": "Médecin",
        "patient": "Patient",
        "unknown": "Locuteur",
        "approved": "approuvé",
        "rejected": "rejeté",
        "pending": "en attente",
        "new": "nouveau",
        "renewed": "renouvelé",
        "changed": "modifié",
        "stopped": "arrêté",
        "mentioned": "mentionné",
        "col_id": "id",
        "col_drug_text": "médicament (entendu)",
        "col_name": "nom normalisé",
        "col_atc": "ATC",
        "col_strength": "dosage",
        "col_dose": "dose",
        "col_route": "voie",
        "col_frequency": "fréquence",
        "col_when": "moments",
        "col_duration": "durée",
        "col_as_needed": "si besoin",
        "col_status": "statut",
        "col_confidence": "confiance",
        "col_needs_review": "à vérifier",
        "col_decision": "décision",
    },
    "en": {
        "title": "consult — consultation review",
        "header": (
            "## consult — consultation review\n"
            "> ⚠️ **DRAFT PRODUCED BY AI.** The transcript and the prescription lines below are generated "
            "automatically and may contain errors (misheard words, doses, speakers). "
            "**A clinician must check every line** before any clinical use "
            "(HAS 2025 guidance on generative AI in healthcare). Nothing "
            "is sent anywhere: everything stays on this machine.\n\n"
            "<mark>Highlighted</mark> words were recognised with a low probability (< 0.6); the "
            '"to check" column flags low-confidence lines.'
        ),
        "audio_in": "Consultation recording (file or microphone)",
        "run": "Transcribe and extract",
        "player": "Play the recording",
        "summary": "Summary",
        "transcript": "Transcript by speaker turn",
        "table": "Medications (draft, editable)",
        "approve_all": "Approve all",
        "reset": "Reset",
        "bundle_btn": "Download the FHIR bundle",
        "report_btn": "Download the report (report.json)",
        "bundle_file": "FHIR bundle (bundle.json)",
        "report_file": "Report (report.json)",
        "decision_help": (
            '"decision" column: **approved**, **rejected** or **pending**. Cell formats: strength/dose '
            '"500 mg", "1 tablet", "1-2 tablet"; frequency "3/d" (3 a day), "1/8h" (every 8 h), '
            '"2/wk"; duration "7 d", "2 wk", "3 mo"; times "morning, evening"; as needed '
            '"yes"/"no". An empty cell clears the value.'
        ),
        "no_audio": "No recording: upload an audio file or record with the microphone.",
        "no_report": 'No report: run "Transcribe and extract" first.',
        "pipeline_error": "Processing failed: {error}",
        "table_error": "The table holds values that cannot be read; nothing was exported:\n{errors}",
        "cell_error": 'line {line}, column "{column}": "{value}" not understood ({expected})',
        "unknown_line": 'unknown line "{line}" (adding lines is not supported here)',
        "duplicate_line": 'line "{line}" appears twice',
        "bad_row": "row {index}: {count} columns instead of {expected}",
        "empty_name": "the normalised name cannot be empty",
        "expect_quantity": 'expected: "500 mg", "1 tablet", "1-2 tablet" or empty',
        "expect_frequency": 'expected: "3/d", "1-2/d", "1/8h", "2/wk" or empty',
        "expect_duration": 'expected: "7 d", "2 wk", "3 mo" or empty',
        "expect_when": "expected: comma-separated times (morning, noon, evening, bedtime...) or FHIR codes",
        "expect_bool": "expected: yes or no",
        "expect_status": "expected: new, renewed, changed, stopped or mentioned",
        "expect_decision": "expected: approved, rejected or pending",
        "expect_atc": "expected: an ATC code (e.g. J01CA04) or empty",
        "duration_label": "Duration",
        "language_label": "Language",
        "speakers_label": "Speakers",
        "medications_label": "Medications",
        "to_review_label": "to check",
        "warnings_label": "Warnings",
        "empty_transcript": "_No speech recognised._",
        "yes": "yes",
        "no": "no",
        "doctor": "Doctor",
        "patient": "Patient",
        "unknown": "Speaker",
        "approved": "approved",
        "rejected": "rejected",
        "pending": "pending",
        "new": "new",
        "renewed": "renewed",
        "changed": "changed",
        "stopped": "stopped",
        "mentioned": "mentioned",
        "col_id": "id",
        "col_drug_text": "drug (as said)",
        "col_name": "normalised name",
        "col_atc": "ATC",
        "col_strength": "strength",
        "col_dose": "dose",
        "col_route": "route",
        "col_frequency": "frequency",
        "col_when": "times",
        "col_duration": "duration",
        "col_as_needed": "as needed",
        "col_status": "status",
        "col_confidence": "confidence",
        "col_needs_review": "to check",
        "col_decision": "decision",
    },
}

# FHIR Timing.repeat.when codes shown as words; codes not listed are shown as the code itself.
WHEN_LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "MORN": "matin",
        "NOON": "midi",
        "AFT": "après-midi",
        "EVE": "soir",
        "NIGHT": "nuit",
        "HS": "coucher",
        "WAKE": "réveil",
        "C": "pendant le repas",
        "AC": "avant le repas",
        "PC": "après le repas",
    },
    "en": {
        "MORN": "morning",
        "NOON": "noon",
        "AFT": "afternoon",
        "EVE": "evening",
        "NIGHT": "night",
        "HS": "bedtime",
        "WAKE": "waking",
        "C": "with meal",
        "AC": "before meal",
        "PC": "after meal",
    },
}


def check_language(language: str) -> str:
    """Return ``language`` if the page has labels for it, else raise ValueError listing the valid ones."""
    if language not in _TEXTS:
        raise ValueError(f"unsupported UI language {language!r}; use one of: {', '.join(LANGUAGES)}")
    return language


def texts(language: str) -> Mapping[str, str]:
    """All label strings of one language."""
    return _TEXTS[check_language(language)]


def headers(language: str) -> list[str]:
    """Localised headers of the medication table, in :data:`COLUMNS` order."""
    t = texts(language)
    return [t[f"col_{key}"] for key in COLUMNS]
