"""Label strings of the review page, French first, English too.

Only this module holds the page's own words; ``demo`` looks them up with :func:`texts`. Flag messages come from
:mod:`consult.review` and the patient plan from :mod:`consult.plan`, both in the same two languages.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES: tuple[str, ...] = ("fr", "en")

# Column keys of the medication table, in display order. ``demo.table`` relies on this order.
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
    "decision",
    "ald",
    "comment",
)

# Columns of the pharmacist's queue, in display order.
QUEUE_COLUMNS: tuple[str, ...] = ("received", "file", "language", "duration", "medications", "to_check", "status",
                                  "last_review")

# Filters of the queue: review statuses of consult.store, and "all".
QUEUE_FILTERS: tuple[str, ...] = ("to_review", "partly_approved", "approved", "rejected", "all")

_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "consult — relecture de consultation",
        "header": (
            "<h1>consult — relecture des consultations</h1>"
            "<p class='ai-warning'>⚠️ <b>Brouillon produit par une IA.</b> La transcription et les lignes de "
            "prescription sont générées automatiquement et peuvent contenir des erreurs (mots mal reconnus, "
            "doses, locuteurs). <b>Un médecin ou un pharmacien doit vérifier chaque ligne</b> avant tout usage "
            "clinique (recommandations HAS 2025 sur l'IA générative en santé). Rien ne quitte cette machine.</p>"
        ),
        # --- tabs
        "tab_doctor": "Nouvelle consultation (médecin)",
        "tab_queue": "File de relecture (pharmacien)",
        "tab_live": "En direct (médecin)",
        "live_help": "Appuyez sur **Enregistrer** : la transcription et les lignes de médicaments apparaissent "
                     "pendant la consultation (texte gris : encore provisoire). Vous pouvez déjà approuver ou "
                     "rejeter des lignes. À l'arrêt, le traitement complet (locuteurs, rôles, deux passes de "
                     "reconnaissance, extraction) remplace ce brouillon ; vos décisions sont reprises pour les "
                     "lignes identiques.",
        "live_audio": "Microphone (en direct)",
        "live_idle": "Pas d'enregistrement en cours.",
        "live_listening": "À l'écoute…",
        "live_no_cards": "Aucun médicament entendu pour l'instant.",
        "live_gone": "plus entendu",
        "live_earlier": "tours de parole plus anciens (dans le rapport final)",
        "live_transcript": "Transcription en direct",
        "live_cards": "Médicaments entendus",
        "live_approve": "Approuver ces lignes",
        "live_reject": "Rejeter ces lignes",
        "live_ready": "Prêt : appuyez sur **Enregistrer**.",
        "live_running": "Enregistrement : {seconds:.0f} s entendues, {cards} ligne(s).",
        "live_lost": "⚠️ Environ {seconds:.0f} s d'audio ne sont pas parvenues au serveur (serveur surchargé) : "
                     "ces passages manquent à la transcription.",
        "live_lost_final": "⚠️ **Environ {seconds:.0f} s de l'enregistrement ne sont pas parvenues au serveur** "
                           "(serveur surchargé) : le rapport ne porte que sur l'audio reçu. Revoyez le traitement "
                           "avec le patient, ou enregistrez la consultation en fichier.",
        "live_final": "Traitement complet de l'enregistrement…",
        "live_replaced": "Le rapport complet remplace le brouillon en direct ; {carried} décision(s) reprise(s) "
                         "sur {made}.",
        "live_unheard": "**Absent(s) du rapport complet**, à vérifier à l'écoute avant de signer : {lines}.",
        "live_unheard_approved": "approuvé en direct",
        "live_unheard_seen": "vu en direct",
        "live_failed": "Le direct s'est interrompu ({error}) ; le traitement complet porte sur ce qui a été "
                       "enregistré.",
        "doctor_help": (
            "Déposez l'enregistrement de la consultation ou enregistrez-la avec le micro, puis cliquez sur "
            "**Transcrire et extraire**. Le rapport s'ouvre plus bas et rejoint la file de relecture."
        ),
        "audio_in": "Enregistrement de la consultation (fichier ou micro)",
        "run": "Transcrire et extraire",
        "queue_help": (
            "Les consultations traitées (sur cette page ou par lot) attendent ici leur relecture. "
            "Cliquez sur une ligne, ou choisissez-la dans la liste, pour l'ouvrir."
        ),
        "filter_label": "Afficher",
        "refresh": "Actualiser",
        "queue_label": "Consultations",
        "open_label": "Consultation à ouvrir",
        "open_btn": "Ouvrir",
        "queue_empty": "Aucune consultation dans cette catégorie.",
        "q_received": "reçue le",
        "q_file": "enregistrement",
        "q_language": "langue",
        "q_duration": "durée",
        "q_medications": "médicaments",
        "q_to_check": "à vérifier",
        "q_status": "statut",
        "q_last_review": "dernière relecture",
        "f_to_review": "à relire",
        "f_partly_approved": "approuvées en partie",
        "f_approved": "approuvées",
        "f_rejected": "rejetées",
        "f_all": "toutes",
        # --- review statuses (consult.store) and history events
        "rs_to_review": "à relire",
        "rs_approved": "approuvé",
        "rs_rejected": "rejeté",
        "rs_partly_approved": "approuvé en partie",
        "ev_signed": "signé",
        "ev_reviewed": "relu",
        "ev_edited": "modifié",
        "ev_approved": "approuvé",
        "ev_rejected": "rejeté",
        "by_on": "{action} par {actor} le {date}",
        "never_reviewed": "pas encore relu",
        # --- progress
        "stage_models": "Chargement des modèles (première utilisation)",
        "stage_audio": "Lecture de l'enregistrement",
        "stage_diarisation": "Séparation des voix",
        "stage_transcription": "Transcription",
        "stage_extraction": "Extraction des médicaments",
        "stage_store": "Enregistrement dans la file",
        "already_done": "Cet enregistrement avait déjà été traité : le rapport est rouvert depuis la file.",
        # --- report header
        "received": "Reçue le",
        "duration_label": "Durée",
        "language_label": "Langue",
        "speakers_label": "Locuteurs",
        "medications_label": "Médicaments",
        "to_review_label": "à vérifier",
        "warnings_label": "Avertissements",
        "last_review": "Dernière relecture",
        "job_label": "Dossier",
        "no_report_open": "Aucun rapport ouvert : traitez un enregistrement ou ouvrez une consultation de la file.",
        # --- medication lines
        "lines_title": "Médicaments — décision ligne par ligne",
        "lines_help": (
            "Pour chaque ligne : écoutez le passage (▶), lisez les alertes, puis choisissez **approuvé** ou "
            "**rejeté**. Corrigez une valeur dans le tableau plus bas : la ligne se met à jour."
        ),
        "no_lines": "Aucun médicament n'a été détecté dans cette consultation.",
        "decision_label": "Décision pour {line}",
        "approve_all": "Tout approuver",
        "reset": "Revenir à l'extraction",
        "edited_badge": "✎ corrigé",
        "added_badge": "+ ajouté par le relecteur",
        "added_note": "Ajouté à la relecture : absent de la transcription, rien à écouter.",
        "heard": "entendu",
        "confidence": "confiance {pct} %",
        "listen": "Écouter ce passage",
        "no_flags": "Aucune alerte.",
        "stop_schedule": "à arrêter",
        "sev_critical": "Critique",
        "sev_warning": "Attention",
        "sev_info": "À noter",
        "table_problems": "Le tableau contient des valeurs non reconnues :",
        "too_many_lines": "Seules les {n} premières lignes ont une carte : décidez les suivantes dans la colonne "
        "« décision » du tableau.",
        # --- transcript and player
        "player": "Enregistrement",
        "player_help": "Cliquez sur un horodatage ▶ ou sur une phrase pour l'écouter.",
        "audio_missing": "L'enregistrement n'est pas disponible sur cette machine.",
        "transcript": "Transcription par tour de parole",
        "transcript_help": "<mark class='low'>Surligné</mark> : mot reconnu avec une faible probabilité "
        "(< 0,6) ; <b class='num'>gras</b> : nombre.",
        "empty_transcript": "Aucune parole reconnue.",
        # --- table
        "table": "Corriger les champs (tableau modifiable)",
        "decision_help": (
            "Double-cliquez sur une cellule pour la corriger, Entrée pour valider. Formats : dosage/dose "
            "« 500 mg », « 1 comprimé », « 1-2 comprimé » ; fréquence « 3/j » (3 par jour), « 1/8h » (toutes "
            "les 8 h), « 2/sem » ; durée « 7 j », « 2 sem », « 3 mois » ; moments « matin, soir » ; si besoin "
            "« oui »/« non » ; décision « approuvé », « rejeté » ou « en attente » ; ALD « oui » pour une ligne "
            "du traitement de l'affection de longue durée (ordonnance bizone). Une cellule vide efface la valeur. "
            "Un médicament dit mais absent : ajoutez une ligne au tableau (menu ⋮ d'une cellule, « Ajouter une "
            "ligne en dessous ») et écrivez son nom dans la colonne du nom normalisé (dosage, posologie et décision "
            "ensuite) ; elle est marquée « ajouté par le relecteur ». Colonne commentaire : une remarque pour le "
            "prescripteur ou le pharmacien (jointe à la ligne dans le bundle FHIR)."
        ),
        # --- sign-off
        "signoff_title": "Signature",
        "signoff_help": (
            "La signature enregistre votre nom et l'heure dans la file, écrit le bundle FHIR relu (lignes "
            "approuvées actives, lignes rejetées retirées) et le plan de prise du patient. Chaque ligne doit être "
            "approuvée ou rejetée. « Enregistrer sans signer » garde votre travail pour plus tard."
        ),
        "reviewer_label": "Relecteur (nom et fonction)",
        "reviewer_placeholder": "ex. Dr Martin, médecin — ou M. Durand, pharmacien",
        "reviewer_auth": "Connecté en tant que {user}",
        "sign_btn": "Signer et enregistrer",
        "save_btn": "Enregistrer sans signer",
        "no_reviewer": "Indiquez votre nom de relecteur avant d'enregistrer.",
        "pending_lines": "Chaque ligne doit être approuvée ou rejetée avant la signature. En attente : {lines}.",
        "signed_ok": "✓ Signé par {actor} le {date} — statut : {status}.",
        "saved_ok": "Relecture enregistrée par {actor} le {date} (non signée) — statut : {status}.",
        "store_error": "Enregistrement impossible : {error}",
        # --- exports
        "exports_title": "Exports",
        "bundle_btn": "Bundle FHIR (R4B)",
        "report_btn": "Rapport (report.json)",
        "plan_btn": "Plan de prise du patient",
        "pseudo_btn": "Transcription pseudonymisée",
        "bundle_file": "Bundle FHIR (bundle.json)",
        "report_file": "Rapport (report.json)",
        "plan_file": "Plan de prise à imprimer (plan.html)",
        "ordonnance_btn": "Ordonnance",
        "ordonnance_file": "Ordonnance à imprimer (HTML, et PDF si Chromium est installé)",
        "no_prescriber": "Pas de profil de prescripteur : lancez la page avec --prescriber FICHIER (JSON : name, "
        "rpps, specialty, address, phone).",
        "ordonnance_pending": "Décidez chaque ligne avant d'imprimer l'ordonnance (en attente : {lines}).",
        "pseudo_file": "Transcription pseudonymisée (noms, dates, téléphones remplacés)",
        "plan_title": "Plan de prise du patient (lignes approuvées, dans la langue de la consultation)",
        "pseudo_name": "transcription-pseudonymisee.txt",
        # --- errors
        "no_audio": "Aucun enregistrement : déposez un fichier audio ou enregistrez avec le micro.",
        "not_allowed": "Votre rôle ne permet pas de {action}.",
        "action_transcribe": "transcrire une consultation",
        "action_edit": "modifier une relecture",
        "action_sign": "signer",
        "no_report": "Aucun rapport ouvert : traitez un enregistrement ou ouvrez une consultation de la file.",
        "no_job": "Choisissez une consultation dans la file.",
        "unknown_job": "Consultation introuvable dans la file : {job}.",
        "pipeline_error": "Échec du traitement : {error}",
        "table_error": "Le tableau contient des valeurs non reconnues ; rien n'a été enregistré :\n{errors}",
        "cell_error": "ligne {line}, colonne « {column} » : « {value} » non reconnu ({expected})",
        "unknown_line": "ligne « {line} » inconnue (pour ajouter un médicament, laissez l'identifiant vide)",
        "added_no_name": "ligne ajoutée {line} : indiquez le médicament dans la colonne du nom",
        "duplicate_line": "ligne « {line} » présente deux fois",
        "bad_row": "ligne {index} : {count} colonnes au lieu de {expected}",
        "empty_name": "le nom normalisé ne peut pas être vide",
        "expect_quantity": "attendu : « 500 mg », « 1 comprimé », « 1-2 comprimé » ou vide",
        "expect_frequency": "attendu : « 3/j », « 1-2/j », « 1/8h », « 2/sem » ou vide",
        "expect_duration": "attendu : « 7 j », « 2 sem », « 3 mois » ou vide",
        "expect_when": "attendu : moments séparés par des virgules (matin, midi, soir...) ou codes FHIR",
        "expect_bool": "attendu : oui ou non",
        "expect_status": "attendu : nouveau, renouvelé, modifié, arrêté ou mentionné",
        "expect_decision": "attendu : approuvé, rejeté ou en attente",
        "expect_atc": "attendu : un code ATC (ex. J01CA04) ou vide",
        # --- words
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
        "col_decision": "décision",
        "col_ald": "ALD",
        "col_comment": "commentaire",
    },
    "en": {
        "title": "consult — consultation review",
        "header": (
            "<h1>consult — consultation review</h1>"
            "<p class='ai-warning'>⚠️ <b>Draft produced by AI.</b> The transcript and the prescription lines are "
            "generated automatically and may contain errors (misheard words, doses, speakers). <b>A doctor or "
            "pharmacist must check every line</b> before any clinical use (HAS 2025 guidance on generative AI "
            "in healthcare). Nothing leaves this machine.</p>"
        ),
        "tab_doctor": "New consultation (doctor)",
        "tab_queue": "Review queue (pharmacist)",
        "tab_live": "Live (doctor)",
        "live_help": "Press **Record**: the transcript and the medication lines appear during the consultation "
                     "(grey text: still tentative). You may already approve or reject lines. When you stop, the "
                     "full processing (speakers, roles, both recognition passes, extraction) replaces this draft; "
                     "your decisions are kept for the lines that are the same.",
        "live_audio": "Microphone (live)",
        "live_idle": "Not recording.",
        "live_listening": "Listening…",
        "live_no_cards": "No medicine heard yet.",
        "live_gone": "no longer heard",
        "live_earlier": "earlier turns (in the final report)",
        "live_transcript": "Live transcript",
        "live_cards": "Medicines heard",
        "live_approve": "Approve these lines",
        "live_reject": "Reject these lines",
        "live_ready": "Ready: press **Record**.",
        "live_running": "Recording: {seconds:.0f} s heard, {cards} line(s).",
        "live_lost": "⚠️ About {seconds:.0f} s of audio did not reach the server (server busy): those passages are "
                     "missing from the transcript.",
        "live_lost_final": "⚠️ **About {seconds:.0f} s of the recording did not reach the server** (server busy): the "
                           "report covers only the audio received. Go over the treatment with the patient, or record "
                           "the consultation to a file.",
        "live_final": "Processing the whole recording…",
        "live_replaced": "The full report replaces the live draft; {carried} of {made} decision(s) carried over.",
        "live_unheard": "**Not in the full report**, check the recording before signing: {lines}.",
        "live_unheard_approved": "approved live",
        "live_unheard_seen": "seen live",
        "live_failed": "Live decoding stopped ({error}); the full processing uses what was recorded.",
        "doctor_help": (
            "Upload the consultation recording or record it with the microphone, then click **Transcribe and "
            "extract**. The report opens below and joins the review queue."
        ),
        "audio_in": "Consultation recording (file or microphone)",
        "run": "Transcribe and extract",
        "queue_help": (
            "Consultations processed (on this page or in a batch) wait here for review. Click a row, or pick it "
            "in the list, to open it."
        ),
        "filter_label": "Show",
        "refresh": "Refresh",
        "queue_label": "Consultations",
        "open_label": "Consultation to open",
        "open_btn": "Open",
        "queue_empty": "No consultation in this category.",
        "q_received": "received",
        "q_file": "recording",
        "q_language": "language",
        "q_duration": "duration",
        "q_medications": "medications",
        "q_to_check": "to check",
        "q_status": "status",
        "q_last_review": "last review",
        "f_to_review": "to review",
        "f_partly_approved": "partly approved",
        "f_approved": "approved",
        "f_rejected": "rejected",
        "f_all": "all",
        "rs_to_review": "to review",
        "rs_approved": "approved",
        "rs_rejected": "rejected",
        "rs_partly_approved": "partly approved",
        "ev_signed": "signed",
        "ev_reviewed": "reviewed",
        "ev_edited": "edited",
        "ev_approved": "approved",
        "ev_rejected": "rejected",
        "by_on": "{action} by {actor} on {date}",
        "never_reviewed": "not reviewed yet",
        "stage_models": "Loading the models (first use)",
        "stage_audio": "Reading the recording",
        "stage_diarisation": "Separating the voices",
        "stage_transcription": "Transcribing",
        "stage_extraction": "Extracting the medications",
        "stage_store": "Saving to the queue",
        "already_done": "This recording was already processed: the report is reopened from the queue.",
        "received": "Received",
        "duration_label": "Duration",
        "language_label": "Language",
        "speakers_label": "Speakers",
        "medications_label": "Medications",
        "to_review_label": "to check",
        "warnings_label": "Warnings",
        "last_review": "Last review",
        "job_label": "Record",
        "no_report_open": "No report open: process a recording or open a consultation from the queue.",
        "lines_title": "Medications — decide line by line",
        "lines_help": (
            "For each line: listen to the passage (▶), read the alerts, then choose **approved** or **rejected**. "
            "Correct a value in the table below: the line updates."
        ),
        "no_lines": "No medication was detected in this consultation.",
        "decision_label": "Decision for {line}",
        "approve_all": "Approve all",
        "reset": "Back to the extraction",
        "edited_badge": "✎ corrected",
        "added_badge": "+ added by the reviewer",
        "added_note": "Added at review: not in the transcript, nothing to listen to.",
        "heard": "heard",
        "confidence": "confidence {pct} %",
        "listen": "Listen to this passage",
        "no_flags": "No alert.",
        "stop_schedule": "to stop",
        "sev_critical": "Critical",
        "sev_warning": "Warning",
        "sev_info": "Note",
        "table_problems": "The table holds values that cannot be read:",
        "too_many_lines": 'Only the first {n} lines have a card: decide the others in the table\'s "decision" '
        "column.",
        "player": "Recording",
        "player_help": "Click a ▶ time stamp or a sentence to hear it.",
        "audio_missing": "The recording is not available on this machine.",
        "transcript": "Transcript by speaker turn",
        "transcript_help": "<mark class='low'>Highlighted</mark>: word recognised with a low probability "
        "(< 0.6); <b class='num'>bold</b>: number.",
        "empty_transcript": "No speech recognised.",
        "table": "Correct the fields (editable table)",
        "decision_help": (
            'Double-click a cell to correct it, Enter to confirm. Formats: strength/dose "500 mg", "1 tablet", '
            '"1-2 tablet"; frequency "3/d" (3 a day), "1/8h" (every 8 h), "2/wk"; duration "7 d", "2 wk", '
            '"3 mo"; times "morning, evening"; as needed "yes"/"no"; decision "approved", "rejected" or '
            '"pending"; ALD "yes" for a line treating the patient\'s long-term condition (affection de longue '
            'durée). An empty cell clears the value. A medicine that was said but is missing: add a row to the table '
            '(a cell\'s ⋮ menu, "Add row below") and write its name in the normalised name column (then strength, '
            'posology and decision); it is marked "added by the reviewer". Comment column: a remark for the prescriber '
            'or the pharmacist (attached to the line in the FHIR bundle).'
        ),
        "signoff_title": "Sign-off",
        "signoff_help": (
            "Signing records your name and the time in the queue, writes the reviewed FHIR bundle (approved "
            "lines active, rejected lines removed) and the patient's plan. Every line must be approved or "
            'rejected. "Save without signing" keeps your work for later.'
        ),
        "reviewer_label": "Reviewer (name and role)",
        "reviewer_placeholder": "e.g. Dr Martin, GP — or Mr Durand, pharmacist",
        "reviewer_auth": "Logged in as {user}",
        "sign_btn": "Sign and save",
        "save_btn": "Save without signing",
        "no_reviewer": "Enter your reviewer name before saving.",
        "pending_lines": "Every line must be approved or rejected before signing. Pending: {lines}.",
        "signed_ok": "✓ Signed by {actor} on {date} — status: {status}.",
        "saved_ok": "Review saved by {actor} on {date} (not signed) — status: {status}.",
        "store_error": "Could not save: {error}",
        "exports_title": "Exports",
        "bundle_btn": "FHIR bundle (R4B)",
        "report_btn": "Report (report.json)",
        "plan_btn": "Patient's medication plan",
        "pseudo_btn": "Pseudonymised transcript",
        "bundle_file": "FHIR bundle (bundle.json)",
        "report_file": "Report (report.json)",
        "plan_file": "Printable plan (plan.html)",
        "ordonnance_btn": "Prescription",
        "ordonnance_file": "Printable prescription (HTML, and PDF when Chromium is installed)",
        "no_prescriber": "No prescriber profile: start the page with --prescriber FILE (JSON: name, rpps, "
        "specialty, address, phone).",
        "ordonnance_pending": "Decide every line before printing the prescription (pending: {lines}).",
        "pseudo_file": "Pseudonymised transcript (names, dates, phone numbers replaced)",
        "plan_title": "Patient's medication plan (approved lines, in the consultation's language)",
        "pseudo_name": "transcript-pseudonymised.txt",
        "no_audio": "No recording: upload an audio file or record with the microphone.",
        "not_allowed": "Your role does not allow you to {action}.",
        "action_transcribe": "transcribe a consultation",
        "action_edit": "edit a review",
        "action_sign": "sign",
        "no_report": "No report open: process a recording or open a consultation from the queue.",
        "no_job": "Pick a consultation in the queue.",
        "unknown_job": "Consultation not found in the queue: {job}.",
        "pipeline_error": "Processing failed: {error}",
        "table_error": "The table holds values that cannot be read; nothing was saved:\n{errors}",
        "cell_error": 'line {line}, column "{column}": "{value}" not understood ({expected})',
        "unknown_line": 'unknown line "{line}" (to add a medicine, leave the id empty)',
        "added_no_name": "added line {line}: write the medicine in the name column",
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
        "col_decision": "decision",
        "col_ald": "ALD",
        "col_comment": "comment",
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

# Period and duration units as written in the table cells (the parser reads both languages).
UNIT_LABELS: dict[str, dict[str, str]] = {
    "fr": {"h": "h", "d": "j", "wk": "sem", "mo": "mois"},
    "en": {"h": "h", "d": "d", "wk": "wk", "mo": "mo"},
}

_MONTHS_SHORT = {
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
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


def queue_headers(language: str) -> list[str]:
    """Localised headers of the queue table, in :data:`QUEUE_COLUMNS` order."""
    t = texts(language)
    return [t[f"q_{key}"] for key in QUEUE_COLUMNS]


def month_short(month: int, language: str) -> str:
    """Abbreviated month name (1-12): ``mars`` / ``Mar``."""
    return _MONTHS_SHORT[check_language(language)][month - 1]
