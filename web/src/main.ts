// Wires the page: loads info and points, builds the map and the panels, and runs augmentation
// jobs with progress. The page's state lives in one App; every panel reads and writes through
// the DataSource it is given (the HTTP one from api.ts).
import "./style.css";  // bundled by vite
import { type DataSource, type FillBody, type Gap, http, type Info, type Listed,
  type Points } from "./api";
import { byId, clear, clearError, el, guarded, showError } from "./dom";
import { GapsPanel } from "./gaps";
import { coverageView, reportView } from "./insights";
import { LeftPanel } from "./left";
import { type ColourBy, type GapMarker, MapView } from "./map";
import { ReviewPanel } from "./review";
import { type PickMode, RightPanel, progressLine } from "./right";

function gapMarkers(gaps: Gap[]): GapMarker[] {
  return gaps.map((g, k) => ({ id: g.id, rank: k + 1, x: g.x, y: g.y, size: g.size, rim: g.rim_rows }));
}

class App {
  private textCache = new Map<number, string>();
  private info!: Info;
  private points!: Points;
  private map!: MapView;
  private colourBy: ColourBy = "label";
  private selected: number | null = null;
  private pickMode: PickMode = null;
  // The left panel has two views: the dataset (summary, bars, filters, search) and the gaps.
  private datasetRoot = el("div", { id: "dataset-panel" });
  private gapsRoot = el("div", { id: "gaps-panel", hidden: true });
  private leftTabs = el("nav", { class: "tabs", role: "tablist", id: "left-tabs" });
  private left: LeftPanel;
  private gapsPanel: GapsPanel;
  private right: RightPanel;
  private review: ReviewPanel;

  constructor(private source: DataSource) {
    byId("left").append(this.leftTabs, this.datasetRoot, this.gapsRoot);
    this.left = new LeftPanel(this.datasetRoot, source,
      { changed: () => this.redraw(), select: (id) => void this.select(id) });
    this.gapsPanel = new GapsPanel(this.gapsRoot, source, {
      shown: (gaps) => {
        if (this.gapsRoot.hidden) return;
        this.map.gaps = gapMarkers(gaps);
        this.map.focusedGap = null;
        this.map.drawOverlay();
      },
      focus: (gap) => {
        this.map.focusedGap = gap.id;
        this.map.centre(gap.x, gap.y);
      },
      fill: (gap, body: FillBody) => this.runJob(`Filling gap ${gap.id}`, () => source.fillGap(gap.id, body)),
    });
    const rightRoot = el("div", { id: "row-panel" });
    const reviewRoot = el("div", { id: "review-panel" });
    byId("right").append(rightRoot, el("p", { id: "job-status", class: "job", hidden: true }), reviewRoot);
    this.right = new RightPanel(rightRoot, source, {
      generate: (body) => this.runJob("Starting", () => source.augment(body)),
      pick: (mode) => this.setPickMode(mode),
      select: (id) => void this.select(id),
    });
    this.review = new ReviewPanel(reviewRoot, source, {
      changed: () => this.reload(),
      select: (id) => void this.select(id),
      focus: (rows: Listed[]) => {
        const highlight = rows.map((r) => r.id);
        const links = rows.flatMap((r) => (r.parents ?? []).map((p) => ({ from: r.id, to: p })));
        const same = (a: unknown[], b: unknown[]) => JSON.stringify(a) === JSON.stringify(b);
        // Redrawing 1M points costs a frame or two: skip it when the candidates are unchanged
        // (e.g. none at start-up, where this ran a second full redraw before the page was ready).
        if (same(highlight, this.map.highlight) && same(links, this.map.links)) return;
        this.map.highlight = highlight;
        this.map.links = links;
        this.redraw();  // candidates and their parents stay visible whatever the filters
      },
    });
  }

  async start(): Promise<void> {
    const started = performance.now();
    try {
      [this.info, this.points] = await Promise.all([this.source.info(), this.source.points()]);
    } catch (error) {
      byId("map-status").textContent = "Could not load the map.";
      showError(error);
      return;
    }
    this.header();
    this.map = await MapView.create(byId("map"), this.points,
      { text: (id) => this.rowText(id), select: (id) => void this.select(id) });
    this.map.onGap = (id) => this.gapsPanel.choose(id);
    this.installArrow();
    this.installLeftTabs();
    this.left.render(this.info, this.points.categories.method);
    this.gapsPanel.setReference(this.info.reference ?? null);
    this.redraw();
    this.right.show(null);
    await this.review.refresh();
    document.body.dataset.ready = "true";
    document.body.dataset.loadMs = String(Math.round(performance.now() - started));
  }

