"""The review page in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page runs in this process on 127.0.0.1 with a throw-away report store and the real pipeline (bundled
models). The doctor uploads audio_fixtures/fr_consult_1.flac, edits a dose, approves and rejects lines, signs,
downloads the bundle; the pharmacist finds the report in the queue, reads the flags and signs it off.

Playwright is used with the system Chromium (``executable_path``): ``playwright install`` is never needed.
Screenshots go to ``test-artifacts/``; with ``CONSULT_UPDATE_SCREENSHOT=1`` the review page's screenshot is
also written to ``docs/img/review.png`` (the one the README and docs/review.md show).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import chromium_path, free_port

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from fhir.resources.R4B.bundle import Bundle  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from consult.fhir import line_resources  # noqa: E402
from consult.store import ReportStore  # noqa: E402
from demo.app import COL, build_app  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "audio_fixtures" / "fr_consult_1.flac"
ARTIFACTS = ROOT / "test-artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "img" / "review.png"
LINE_ID_EXT = "urn:consult:fhir:extension:line-id"
REVIEW_EXT = "urn:consult:fhir:extension:review"
DOCTOR = "Dr Test, médecin"
PHARMACIST = "M. Durand, pharmacien"
REPORT_TIMEOUT_MS = 300_000  # the first run loads the models, then transcribes one minute of audio on CPU




@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pipeline: Any) -> Iterator[dict[str, Any]]:
    """The review page on 127.0.0.1 with a fresh SQLite store and the real pipeline."""
    tmp = tmp_path_factory.mktemp("review-site")
    store_path = tmp / "consult.db"
    app = build_app(lambda: pipeline, language="fr", store=store_path, audio_dir=tmp / "audio")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False, ssr_mode=False,
               quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "store": store_path, "app": app}
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=["--autoplay-policy=no-user-gesture-required"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab; at the end, checks that the page asked nothing of any other machine."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True, locale="fr-FR")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    hosts: set[str] = set()
    pg.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or urlsplit(request.url).scheme))
    try:
        yield pg
    finally:
        context.close()
    assert hosts <= {"127.0.0.1", "data", "blob"}, f"the page contacted other hosts: {sorted(hosts)}"


# ---------------------------------------------------------------------------------------------- helpers


def _line_id(page: Page, drug: str) -> str:
    """The id of the medication card whose heading contains ``drug`` (accent-insensitive prefix)."""
    card = page.locator(".ml", has=page.locator(".ml-name", has_text=re.compile(drug, re.I)))
    expect(card).to_have_count(1)
    line_id = card.get_attribute("data-line")
    assert line_id
    return line_id


def _card(page: Page, line_id: str) -> Any:
    return page.locator(f'.ml[data-line="{line_id}"]')


def _decide(page: Page, line_id: str, label: str, state: str) -> None:
    """Choose a line's decision on its card; the card turns green (approved) or red (rejected)."""
    page.locator(".med-row", has=_card(page, line_id)).locator("label", has_text=label).click()
    expect(_card(page, line_id)).to_have_class(re.compile(rf"\bdec-{state}\b"))


def _table_row(page: Page, line_id: str) -> int:
    cells = page.locator('#consult-table [data-testid^="cell-"][data-testid$="-0"]')
    texts = [c.inner_text().strip() for c in cells.all()]
    assert line_id in texts, texts
    testid = cells.nth(texts.index(line_id)).get_attribute("data-testid")
    assert testid is not None
    return int(testid.split("-")[1])


def _edit_cell(page: Page, line_id: str, column: str, value: str) -> None:
    _set_cell(page, _table_row(page, line_id), column, value)


def _set_cell(page: Page, row: int, column: str, value: str) -> None:
    """Type ``value`` into the cell of table row ``row`` (also a row added in the browser, with no line id yet)."""
    cell = page.locator(f'#consult-table [data-testid="cell-{row}-{COL[column]}"]')
    cell.dblclick()
    editor = cell.locator("textarea, input").first
    editor.fill(value)
    editor.press("Enter")
    expect(cell).to_contain_text(value)


def _wait_audio_at(page: Page, seconds: float) -> None:
    """Wait until the player is at ``seconds`` (it plays on, so within 1.5 s)."""
    page.wait_for_function(
        f"Math.abs(document.querySelector('#consult-player audio').currentTime - {seconds}) < 1.5"
    )


def _download(page: Page, file_component: str, dest: Path) -> Path:
    link = page.locator(f"#{file_component} a").first
    expect(link).to_be_visible()
    with page.expect_download() as info:
        link.click()
    info.value.save_as(dest)
    return dest


def _filter(page: Page, label: str) -> None:
    page.locator("#consult-queue-filter").get_by_label(label, exact=True).check()


def _requests(bundle: Bundle) -> dict[str, Any]:
    return line_resources(bundle)


