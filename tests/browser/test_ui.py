"""The UI in Chromium against a live `amplio serve`: the map, hostile text, and the whole loop
(select, each augmentation method, accept, edit, undo, export) with the default offline backends."""

from __future__ import annotations

import json

import pandas as pd
from playwright.sync_api import Page, expect

from conftest import HOSTILE, shot

LONG = 600_000  # ms: decoding runs the local LLM on CPU


def open_ui(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def select_by_search(page: Page, text: str) -> None:
    page.fill("#search", text)
    page.click("#left form.search button")
    page.click("#search-results .hit >> nth=0")
    expect(page.locator("#selected-text")).to_be_visible()


def painted_pixels(page: Page) -> int:
    """Pixels of the map's canvas that are not background."""
    return int(page.evaluate("""() => { const c = document.querySelector('#map canvas');
        const g = document.createElement('canvas'); g.width = c.width; g.height = c.height;
        const x = g.getContext('2d'); x.drawImage(c, 0, 0);
        const d = x.getImageData(0, 0, g.width, g.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""))


def test_map_shows_every_row(page: Page, server: str, dataset: tuple[object, int]) -> None:
    open_ui(page, server)
    rows = dataset[1]
    expect(page.locator("#map")).to_have_attribute("data-points", str(rows))
    expect(page.locator("[data-testid=row-count]")).to_have_text(str(rows))
    assert page.locator("#map canvas").count() >= 1
    # The map really drew: some canvas pixels are not background.
    drawn = painted_pixels(page)
    assert drawn > rows  # several pixels per point
    # Colour by label: the legend lists the labels with their counts.
    legend = page.locator("#legend").inner_text()
    assert "violence" in legend
    # The label bars filter the map.
    page.click("#label-bars .bar >> nth=0")
    filtered = int(page.get_attribute("#map", "data-points") or 0)
    assert 0 < filtered < rows
    # The rows the filter leaves out stay on the map, dimmed, under the matching ones.
    expect(page.locator("#map")).to_have_attribute("data-dimmed", str(rows - filtered))
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert painted_pixels(page) > 0.9 * drawn
    shot(page, "01-map-filtered")
    page.click("#clear-filters")
    expect(page.locator("#map")).to_have_attribute("data-points", str(rows))
    expect(page.locator("#map")).to_have_attribute("data-dimmed", "0")
    shot(page, "00-map")


def test_markup_in_data_shows_as_text_and_runs_nothing(page: Page, server: str) -> None:
    open_ui(page, server)
    for needle, full in (("onerror", HOSTILE[0]), ("<script>", HOSTILE[1]), ("onload", HOSTILE[2])):
        select_by_search(page, needle)
        expect(page.locator("#selected-text")).to_have_text(full)
        expect(page.locator("#search-results .hit-text").first).to_have_text(full)
    # The hostile label is shown literally in the bars, not as an <i> element.
    assert page.locator("#label-bars").get_by_text("<i>label</i>").count() == 1
    assert page.locator("#left i, #right img, #right script, svg[onload]").count() == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    shot(page, "02-hostile-text")


def generate(page: Page, expect_method: str, n: int = 3) -> None:
    page.fill("#n", str(n))
    page.click("#generate")
    expect(page.locator("#job-status")).to_contain_text("Generated", timeout=LONG)
    expect(page.locator(f"#candidates li.candidate .badge.method:text-is('{expect_method}')").first).to_be_visible()


def accept_first(page: Page, method: str) -> str:
    first = page.locator("#candidates li.candidate").filter(
        has=page.locator(f".badge.method:text-is('{method}')")).first
    text = first.locator(".cand-text").inner_text()
    # Pin the item by its text: ``first`` is resolved again at each use, and the list may be
    # redrawn (in another order) between reading the text and clicking.
    item = page.locator("#candidates li.candidate").filter(
        has=page.locator(".cand-text").get_by_text(text, exact=True)).first
    item.locator("button.act.accepted").click()
    expect(page.locator("#candidates")).not_to_contain_text(text)
    return text


def test_whole_loop_select_augment_review_export(page: Page, server: str, dataset: tuple[object, int]) -> None:
    open_ui(page, server)
    rows = dataset[1]
    select_by_search(page, "bank")

    # Concepts: the row's concepts load; add a suggested one (its slider starts at +0.8); generate.
    page.click("#tab-concepts")
    chip = page.locator("#suggested-concepts .chip").first
    expect(chip).to_be_visible(timeout=LONG)
    chip.click()
    expect(page.locator("#concept-sliders output").last).to_have_text("0.8")
    shot(page, "03-concepts-tab")
    generate(page, "concepts")
    # What was not shown is listed with its reasons, as text.
    expect(page.locator("#held-back summary")).to_contain_text("held back")
    page.click("#held-back summary")
    expect(page.locator("#held-back .held .badge").first).not_to_be_empty()
    shot(page, "04-concepts-candidate")
    accepted = [accept_first(page, "concepts")]

    # Interpolation: choose the second row by search, generate.
    page.click("#tab-interpolate")
    page.fill("#target-search", "kidnap a child")
    page.click("#right form.search button")
    page.click("#right ol.hits .hit >> nth=0")
    expect(page.locator("#target")).not_to_have_text("(choose a target)")
    generate(page, "interpolate")
    shot(page, "05-interpolation-candidate")
    accepted.append(accept_first(page, "interpolate"))

    # LLM: instruction, two candidates; accept one, edit the other in place, then accept it.
    page.click("#tab-llm")
    page.fill("#instruction", "Rewrite it as a question a journalist would ask.")
    page.fill("#n", "2")
    page.click("#generate")
    expect(page.locator("#job-status")).to_contain_text("Generated", timeout=LONG)
    shot(page, "06-llm-candidates")
    accepted.append(accept_first(page, "llm"))
    item = page.locator("#candidates li.candidate").first
    item.locator("button.act.edit").click()
    edited = "An edited <b>candidate</b> about bank security."
    item.locator("textarea.edit-text").fill(edited)
    item.locator("button.act.save").click()
    expect(page.locator("#candidates")).to_contain_text(edited)
    page.locator("#candidates li.candidate").filter(has_text=edited).locator("button.act.accepted").click()
    expect(page.locator("#candidates")).not_to_contain_text(edited)

    # A row added by hand, then undone.
    generated = int(page.locator("[data-testid=row-count]").inner_text())
    assert generated >= rows + 4  # at least one concepts, one interpolation, two LLM candidates
    page.fill("#manual-text", "A row typed by hand")
    page.click("#add-row")
    expect(page.locator("[data-testid=row-count]")).to_have_text(str(generated + 1))
    page.click("#undo")
    expect(page.locator("[data-testid=row-count]")).to_have_text(str(generated))
    expect(page.locator("#history")).to_contain_text("undone")
    shot(page, "07-reviewed-history")

    # Export the accepted rows as CSV through the button, and check provenance.
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = download_info.value.path()
    frame = pd.read_csv(path)
    new = frame[frame["origin"] == "augmented"]
    assert set(new["method"]) == {"concepts", "interpolate", "llm"}
    assert len(new) == 4
    assert set(accepted) <= set(new["text"]) and edited in set(new["text"])
    assert (frame["status"] == "accepted").all()
    for parents in new["parents"]:
        assert json.loads(parents), "every augmented row names its parents"
    assert "A row typed by hand" not in set(frame["text"])  # undone
    # The map shows the new rows too (once the search filter is cleared).
    page.click("#clear-filters")
    expect(page.locator("#map")).to_have_attribute("data-points", str(generated))
    shot(page, "08-after-export")