  private async rowText(id: number): Promise<string> {
    const cached = this.textCache.get(id);
    if (cached !== undefined) return cached;
    const row = await this.source.row(id);
    this.textCache.set(id, row.text);
    return row.text;
  }

  private redraw(): void {
    const { map, points } = this;
    const f = this.left.filters;
    const labelNames = points.categories.label;
    const wanted = new Set([...f.labels].map((name) => labelNames.indexOf(name)));
    const method = f.method ? points.categories.method.indexOf(f.method) : -1;
    const pinned = new Set([...map.highlight, ...map.links.map((l) => l.to)]);
    const keep = (i: number) => pinned.has(points.ids[i]) || (
      (!wanted.size || wanted.has(points.codes.label[i])) &&
      (method < 0 || points.codes.method[i] === method) &&
      (!f.hits || f.hits.has(points.ids[i])));
    const legend = map.render(this.colourBy, keep);
    byId("map-status").textContent = this.shownLine();
    byId("map").dataset.points = String(map.shown);
    byId("map").dataset.dimmed = String(map.dimmed);
    clear(byId("legend"), ...legend.names.map((name, k) => el("div", { class: "legend-item" },
      el("span", { class: "swatch", style: `background:${legend.colours[k]}` }),
      el("span", { text: name }), el("span", { class: "muted", text: ` ${legend.counts[k]}` }))));
  }

  private shownLine(): string {
    return `${this.map.shown.toLocaleString()} of ${this.points.count.toLocaleString()} points`;
  }

  private async select(id: number | null): Promise<void> {
    if (id !== null && this.pickMode === "row" && this.selected !== null && id !== this.selected) {
      const text = await guarded(() => this.rowText(id));
      this.setPickMode(null);
      this.right.setTarget({ row: id, text: text ?? `row #${id}` });
      this.map.select(this.selected);
      return;
    }
    this.selected = id;
    this.map.select(id);
    if (id === null) { this.right.show(null); return; }
    const row = await guarded(() => this.source.row(id));
    if (row) { this.textCache.set(id, row.text); this.right.show(row); }
  }

  /** "row": the next map click picks the interpolation target; "arrow": drag from the row to a spot. */
  private setPickMode(mode: PickMode): void {
    this.pickMode = mode;
    byId("arrow-capture").hidden = mode !== "arrow";
    byId("map-wrap").classList.toggle("picking", mode !== null);
    byId("map-status").textContent = mode === "row" ? "Click the second row on the map…"
      : mode === "arrow" ? "Drag from anywhere to the spot to interpolate towards…" : this.shownLine();
  }

  private installArrow(): void {
    const capture = el("div", { id: "arrow-capture", hidden: true });
    byId("map-wrap").append(capture);
    let dragging = false;
    const at = (e: PointerEvent) => {
      const box = capture.getBoundingClientRect();
      return this.map.toData(e.clientX - box.left, e.clientY - box.top);
    };
    capture.addEventListener("pointerdown", (e) => {
      const from = this.selected !== null ? this.map.position(this.selected) : null;
      const to = at(e);
      if (!from || !to) return;
      dragging = true;
      capture.setPointerCapture(e.pointerId);
      this.map.arrow = { x0: from.x, y0: from.y, x1: to.x, y1: to.y };
      this.map.drawOverlay();
    });
    capture.addEventListener("pointermove", (e) => {
      const to = at(e);
      if (!dragging || !this.map.arrow || !to) return;
      this.map.arrow = { ...this.map.arrow, x1: to.x, y1: to.y };
      this.map.drawOverlay();
    });
    capture.addEventListener("pointerup", async () => {
      if (!dragging || !this.map.arrow) return;
      dragging = false;
      const { x1, y1 } = this.map.arrow;
      this.setPickMode(null);
      const near = this.map.nearest(x1, y1, 3).filter((id) => id !== this.selected);
      const texts = await Promise.all(near.map((id) => guarded(() => this.rowText(id))));
      this.right.setTarget({ point: [x1, y1], text: `map point (${x1.toFixed(2)}, ${y1.toFixed(2)}); nearest: ${
        texts.map((t) => `“${(t ?? "").slice(0, 60)}”`).join(", ")}` });
    });
  }

