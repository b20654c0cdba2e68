"""UI benchmark on a real large workspace: `amplio serve` of 1M rows (or --rows) in headless Chromium.

Unlike ``benchmarks/ui.py`` (synthetic rows behind stand-in routes), this serves a workspace built
by ``benchmarks/ui_scale_build.py`` (the same rows and precomputed vectors as
``benchmarks/scale.py``) with the real ``amplio serve``, and measures:

- ``/api/points``: bytes on the wire and seconds, fetched outside the browser (cold and warm);
- first map: navigation start to the first animation frame after the page's ``data-ready`` flag
  (set once the points are fetched, decoded and handed to the renderer);
- pan and zoom: ``requestAnimationFrame`` timestamps while Playwright drives a mouse drag and wheel
  steps; the gaps between frames are the frame times (median, p95), with and without a filter;
- search and filter latency: from the click (in the page) to the first animation frame after the
  map's ``data-points`` changed, i.e. the filtered map is drawn (search includes the
  ``/api/search`` round trip); the filtered map keeps the other rows, dimmed.

Chromium is Debian's, headless, no GPU (WebGL 2 on SwiftShader, i.e. on the CPU), 2 shared cores:
frame times are an upper bound for a machine with a GPU.

Run: ``nice python benchmarks/ui_scale.py [--rows 1000000]`` (builds the workspace first if absent:
minutes and ~11 GiB peak RAM at 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGETS = {"first_map_s": 3.0, "pan_frame_ms_p95": 50.0}

RECORD = """() => {
  const stamps = [];
  let on = true;
  const tick = (t) => { stamps.push(t); if (on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.__stopFrames = () => { on = false; return stamps; };
}"""

# Click in the page, wait for #map's data-points to change, then for the frame that draws it.
CLICK_TO_FRAME = """async (selector) => {
  const map = document.querySelector('#map');
  const before = map.dataset.points;
  const changed = new Promise((resolve) => {
    const o = new MutationObserver(() => { if (map.dataset.points !== before) { o.disconnect(); resolve(); } });
    o.observe(map, { attributes: true });
  });
  const t0 = performance.now();
  document.querySelector(selector).click();
  await changed;
  await new Promise((r) => requestAnimationFrame(() => r()));
  return { ms: performance.now() - t0, points: Number(map.dataset.points), dimmed: Number(map.dataset.dimmed) };
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        size = len(response.read())
    return time.perf_counter() - t0, size


def frames(page: Any, drive: Any) -> dict[str, Any]:
    page.evaluate(RECORD)
    t0 = time.perf_counter()
    drive()
    stamps = page.evaluate("window.__stopFrames()")
    gaps = np.diff(np.asarray(stamps))
    return {"seconds": round(time.perf_counter() - t0, 2), "frames": int(len(gaps)),
            "frame_ms_median": round(float(np.median(gaps)), 1) if len(gaps) else None,
            "frame_ms_p95": round(float(np.percentile(gaps, 95)), 1) if len(gaps) else None,
            "frame_ms_max": round(float(gaps.max()), 1) if len(gaps) else None}


def pan_and_zoom(page: Any) -> dict[str, Any]:
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def drag() -> None:
        page.mouse.move(cx, cy)
        page.mouse.down()
        for k in range(80):
            page.mouse.move(cx + 3 * (k % 40) - 60, cy + 2 * (k % 40) - 40)
        page.mouse.up()

    def wheel() -> None:
        page.mouse.move(cx, cy)
        for k in range(40):
            page.mouse.wheel(0, -60 if k < 20 else 60)

    out = {"pan": frames(page, drag)}
    page.wait_for_timeout(400)  # the full redraw once the drag ends (during it, a sample is drawn)
    out["zoom"] = frames(page, wheel)
    page.wait_for_timeout(400)
    return out


def measure(url: str, n: int, repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"rows": n}
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        loads, resources = [], []
        for _ in range(repeats):
            page.goto("about:blank")
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=600_000)
            loads.append(page.evaluate("new Promise(r => requestAnimationFrame(() => r(performance.now())))") / 1000)
            resources.append(page.evaluate("""(() => { const e = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('api/points'))[0];
                return e ? {s: (e.responseEnd - e.startTime) / 1000, wire: e.encodedBodySize, body: e.decodedBodySize} : null; })()"""))
        shown = int(page.get_attribute("#map", "data-points") or 0)
        assert shown == n, f"map shows {shown} points, expected {n}"
        result["first_map_s"] = round(statistics.median(loads), 3)
        result["first_map_s_runs"] = [round(x, 3) for x in loads]
        result["points_in_browser_s_runs"] = [round(r["s"], 3) for r in resources if r]
        result["renderer"] = page.get_attribute("#map", "data-renderer")
        result.update(pan_and_zoom(page))
        # Filter by the first label bar, pan with the filter on (two draws: dimmed, then matching).
        filt = page.evaluate(CLICK_TO_FRAME, "#label-bars .bar")
        result["filter_label"] = {"ms": round(filt["ms"], 1), "matching": filt["points"], "dimmed": filt["dimmed"]}
        assert filt["dimmed"] == n - filt["points"], filt
        page.wait_for_timeout(300)
        filtered = pan_and_zoom(page)
        result["pan_filtered"], result["zoom_filtered"] = filtered["pan"], filtered["zoom"]
        clear = page.evaluate(CLICK_TO_FRAME, "#clear-filters")
        result["clear_filters_ms"] = round(clear["ms"], 1)
        searches = []
        for term in ["bomb", "password", "how do i"]:
            page.fill("#search", term)
            hit = page.evaluate(CLICK_TO_FRAME, "#left form.search button")
            searches.append({"q": term, "ms": round(hit["ms"], 1), "matching": hit["points"], "dimmed": hit["dimmed"]})
            page.evaluate(CLICK_TO_FRAME, "#clear-filters")
        result["search_substring"] = searches
        browser.close()
    return result


def markdown(report: dict[str, Any]) -> str:
    r = report["result"]
    srch = r["search_substring"]
    p = report["points_api"]
    rows = [
        ("first drawn map (navigation start → first frame after data-ready), median", f"{r['first_map_s']:.2f} s",
         f"≤ {TARGETS['first_map_s']:.0f} s", f"runs {r['first_map_s_runs']}"),
        ("/api/points size on the wire", f"{p['bytes'] / 1e6:.1f} MB", "", f"{p['bytes'] / r['rows']:.1f} B/row, {p['content_encoding'] or 'no compression'}"),
        ("/api/points time, outside the browser (cold, warm)", f"{p['cold_s']:.2f} s, {p['warm_s']:.2f} s", "", "server query + encoding + transfer"),
        ("/api/points time inside the page load", f"{statistics.median(r['points_in_browser_s_runs']):.2f} s", "", f"runs {r['points_in_browser_s_runs']}"),
        ("pan frame time (drag), median / p95", f"{r['pan']['frame_ms_median']} / {r['pan']['frame_ms_p95']} ms",
         f"p95 ≤ {TARGETS['pan_frame_ms_p95']:.0f} ms", f"{r['pan']['frames']} frames, max {r['pan']['frame_ms_max']} ms"),
        ("zoom frame time (wheel), median / p95", f"{r['zoom']['frame_ms_median']} / {r['zoom']['frame_ms_p95']} ms",
         f"p95 ≤ {TARGETS['pan_frame_ms_p95']:.0f} ms", f"{r['zoom']['frames']} frames, max {r['zoom']['frame_ms_max']} ms"),
        ("pan with a label filter on (dimmed + matching), median / p95",
         f"{r['pan_filtered']['frame_ms_median']} / {r['pan_filtered']['frame_ms_p95']} ms", "", ""),
        ("zoom with a label filter on, median / p95",
         f"{r['zoom_filtered']['frame_ms_median']} / {r['zoom_filtered']['frame_ms_p95']} ms", "", ""),
        ("label filter: click → filtered map drawn", f"{r['filter_label']['ms']:.0f} ms", "",
         f"{r['filter_label']['matching']:,} matching, {r['filter_label']['dimmed']:,} dimmed"),
        ("clear filters: click → full map drawn", f"{r['clear_filters_ms']:.0f} ms", "",
         "a full redraw of every point (while panning or zooming, an adaptive sample is drawn)"),
        ("substring search: click → results' map drawn, median", f"{statistics.median(s['ms'] for s in srch):.0f} ms", "",
         "; ".join(f"'{s['q']}' {s['ms']:.0f} ms ({s['matching']} hits)" for s in srch)),
    ]
    lines = [f"# UI at {r['rows']:,} rows: a real `amplio serve` in headless Chromium", "",
             f"{report['when']}; {report['machine']}. Written by `benchmarks/ui_scale.py`; "
             f"raw figures in `ui_scale.json`. Workspace: {report['workspace']}.", "",
             "| measure | value | target | notes |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", f"Server start (`amplio serve` to /api/info answering): {report['server_start_s']:.1f} s (excluded above).",
              f"Renderer: {r['renderer']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ui_scale.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from ui_scale_build import build

    folder = build(args.rows)
    port = free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "amplio", "serve", str(folder), "--no-browser",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"amplio serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                get(url + "api/info")
                break
            except OSError:
                time.sleep(0.5)
        started = time.perf_counter() - t0
        cold, size = get(url + "api/points")
        warm, _ = get(url + "api/points")
        with urllib.request.urlopen(urllib.request.Request(url + "api/points", headers={"Accept-Encoding": "gzip"})) as r:
            encoding = r.headers.get("Content-Encoding")
            wire = len(r.read())
        result = measure(url, args.rows, args.repeats)
    finally:
        server.terminate()
        server.wait(30)
    report = {
        "benchmark": "ui_scale", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, {os.cpu_count()} shared CPU cores, no GPU (SwiftShader)",
        "chromium_args": CHROMIUM_ARGS, "workspace": f"{args.rows:,} rows from benchmarks/ui_scale_build.py",
        "server_start_s": round(started, 2),
        "points_api": {"bytes": wire, "bytes_uncompressed": size, "content_encoding": encoding,
                       "cold_s": round(cold, 3), "warm_s": round(warm, 3)},
        "result": result, "targets": TARGETS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
