"""The UI in a real browser: API and UI as child processes on the demo lab, headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright; no browser is ever downloaded).

Asks "which runs used sample <example_sample>?" as alice and checks the table against truth.json
(on screen and in the CSV download), the citation cards and their links, then a follow-up whose
citations link to the ELN. The screenshot goes to artifacts/ui-e2e.png.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from scripted_api import INVENTED, SUPPORTED
from ui_demo import api_server, build_demo, ui_server

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ANSWER_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def servers(demo, tmp_path_factory):
    logs = tmp_path_factory.mktemp("ui-e2e-logs")
    with api_server(demo, logs) as api, ui_server(api, logs) as ui:
        yield api, ui


@pytest.fixture(scope="module")
def scripted_servers(demo, tmp_path_factory):
    """The API with a slow scripted model that plants an unsupported sentence, and its UI."""
    logs = tmp_path_factory.mktemp("ui-e2e-scripted-logs")
    with api_server(demo, logs, scripted=True) as api, ui_server(api, logs) as ui:
        yield api, ui


@contextmanager
def browser_page(url: str) -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1250})
        page = context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT_MS)
        page.goto(url)
        yield page
        browser.close()


@pytest.fixture
def page(servers):
    with browser_page(servers[1]) as page:
        yield page


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInput").locator("textarea")
    box.fill(question)
    box.press("Enter")


def test_runs_of_a_sample_in_the_browser(page, demo, tmp_path):
    sample = demo.example_sample
    expected = demo.runs_of(sample)
    page.get_by_text("Signed in as").wait_for()
    ask(page, f"which runs used sample {sample}?")

    page.get_by_text("complete result").wait_for()
    page.get_by_text(f"{len(expected)} runs", exact=True).wait_for()
    # The grid draws on a canvas; its accessible cells carry the text once it is painted.
    grid = page.get_by_test_id("stDataFrame")
    grid.locator("[role=gridcell]").first.wait_for(state="attached")
    cells = grid.locator("[role=gridcell]").all_inner_texts()
    for run in expected:
        assert run in cells, f"run {run} missing from the table: {cells}"

    # The CSV download holds exactly the runs truth.json lists.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "runs.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["Run"] for row in rows) == expected

    # One citation card per run, each naming its package revision (package@top hash).
    for run in expected:
        page.get_by_text(f"raw-run-{run}@").first.wait_for()
    page.wait_for_timeout(1000)  # let fonts and the grid settle for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-e2e.png"), full_page=True)

    # A card opens the asset's full metadata and provenance from the API.
    page.get_by_text("Full metadata and provenance").first.click()
    page.get_by_role("tab", name="Provenance").first.click()
    page.get_by_text("top_hash").filter(visible=True).first.wait_for()


def test_citation_links_open_the_eln_record_and_files(page, demo):
    sample = demo.example_sample
    page.get_by_text("Signed in as").wait_for()
    ask(page, f"what is sample {sample}?")
    # The demo links to nothing it does not serve: ELN records open from the API, as exported.
    page.get_by_role("button", name="ELN record").first.click()
    page.get_by_text("ELN record", exact=True).filter(visible=True).first.wait_for()
    page.get_by_text(f'"{sample}"').filter(visible=True).first.wait_for()
    assert page.get_by_role("link", name="Open ELN entry").count() == 0
    files = page.get_by_role("link", name="Open file")
    assert files.count() >= 1
    hrefs = [files.nth(i).get_attribute("href") for i in range(files.count())]
    assert all(h.startswith("file://") and str(demo.directory) in h for h in hrefs)
    assert any(sample in h for h in hrefs)


def test_bob_does_not_see_lab_a_runs(page, demo):
    sample = demo.example_sample
    page.get_by_text("bob (lab B)").click()
    page.get_by_text("Signed in as bob (lab B)").wait_for()
    ask(page, f"which runs used sample {sample}?")
    # The feedback buttons appear once the finished answer is drawn.
    page.get_by_role("button", name="Helpful").wait_for()
    body = page.locator("body").inner_text()
    for run in demo.runs_of(sample):
        assert run not in body


def test_download_and_preview_a_cited_file(page, demo, tmp_path):
    page.get_by_text("Signed in as").wait_for()
    ask(page, "what is in A00814_run_log.csv?")
    page.get_by_role("button", name="Helpful").wait_for()
    # The card of the run log (a CSV on the lab's disk), wherever it ranks.
    card = (
        page.get_by_test_id("stVerticalBlock")
        .filter(has_text="A00814_run_log.csv")
        .filter(has=page.get_by_role("button", name="Preview"))
        .last
    )
    card.get_by_role("button", name="Preview").click()
    page.get_by_text("Preview (csv)").wait_for()
    source = next(demo.directory.rglob("A00814_run_log.csv"))
    header = source.read_text().splitlines()[0]
    page.get_by_text(header.split(",")[0]).filter(visible=True).first.wait_for()

    card.get_by_role("button", name="Download").click()
    save = page.get_by_role("button", name="Save A00814_run_log.csv")
    save.wait_for()
    with page.expect_download() as download:
        save.click()
    saved = tmp_path / "run_log.csv"
    download.value.save_as(saved)
    assert saved.read_bytes() == source.read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / "ui-citation-card.png"))


def test_a_runs_row_opens_its_files(page, demo):
    sample = demo.example_sample
    run = demo.runs_of(sample)[0]
    page.get_by_text("Signed in as").wait_for()
    ask(page, f"which runs used sample {sample}?")
    page.get_by_role("button", name="Helpful").last.wait_for()
    page.get_by_text("Files of a run").last.wait_for()
    page.get_by_role("combobox").last.click()
    page.get_by_role("option", name=f"raw-run-{run}").click()
    # The run's package entries, each with Download and Preview through the API.
    page.get_by_text(".fastq.gz").first.wait_for()
    assert page.get_by_role("button", name="Download").count() >= 2


def test_unchecked_text_is_provisional_and_an_unsupported_sentence_is_retracted(scripted_servers):
    with browser_page(scripted_servers[1]) as page:
        page.get_by_text("Signed in as").wait_for()
        ask(page, "what protocol do we use for RNA extraction from liver tissue?")
        # While the model writes, its unchecked text is shown greyed under the "checking" label
        page.get_by_text("Checking against the cited sources").wait_for()
        # (in italics: <em>), the checked sentence above it in the answer's own style.
        page.locator("em").filter(has_text="reverse transcription").first.wait_for()
        page.get_by_text(SUPPORTED).first.wait_for()
        assert page.locator("em").filter(has_text=SUPPORTED).count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-provisional.png"), full_page=True)
        # ...and once the answer is done only the supported sentence is part of it.
        page.get_by_role("button", name="Helpful").wait_for()
        assert page.get_by_text("Checking against the cited sources").count() == 0
        answer = page.get_by_test_id("stChatMessage").last
        text = answer.inner_text()
        assert SUPPORTED in text
        assert INVENTED not in text
        page.get_by_text("1 generated sentence removed").wait_for()