  /** Start a background job (augment or fill a gap), stream its progress, then show its candidates. */
  private async runJob(what: string, begin: () => Promise<{ job_id: string }>): Promise<void> {
    clearError();
    progressLine(`${what}…`);
    try {
      const { job_id } = await begin();
      const result = await this.source.follow(job_id, (job) => {
        progressLine(`${job.kind}: ${job.state}${job.stage ? ` · ${job.stage}` : ""}${job.total ? ` ${job.done}/${job.total}` : ""}`);
      });
      progressLine(`Generated ${result.candidates.length} candidate(s)` +
        (result.held_back.length ? `, held back ${result.held_back.length}.` : "."));
      await this.reload();
      this.review.showCandidates(result.candidates);
      this.review.showOutcome(result);
    } catch (error) {
      progressLine("");
      showError(error);
    }
  }

  /** Re-read everything that may have changed after a write (points, summary, candidates). */
  private async reload(): Promise<void> {
    const [info, points] = await Promise.all([this.source.info(), this.source.points()]);
    this.info = info;
    this.points = points;
    this.map.setPoints(points);
    this.left.render(info, points.categories.method);
    this.gapsPanel.setReference(info.reference ?? null);
    this.redraw();
    await this.review.refresh();
    const selected = this.selected;
    if (selected !== null) {
      const row = await guarded(() => this.source.row(selected));
      if (row) this.right.show(row);
    }
  }

  private installLeftTabs(): void {
    const views: [string, string, HTMLElement][] = [["dataset", "Dataset", this.datasetRoot], ["gaps", "Gaps", this.gapsRoot]];
    const show = (key: string) => {
      for (const [k, , root] of views) root.hidden = k !== key;
      for (const b of this.leftTabs.querySelectorAll("button")) b.classList.toggle("on", b.dataset.view === key);
      if (key === "gaps") {
        void this.gapsPanel.open();
        this.map.gaps = gapMarkers(this.gapsPanel.gaps);
        this.map.focusedGap = this.gapsPanel.focused;
      } else {
        this.map.gaps = [];  // the markers show with the Gaps view only
      }
      this.map.drawOverlay();
    };
    clear(this.leftTabs, ...views.map(([key, name]) => {
      const b = el("button", { type: "button", role: "tab", id: `left-tab-${key}`, "data-view": key, text: name,
        class: key === "dataset" ? "on" : "" });
      b.addEventListener("click", () => show(key));
      return b;
    }));
  }

  /** Coverage and Report open in a sheet over the map; each opening fetches fresh numbers. */
  private async openSheet(view: "coverage" | "report"): Promise<void> {
    const sheet = byId("sheet");
    const body = byId("sheet-body");
    sheet.hidden = false;
    sheet.dataset.view = view;
    sheet.dataset.ready = "false";
    byId("sheet-title").textContent = view === "coverage" ? "Concept coverage" : "Diversity report: before and after";
    clear(body, el("p", { class: "muted", text: view === "coverage"
      ? "Measuring concept coverage (the first time trains the concept model)…" : "Measuring diversity…" }));
    const content = view === "coverage" ? await guarded(async () => coverageView(await this.source.coverage()))
      : await guarded(async () => reportView(await this.source.report()));
    if (sheet.dataset.view !== view) return;  // another view was opened meanwhile
    clear(body, content ?? el("p", { class: "muted", text: "Could not load this view." }));
    sheet.dataset.ready = "true";
  }

  private header(): void {
    const info = this.info;
    byId("source").textContent = info.source ?? info.path;
    const colour = byId<HTMLSelectElement>("colour-by");
    for (const [value, name] of [["label", "label"], ["cluster", "cluster"], ["method", "method"], ["length", "text length"]]) {
      colour.append(el("option", { value, text: name }));
    }
    colour.value = this.colourBy;
    colour.addEventListener("change", () => { this.colourBy = colour.value as ColourBy; this.redraw(); });
    const status = el("select", { id: "export-status" }, el("option", { value: "accepted", text: "accepted" }),
      el("option", { value: "all", text: "all rows" }));
    const buttons = info.export_formats.map((format) => {
      const link = el("a", { class: "button", id: `export-${format}`, text: format, download: "" });
      const sync = () => { link.href = this.source.exportUrl(format, status.value); };
      status.addEventListener("change", sync);
      sync();
      return link;
    });
    clear(byId("export"), "Export ", status, ...buttons);
    byId("open-coverage").addEventListener("click", () => void this.openSheet("coverage"));
    byId("open-report").addEventListener("click", () => void this.openSheet("report"));
    byId("sheet-close").addEventListener("click", () => { byId("sheet").hidden = true; byId("sheet").dataset.view = ""; });
    byId("undo").addEventListener("click", async () => {
      const done = await guarded(() => this.source.undo());
      if (done) {
        progressLine(done.undone ? `Undid ${String(done.undone.action)}.` : "Nothing to undo.");
        await this.reload();
      }
    });
  }
}

void new App(http).start();