def _screenshot(page: Page, name: str) -> Path:
    """The review area (report header, cards, transcript) as a pharmacist sees it on a 1440-px screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#consult-report-head").scroll_into_view_if_needed()
    head = page.locator("#consult-report-head").bounding_box()
    end = page.get_by_role("button", name="Tout approuver").bounding_box()
    assert head is not None and end is not None
    top = page.evaluate("window.scrollY") + head["y"] - 12
    height = min(end["y"] + end["height"] - head["y"] + 24, 1700)
    path = ARTIFACTS / name
    page.screenshot(path=path, full_page=True, clip={"x": 0, "y": top, "width": 1440, "height": height})
    page.screenshot(path=ARTIFACTS / name.replace(".png", "-full.png"), full_page=True)
    return path


def _save_for_docs(shot: Path, dest: Path) -> None:
    """The screenshot with a 256-colour palette (text stays sharp; a third of the size)."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(shot) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            dest, optimize=True
        )


# ------------------------------------------------------------------------------------------------ tests


def test_doctor_uploads_edits_approves_rejects_and_signs(site: dict[str, Any], page: Page, tmp_path: Path) -> None:
    page.goto(site["url"])
    expect(page.get_by_role("tab", name="Nouvelle consultation (médecin)")).to_be_visible()
    page.locator("#consult-audio-in input[type=file]").set_input_files(FIXTURE)
    expect(page.locator("#consult-audio-in audio").first).to_be_attached()
    page.locator("#consult-run").click()
    # progress while it runs, then the report
    expect(page.locator("#consult-audio-in")).to_contain_text(re.compile("Chargement|Séparation|Transcription"))
    expect(page.locator(".ml").first).to_be_visible(timeout=REPORT_TIMEOUT_MS)

    # the transcript: speaker turns with roles and time stamps, low-probability words highlighted
    transcript = page.locator("#consult-transcript")
    expect(transcript.locator(".turn").first).to_be_visible()
    assert transcript.locator(".turn").count() >= 4
    expect(transcript.locator(".turn .who", has_text="Médecin").first).to_be_visible()
    expect(transcript.locator(".turn .who", has_text="Patient").first).to_be_visible()
    expect(transcript.locator(".ts").first).to_have_text(re.compile(r"▶ \d\d:\d\d"))
    assert transcript.locator("mark.low").count() >= 1

    amox, para = _line_id(page, "amoxicilline"), _line_id(page, "parac")
    others = [lid for lid in page.locator(".ml").evaluate_all("els => els.map(e => e.dataset.line)")
              if lid not in (amox, para)]

    # click a sentence, then a medication's evidence: the player jumps to that moment
    segment = transcript.locator(".seg").nth(transcript.locator(".seg").count() - 2)
    segment_start = float(segment.get_attribute("data-seek") or "nan")
    segment.click()
    _wait_audio_at(page, segment_start)
    evidence = _card(page, amox).locator(".ts")
    evidence_start = float(evidence.get_attribute("data-seek") or "nan")
    evidence.click()
    _wait_audio_at(page, evidence_start)

    # edit the amoxicillin dose, approve it; reject paracetamol
    _edit_cell(page, amox, "dose", "2 comprimé")
    expect(_card(page, amox)).to_contain_text("2 comprimés")
    expect(_card(page, amox).locator(".ml-edited")).to_be_visible()
    _decide(page, amox, "approuvé", "approved")
    _decide(page, para, "rejeté", "rejected")

    # signing with undecided lines is refused and says which
    page.locator("#consult-reviewer textarea, #consult-reviewer input").first.fill(DOCTOR)
    if others:
        page.locator("#consult-sign").click()
        expect(page.get_by_text(re.compile("En attente :.*" + re.escape(others[0])))).to_be_visible()
        page.locator(".toast-close").first.click()
        for line_id in others:
            _decide(page, line_id, "approuvé", "approved")
    page.locator("#consult-sign").click()
    status = page.locator("#consult-signoff-status")
    expect(status).to_contain_text(f"Signé par {DOCTOR}", timeout=60_000)
    expect(status).to_contain_text("approuvé en partie")
    expect(page.locator("#consult-report-head")).to_contain_text("signé par Dr Test")

    # the reviewed bundle, downloaded from the page
    bundle = Bundle.model_validate_json(_download(page, "consult-bundle-file", tmp_path / "bundle.json").read_text())
    requests = _requests(bundle)
    assert para not in requests
    approved = requests[amox]
    assert (approved.status, approved.intent) == ("active", "order")
    dose = approved.dosageInstruction[0].doseAndRate[0].doseQuantity
    assert (float(dose.value), dose.unit) == (2.0, "comprimé")
    review = {e.url: (e.valueCode or e.valueString or e.valueBoolean) for e in
              next(x for x in approved.extension if x.url == REVIEW_EXT).extension}
    assert review["reviewer"] == DOCTOR and review["decision"] == "approved" and review["edited"] is True
    assert all(r.status in ("active", "stopped") for r in requests.values())

    # the printable patient plan: the approved amoxicillin, not the rejected paracetamol
    plan = _download(page, "consult-plan-file", tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "Amoxicilline" in plan and "2 comprimés" in plan and "aracétamol" not in plan

    # the store: the signed event with who and the decisions, and the reviewed bundle
    with ReportStore.open(site["store"]) as store:
        (job,) = store.list()
        assert (job.status, job.review_status, job.input_name) == ("done", "partly_approved", FIXTURE.name)
        signed = [e for e in store.history(job.id) if e.kind == "signed"]
        assert len(signed) == 1 and signed[0].actor == DOCTOR
        decisions = {d["line_id"]: d for d in signed[0].details["decisions"]}
        assert decisions[amox]["decision"] == "approved" and decisions[amox]["edited"] == ["dose"]
        assert decisions[para]["decision"] == "rejected"
        stored = _requests(Bundle.model_validate_json(store.bundle_json(job.id)))
        assert set(stored) == set(requests) and para not in stored

    page.mouse.move(2, 2)
    shot = _screenshot(page, "review.png")
    if os.environ.get("CONSULT_UPDATE_SCREENSHOT") == "1":
        _save_for_docs(shot, DOCS_SCREENSHOT)
        assert DOCS_SCREENSHOT.stat().st_size < 300_000


def test_pharmacist_queue_flags_and_sign_off(site: dict[str, Any], page: Page, tmp_path: Path) -> None:
    service = site["app"].consult_service
    job_id, _ = service.process(FIXTURE)  # the real pipeline; reused when the doctor's test stored it
    before = service.store.get(job_id).review_status

    page.goto(site["url"])
    page.get_by_role("tab", name="File de relecture (pharmacien)").click()
    _filter(page, "toutes")
    queue = page.locator("#consult-queue")
    expect(queue).to_contain_text(FIXTURE.name)
    label = {"to_review": "à relire", "partly_approved": "approuvé en partie"}[before]
    expect(queue).to_contain_text(label)

    page.locator('#consult-queue [data-testid="cell-0-1"]').click()
    expect(page.locator("#consult-report-head")).to_contain_text(FIXTURE.name)
    expect(page.locator(".ml").first).to_be_visible()
    # the flags of consult.review, next to their lines
    flags = page.locator(".ml .flag")
    assert flags.count() >= 1
    expect(flags.first.locator(".sev")).to_have_text(re.compile("Critique|Attention|À noter"))

    # pseudonymised transcript for sharing
    page.get_by_role("button", name="Transcription pseudonymisée").click()
    text = _download(page, "consult-pseudo-file", tmp_path / "transcript.txt").read_text(encoding="utf-8")
    assert re.search(r"^\[00:\d\d\] Médecin : ", text, re.M)

    # a drug the patient named that the recording's reading missed: the pharmacist adds it in the table
    last = len(page.locator('#consult-table [data-testid^="cell-"][data-testid$="-0"]').all()) - 1
    cell = page.locator(f'#consult-table [data-testid="cell-{last}-{COL["name"]}"]')
    cell.click()
    cell.hover()
    cell.locator('[aria-label="Open cell menu"]').click()
    page.get_by_text(re.compile(r"^\s*(Ajouter une ligne en dessous|Add row below)\s*$")).click()  # Gradio's menu
    _set_cell(page, last + 1, "name", "Kardégic")
    added = _card(page, "added-1")
    expect(added).to_contain_text("ajouté par le relecteur")
    expect(added).to_contain_text("acide acétylsalicylique")

    page.get_by_role("button", name="Tout approuver").click()
    for card in page.locator(".ml").all():
        expect(card).to_have_class(re.compile(r"\bdec-approved\b"))
    page.locator("#consult-reviewer textarea, #consult-reviewer input").first.fill(PHARMACIST)
    page.locator("#consult-sign").click()
    expect(page.locator("#consult-signoff-status")).to_contain_text(f"Signé par {PHARMACIST}", timeout=60_000)

    _filter(page, "approuvées")
    expect(queue).to_contain_text(FIXTURE.name)
    expect(queue).to_contain_text("signé par M. Durand")
    _filter(page, "à relire")
    expect(page.get_by_text("Aucune consultation dans cette catégorie.")).to_be_visible()

    with ReportStore.open(site["store"]) as store:
        assert store.get(job_id).review_status == "approved"
        last = [e for e in store.history(job_id) if e.kind == "signed"][-1]
        assert last.actor == PHARMACIST
        assert all(d["decision"] == "approved" for d in last.details["decisions"])
        bundle = json.loads(store.bundle_json(job_id))
        requests = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
        assert requests and all((r["status"], r["intent"]) == ("active", "order") for r in requests)
        typed = [r for r in requests if any(x.get("valueString") == "added-1" for x in r["extension"])]
        assert len(typed) == 1 and "Added by the reviewer" in typed[0]["note"][0]["text"]
        assert [d for d in last.details["decisions"] if d["line_id"] == "added-1"][0]["added"] is True
