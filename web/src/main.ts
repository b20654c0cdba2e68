// Wires the page: loads info and points, builds the map and the panels, and runs augmentation
// jobs with progress. All server access goes through api.ts.
import "./style.css";  // bundled by vite
import { api, type Augmentation, type Gap, type Info, type Points, type Row } from "./api";
import { byId, clear, clearError, el, guarded, showError } from "./dom";
import { GapsPanel } from "./gaps";
import { coverageView, reportView } from "./insights";
import { LeftPanel } from "./left";
import { type ColourBy, type GapMarker, MapView } from "./map";
import { ReviewPanel } from "./review";
import { type PickMode, RightPanel, progressLine } from "./right";

const textCache = new Map<number, string>();
let info: Info;
let points: Points;
let map: MapView;
let colourBy: ColourBy = "label";
let selected: number | null = null;
let pickMode: PickMode = null;

// The left panel has two views: the dataset (summary, bars, filters, search) and the gaps.
const datasetRoot = el("div", { id: "dataset-panel" });
const gapsRoot = el("div", { id: "gaps-panel", hidden: true });
const leftTabs = el("nav", { class: "tabs", role: "tablist", id: "left-tabs" });
byId("left").append(leftTabs, datasetRoot, gapsRoot);
const left = new LeftPanel(datasetRoot, { changed: () => redraw(), select: (id) => void select(id) });
const gapsPanel = new GapsPanel(gapsRoot, {
  shown: (gaps) => {
    if (gapsRoot.hidden) return;
    map.gaps = gapMarkers(gaps);
    map.focusedGap = null;
    map.drawOverlay();
  },
  focus: (gap) => {
    map.focusedGap = gap.id;
    map.centre(gap.x, gap.y);
  },
  fill: (gap, body) => runJob(`Filling gap ${gap.id}`, () => api.fillGap(gap.id, body)),
});
const rightRoot = el("div", { id: "row-panel" });
const reviewRoot = el("div", { id: "review-panel" });
byId("right").append(rightRoot, el("p", { id: "job-status", class: "job", hidden: true }), reviewRoot);
const right = new RightPanel(rightRoot, { generate, pick: setPickMode, select: (id) => void select(id) });
const review = new ReviewPanel(reviewRoot, {
  changed: reload,
  select: (id) => void select(id),
  focus: (rows: Row[]) => {
    map.highlight = rows.map((r) => r.id);
    map.links = rows.flatMap((r) => (r.parents ?? []).map((p) => ({ from: r.id, to: p })));
    redraw();  // candidates and their parents stay visible whatever the filters
  },
});

async function rowText(id: number): Promise<string> {
  const cached = textCache.get(id);
  if (cached !== undefined) return cached;
  const row = await api.row(id);
  textCache.set(id, row.text);
  return row.text;
}

function methodNames(): string[] {
  return points.categories.method;
}

function redraw(): void {
  const f = left.filters;
  const labelNames = points.categories.label;
  const wanted = new Set([...f.labels].map((name) => labelNames.indexOf(name)));
  const method = f.method ? points.categories.method.indexOf(f.method) : -1;
  const pinned = new Set([...map.highlight, ...map.links.map((l) => l.to)]);
  const keep = (i: number) => pinned.has(points.ids[i]) || (
    (!wanted.size || wanted.has(points.codes.label[i])) &&
    (method < 0 || points.codes.method[i] === method) &&
    (!f.hits || f.hits.has(points.ids[i])));
  const legend = map.render(colourBy, keep);
  byId("map-status").textContent = `${map.shown.toLocaleString()} of ${points.count.toLocaleString()} points`;
  byId("map").dataset.points = String(map.shown);
  clear(byId("legend"), ...legend.names.map((name, k) => el("div", { class: "legend-item" },
    el("span", { class: "swatch", style: `background:${legend.colours[k]}` }),
    el("span", { text: name }), el("span", { class: "muted", text: ` ${legend.counts[k]}` }))));
}

