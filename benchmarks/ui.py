"""UI benchmark: time to first rendered map at 3k, 100k and 1M rows, and frame time while panning at 1M.

The points come from the real ``/api/points`` route (its SQL, encoding and JSON) over a synthetic
DuckDB ``rows`` table, served with the packaged UI by uvicorn; only the summary routes the first
paint needs are stand-ins, since building a real 1M-row workspace means embedding 1M texts. Server
start is excluded; "first map" is navigation start to the page's ``data-ready`` flag, which is set
after the points are fetched, decoded and drawn. Chromium is Debian's, headless, with the same
flags as the browser tests (no GPU: WebGL 2 runs on SwiftShader, i.e. on the CPU), so frame times
are an upper bound for a machine with a GPU.

Run: ``PYTHONPATH=src python benchmarks/ui.py [--sizes 3000 100000 1000000] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LABELS = ["violence", "theft", "fraud", "hate", "drugs", "weapons", "privacy", "self-harm"]


def synthetic_rows(n: int, seed: int = 0) -> duckdb.DuckDBPyConnection:
    """An in-memory ``rows`` table with the columns /api/points reads: 40 Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(40, 2))
    blob = rng.integers(0, 40, size=n)
    xy = centres[blob] + rng.normal(scale=0.8, size=(n, 2))
    con = duckdb.connect()
    con.execute("CREATE TABLE blobs AS SELECT * FROM (SELECT unnest(?) AS b, unnest(?) AS x, unnest(?) AS y)",
                [blob.tolist(), xy[:, 0].tolist(), xy[:, 1].tolist()])
    con.execute(f"""
        CREATE TABLE rows AS SELECT row_number() OVER () - 1 AS id, x::FLOAT AS x, y::FLOAT AS y,
            b::INTEGER AS cluster, list_element(?, (b % {len(LABELS)}) + 1) AS label,
            CASE WHEN b % 17 = 0 THEN 'llm' ELSE NULL END AS method,
            CASE WHEN b % 17 = 0 THEN 'augmented' ELSE 'original' END AS origin,
            'accepted' AS status, repeat('x', 20 + (b * 7) % 300) AS text
        FROM blobs""", [LABELS])
    return con


def make_app(con: duckdb.DuckDBPyConnection) -> Any:
    """The packaged UI plus the real points route over ``con``; summary routes are stand-ins."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from amplio.server.app import STATIC_DIR
    from amplio.server.routers import rows as rows_router

    state = SimpleNamespace(lock=threading.Lock(), token=None, ws=SimpleNamespace(store=SimpleNamespace(con=con)))
    n = con.execute("SELECT count(*) FROM rows").fetchone()[0]  # type: ignore[index]
    labels = dict(con.execute("SELECT label, count(*) FROM rows GROUP BY label ORDER BY 2 DESC").fetchall())
    app = FastAPI()
    app.get("/api/points")(lambda: rows_router.points(state))  # type: ignore[arg-type]
    app.get("/api/info")(lambda: {"path": "synthetic", "source": f"synthetic {n:,} rows", "rows": n, "original": n,
                                  "augmented": 0, "manual": 0, "accepted": n, "candidates": 0, "rejected": 0,
                                  "methods": {}, "labels": labels, "clusters": 40, "label_column": "label",
                                  "text_column": "text", "encoder": None, "export_formats": ["csv"]})
    app.get("/api/rows")(lambda: [])
    app.get("/api/history")(lambda: [])
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True))
    return app


def serve(app: Any) -> tuple[str, Any]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/", server


PAN_SCRIPT = """async (steps) => {
  const stamps = [];
  let on = true;
  const tick = (t) => { stamps.push(t); if (on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.__stopPan = () => { on = false; return stamps; };
}"""


def measure(page: Any, url: str, n: int, repeats: int, pan: bool) -> dict[str, Any]:
    loads, payload = [], 0
    for _ in range(repeats):
        page.goto("about:blank")
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=300_000)
        # One more animation frame so the draw triggered by the data has reached the screen.
        loads.append(page.evaluate("new Promise(r => requestAnimationFrame(() => r(performance.now())))") / 1000)
        payload = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('api/points'))[0]?.encodedBodySize ?? 0")
    shown = int(page.get_attribute("#map", "data-points") or 0)
    assert shown == n, f"map shows {shown} points, expected {n}"
    result: dict[str, Any] = {"rows": n, "first_map_s": round(statistics.median(loads), 3),
                              "first_map_s_runs": [round(x, 3) for x in loads], "points_payload_mb": round(payload / 1e6, 2),
                              "renderer": page.get_attribute("#map", "data-renderer")}
    if pan:
        box = page.locator("#map").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.evaluate(PAN_SCRIPT, 0)
        page.mouse.move(cx, cy)
        page.mouse.down()
        t0 = time.perf_counter()
        for k in range(60):
            page.mouse.move(cx + 3 * k, cy + 2 * k)
        page.mouse.up()
        stamps = page.evaluate("window.__stopPan()")
        gaps = np.diff(np.asarray(stamps))
        result["pan"] = {"moves": 60, "seconds": round(time.perf_counter() - t0, 2),
                         "frames": int(len(gaps)), "frame_ms_median": round(float(np.median(gaps)), 1),
                         "frame_ms_p95": round(float(np.percentile(gaps, 95)), 1)}
        # Responsiveness: a click on a UI control still answers promptly at this size.
        t0 = time.perf_counter()
        page.select_option("#colour-by", "cluster")
        page.wait_for_function("document.querySelector('#legend').innerText.includes('cluster 39')")
        result["recolour_s"] = round(time.perf_counter() - t0, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ui.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for n in args.sizes:
            t0 = time.perf_counter()
            con = synthetic_rows(n)
            url, server = serve(make_app(con))
            built = time.perf_counter() - t0
            found = measure(page, url, n, args.repeats if n < 1_000_000 else 2, pan=n == max(args.sizes))
            found["setup_s_excluded"] = round(built, 2)
            print(json.dumps(found), flush=True)
            results.append(found)
            server.should_exit = True
            con.close()
        browser.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "ui", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, 2 shared CPU cores, no GPU (SwiftShader)",
        "chromium_args": CHROMIUM_ARGS, "results": results,
        "targets": {"first_map_100k_s": 2.0},
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
