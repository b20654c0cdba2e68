"""The Gaps view, the Coverage heatmap and the Report in Chromium, against a live `amplio serve` over
400 Do-Not-Answer prompts with the default offline backends: gaps on the map and in the list, a
gap filled by Interpolation, its candidate accepted and counted in the before/after report."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from conftest import shot

LONG = 600_000  # ms: decoding and training the concept model run on CPU


def open_ui(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def api(url: str, path: str) -> Any:
    return httpx.get(url + "api/" + path, timeout=120).raise_for_status().json()


def marker_centre(page: Page, gap_id: str) -> tuple[float, float]:
    ring = page.locator(f".gap-marker[data-gap='{gap_id}'] circle.gap-ring")
    return float(ring.get_attribute("cx") or "nan"), float(ring.get_attribute("cy") or "nan")


def test_gaps_fill_coverage_and_report(page: Page, gap_server: str) -> None:
    open_ui(page, gap_server)
    rows = int(page.get_attribute("#map", "data-points") or 0)
    assert rows == 400

    # Gaps: listed with rank, score, size, keywords and labels, and drawn on the map.
    page.click("#left-tab-gaps")
    items = page.locator("#gap-list li.gap")
    expect(items.first).to_be_visible(timeout=120_000)
    count = items.count()
    assert count >= 1
    expect(page.locator("#map")).to_have_attribute("data-gaps", str(count))
    assert page.locator("#map .gap-marker").count() == count
    gaps = {g["id"]: g for g in api(gap_server, "gaps?top=8")}  # the same search: same ids
    listed = [items.nth(k).get_attribute("data-gap") for k in range(count)]
    assert listed == list(gaps)
    first = gaps[listed[0]]
    expect(items.first.locator(".gap-head")).to_contain_text(f"#1 score {first['score']:.2f} · size {first['size']:.2f}")
    expect(items.first.locator(".gap-words")).to_have_text(", ".join(first["description"]))
    for label, n in first["labels"].items():
        expect(items.first.locator(".gap-labels")).to_contain_text(f"{label} {n}")
    expect(page.locator(f".gap-marker[data-gap='{listed[0]}'] text.gap-rank")).to_have_text("1")
    box = page.locator("#map").bounding_box()
    assert box is not None
    for gap_id in listed:  # every marker sits inside the map at first
        x, y = marker_centre(page, gap_id)
        assert 0 <= x <= box["width"] and 0 <= y <= box["height"]

    # Clicking a gap in the list centres and highlights it, with lines to its rim rows.
    target = listed[-1]
    items.nth(count - 1).locator(".gap-head").click()
    expect(items.nth(count - 1)).to_have_class("gap on")
    expect(page.locator(f".gap-marker[data-gap='{target}']")).to_have_class("gap-marker focused")
    page.wait_for_timeout(300)  # one animation frame redraws the overlay
    x, y = marker_centre(page, target)
    assert abs(x - box["width"] / 2) < 2 and abs(y - box["height"] / 2) < 2
    assert page.locator("#map line.gap-rim").count() == len(gaps[target]["rim_rows"])
    if count > 1:  # the badge on the map selects the gap in the list
        badge = page.locator(f".gap-marker[data-gap='{listed[0]}'] circle.gap-badge")
        bx, by = marker_centre(page, listed[0])
        if 0 <= bx <= box["width"] and 0 <= by <= box["height"]:
            badge.click()
        else:  # zoomed in on the last gap, the first one's badge may lie outside the map
            badge.dispatch_event("click")
        expect(items.first).to_have_class("gap on")
        expect(items.nth(count - 1)).to_have_class("gap")
    shot(page, "09-gaps")

    # Fill the first gap by interpolation: a candidate appears in the list and on the map.
    item = items.first
    item.locator("select.gap-method").select_option("interpolate")
    item.locator("input.gap-n").fill("1")
    item.locator("button.gap-fill").click()
    expect(page.locator("#job-status")).to_contain_text("Generated", timeout=LONG)
    candidate = page.locator("#candidates li.candidate").first
    expect(candidate.locator(".badge.method")).to_have_text("interpolate")
    expect(candidate.locator(".badge.gap")).to_have_text(listed[0])
    expect(page.locator("#map")).to_have_attribute("data-points", str(rows + 1))
    assert page.locator("#map circle.candidate-ring").count() == 1
    made = api(gap_server, "rows?status=candidate")
    assert len(made) == 1 and made[0]["params"]["gap"] == listed[0]
    assert set(made[0]["parents"]) <= set(first["rim_rows"])
    expect(candidate.locator(".cand-text")).to_have_text(made[0]["text"])
    shot(page, "10-gap-filled")

    # Coverage: a label x concept heatmap with values on hover and suggested targets per label.
    page.click("#open-coverage")
    expect(page.locator("#sheet[data-view=coverage]")).to_have_attribute("data-ready", "true", timeout=LONG)
    cov = api(gap_server, "coverage")
    assert len(cov["labels"]) == 5 and cov["concepts"]
    cells = page.locator("#coverage-heatmap rect.cell")
    assert cells.count() == len(cov["labels"]) * len(cov["concepts"])
    assert page.locator("#coverage-heatmap text.row-name").count() == 5
    i, j = max(((a, b) for a in range(len(cov["labels"])) for b in range(len(cov["concepts"]))),
               key=lambda ab: cov["rates"][ab[0]][ab[1]])
    cell = page.locator(f"#coverage-heatmap rect.cell[data-label='{cov['labels'][i]}']"
                        f"[data-concept='{cov['concepts'][j]['id']}']")
    assert float(cell.get_attribute("data-rate") or 0) == pytest.approx(cov["rates"][i][j]) and cov["rates"][i][j] > 0
    cell.hover()
    readout = page.locator("#coverage-readout")
    expect(readout).to_contain_text(cov["labels"][i])
    expect(readout).to_contain_text(f"active on {round(100 * cov['rates'][i][j])}% of {cov['label_rows'][i]} rows")
    targets = page.locator("#coverage-targets .target")
    assert targets.count() == 5
    some = next(name for name in cov["labels"] if cov["suggestions"][name])
    pick = cov["suggestions"][some][0]
    expect(page.locator(f"#coverage-targets .target[data-label='{some}'] li").first).to_contain_text(pick["label"])
    assert page.locator("#coverage-heatmap rect.cell.suggested").count() >= 1
    shot(page, "11-coverage")
    page.click("#sheet-close")
    expect(page.locator("#sheet")).to_be_hidden()

    # Accept the candidate; the report shows one more row after than before.
    candidate.locator("button.act.accepted").click()
    expect(page.locator("#candidates li.candidate")).to_have_count(0)
    page.click("#open-report")
    expect(page.locator("#sheet[data-view=report]")).to_have_attribute("data-ready", "true", timeout=LONG)
    report = api(gap_server, "report")
    charts = page.locator("#report svg.report-chart")
    assert charts.count() == 4
    vendi = page.locator("svg.report-chart[data-measure=vendi] g.bar-group[data-group='all rows']")
    before, after = report["before"]["all"]["vendi"], report["after"]["all"]["vendi"]
    assert float(vendi.get_attribute("data-before") or 0) == pytest.approx(before) and before > 1
    expect(vendi.locator("text.value-before")).to_have_text(f"{before:.2f}")
    expect(vendi.locator("text.value-after")).to_have_text(f"{after:.2f}")
    counted = page.locator("svg.report-chart[data-measure=rows] g.bar-group[data-group='all rows']")
    assert counted.get_attribute("data-before") == "400" and counted.get_attribute("data-after") == "401"
    expect(counted.locator("text.bar-change")).to_have_text("+1")
    groups = page.locator("svg.report-chart[data-measure=mean_nn_distance] g.bar-group")
    labels = set(report["before"]["labels"]) | set(report["after"]["labels"])
    assert len(labels) >= 5 and groups.count() == 1 + len(labels)  # all rows and each label
    expect(page.locator("#report-gaps")).to_contain_text(f"{report['gaps']['count']} · total score")
    shot(page, "12-report")


def test_gaps_against_the_reference_show_its_examples(page: Page, gap_server: str,
                                                      garden_questions: list[str]) -> None:
    open_ui(page, gap_server)
    page.click("#left-tab-gaps")
    expect(page.locator("#gap-list li.gap").first).to_be_visible(timeout=120_000)
    against = page.locator("#gap-against")
    expect(against).to_be_visible()
    expect(against.locator("option[value=reference]")).to_have_text("not covered vs reference.csv")
    expect(page.locator("#gap-intro")).to_contain_text("emptier than their surroundings")
    against.select_option("reference")
    expect(page.locator("#gap-intro")).to_contain_text("the reference prompts cover and the rows do not")
    first = page.locator("#gap-list li.gap").first
    expect(first).to_have_attribute("data-gap", re.compile("^refgap-"), timeout=120_000)
    expect(first.locator(".gap-head")).to_contain_text(re.compile(r"reference rows \d+$"))
    examples = first.locator(".gap-examples li").all_inner_texts()
    assert examples and sum(text in garden_questions for text in examples) >= 2, examples
    found = api(gap_server, "gaps?top=8&against=reference")
    assert [item.get_attribute("data-gap") for item in page.locator("#gap-list li.gap").all()] == [
        g["id"] for g in found]
    assert page.locator("#map .gap-marker").count() == len(found)
    shot(page, "gaps-reference")