async function select(id: number | null): Promise<void> {
  if (id !== null && pickMode === "row" && selected !== null && id !== selected) {
    const text = await guarded(() => rowText(id));
    setPickMode(null);
    right.setTarget({ row: id, text: text ?? `row #${id}` });
    map.select(selected);
    return;
  }
  selected = id;
  map.select(id);
  if (id === null) { right.show(null); return; }
  const row = await guarded(() => api.row(id));
  if (row) { textCache.set(id, row.text); right.show(row); }
}

/** "row": the next map click picks the interpolation target; "arrow": drag from the row to a spot. */
function setPickMode(mode: PickMode): void {
  pickMode = mode;
  const capture = byId("arrow-capture");
  capture.hidden = mode !== "arrow";
  byId("map-wrap").classList.toggle("picking", mode !== null);
  byId("map-status").textContent = mode === "row" ? "Click the second row on the map…"
    : mode === "arrow" ? "Drag from anywhere to the spot to interpolate towards…" : `${map.shown.toLocaleString()} of ${points.count.toLocaleString()} points`;
}

function installArrow(): void {
  const capture = el("div", { id: "arrow-capture", hidden: true });
  byId("map-wrap").append(capture);
  let dragging = false;
  const at = (e: PointerEvent) => {
    const box = capture.getBoundingClientRect();
    return map.toData(e.clientX - box.left, e.clientY - box.top);
  };
  capture.addEventListener("pointerdown", (e) => {
    const from = selected !== null ? map.position(selected) : null;
    const to = at(e);
    if (!from || !to) return;
    dragging = true;
    capture.setPointerCapture(e.pointerId);
    map.arrow = { x0: from.x, y0: from.y, x1: to.x, y1: to.y };
    map.drawOverlay();
  });
  capture.addEventListener("pointermove", (e) => {
    const to = at(e);
    if (!dragging || !map.arrow || !to) return;
    map.arrow = { ...map.arrow, x1: to.x, y1: to.y };
    map.drawOverlay();
  });
  capture.addEventListener("pointerup", async () => {
    if (!dragging || !map.arrow) return;
    dragging = false;
    const { x1, y1 } = map.arrow;
    setPickMode(null);
    const near = map.nearest(x1, y1, 3).filter((id) => id !== selected);
    const texts = await Promise.all(near.map((id) => guarded(() => rowText(id))));
    right.setTarget({ point: [x1, y1], text: `map point (${x1.toFixed(2)}, ${y1.toFixed(2)}); nearest: ${
      texts.map((t) => `“${(t ?? "").slice(0, 60)}”`).join(", ")}` });
  });
}

function generate(body: Record<string, unknown>): Promise<void> {
  return runJob("Starting", () => api.augment(body));
}

/** Start a background job (augment or fill a gap), stream its progress, then show its candidates. */
async function runJob(what: string, begin: () => Promise<{ job_id: string }>): Promise<void> {
  clearError();
  progressLine(`${what}…`);
  try {
    const { job_id } = await begin();
    const result = (await api.follow(job_id, (job) => {
      progressLine(`${job.kind}: ${job.state}${job.stage ? ` · ${job.stage}` : ""}${job.total ? ` ${job.done}/${job.total}` : ""}`);
    })) as Augmentation;
    progressLine(`Generated ${result.candidates.length} candidate(s)` +
      (result.held_back.length ? `, held back ${result.held_back.length}.` : "."));
    await reload();
    review.showCandidates(result.candidates);
    review.showOutcome(result);
  } catch (error) {
    progressLine("");
    showError(error);
  }
}

/** Re-read everything that may have changed after a write (points, summary, candidates). */
async function reload(): Promise<void> {
  const [newInfo, newPoints] = await Promise.all([api.info(), api.points()]);
  info = newInfo;
  points = newPoints;
  map.setPoints(points);
  left.render(info, methodNames());
  gapsPanel.setReference(info.reference);
  redraw();
  await review.refresh();
  if (selected !== null) {
    const row = await guarded(() => api.row(selected!));
    if (row) right.show(row);
  }
}

function gapMarkers(gaps: Gap[]): GapMarker[] {
  return gaps.map((g, k) => ({ id: g.id, rank: k + 1, x: g.x, y: g.y, size: g.size, rim: g.rim_rows }));
}

function leftTabsInstall(): void {
  const views: [string, string, HTMLElement][] = [["dataset", "Dataset", datasetRoot], ["gaps", "Gaps", gapsRoot]];
  const show = (key: string) => {
    for (const [k, , root] of views) root.hidden = k !== key;
    for (const b of leftTabs.querySelectorAll("button")) b.classList.toggle("on", b.dataset.view === key);
    if (key === "gaps") {
      void gapsPanel.open();
      map.gaps = gapMarkers(gapsPanel.gaps);
      map.focusedGap = gapsPanel.focused;
    } else {
      map.gaps = [];  // the markers show with the Gaps view only
    }
    map.drawOverlay();
  };
  clear(leftTabs, ...views.map(([key, name]) => {
    const b = el("button", { type: "button", role: "tab", id: `left-tab-${key}`, "data-view": key, text: name,
      class: key === "dataset" ? "on" : "" });
    b.addEventListener("click", () => show(key));
    return b;
  }));
}

/** Coverage and Report open in a sheet over the map; each opening fetches fresh numbers. */
async function openSheet(view: "coverage" | "report"): Promise<void> {
  const sheet = byId("sheet");
  const body = byId("sheet-body");
  sheet.hidden = false;
  sheet.dataset.view = view;
  sheet.dataset.ready = "false";
  byId("sheet-title").textContent = view === "coverage" ? "Concept coverage" : "Diversity report: before and after";
  clear(body, el("p", { class: "muted", text: view === "coverage"
    ? "Measuring concept coverage (the first time trains the concept model)…" : "Measuring diversity…" }));
  const content = view === "coverage" ? await guarded(async () => coverageView(await api.coverage()))
    : await guarded(async () => reportView(await api.report()));
  if (sheet.dataset.view !== view) return;  // another view was opened meanwhile
  clear(body, content ?? el("p", { class: "muted", text: "Could not load this view." }));
  sheet.dataset.ready = "true";
}

function header(): void {
  byId("source").textContent = info.source ?? info.path;
  const colour = byId<HTMLSelectElement>("colour-by");
  for (const [value, name] of [["label", "label"], ["cluster", "cluster"], ["method", "method"], ["length", "text length"]]) {
    colour.append(el("option", { value, text: name }));
  }
  colour.value = colourBy;
  colour.addEventListener("change", () => { colourBy = colour.value as ColourBy; redraw(); });
  const status = el("select", { id: "export-status" }, el("option", { value: "accepted", text: "accepted" }),
    el("option", { value: "all", text: "all rows" }));
  const buttons = info.export_formats.map((format) => {
    const link = el("a", { class: "button", id: `export-${format}`, text: format, download: "" });
    const sync = () => { link.href = api.exportUrl(format, status.value); };
    status.addEventListener("change", sync);
    sync();
    return link;
  });
  clear(byId("export"), "Export ", status, ...buttons);
  byId("open-coverage").addEventListener("click", () => void openSheet("coverage"));
  byId("open-report").addEventListener("click", () => void openSheet("report"));
  byId("sheet-close").addEventListener("click", () => { byId("sheet").hidden = true; byId("sheet").dataset.view = ""; });
  byId("undo").addEventListener("click", async () => {
    const done = await guarded(() => api.undo());
    if (done) {
      progressLine(done.undone ? `Undid ${String(done.undone.action)}.` : "Nothing to undo.");
      await reload();
    }
  });
}

async function start(): Promise<void> {
  const started = performance.now();
  try {
    [info, points] = await Promise.all([api.info(), api.points()]);
  } catch (error) {
    byId("map-status").textContent = "Could not load the map.";
    showError(error);
    return;
  }
  header();
  map = await MapView.create(byId("map"), points, { text: rowText, select: (id) => void select(id) });
  map.onGap = (id) => gapsPanel.choose(id);
  installArrow();
  leftTabsInstall();
  left.render(info, methodNames());
  gapsPanel.setReference(info.reference);
  redraw();
  right.show(null);
  await review.refresh();
  document.body.dataset.ready = "true";
  document.body.dataset.loadMs = String(Math.round(performance.now() - started));
}

void start();
