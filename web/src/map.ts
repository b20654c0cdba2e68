// The map: embedding-atlas's EmbeddingView (WebGPU) behind a small wrapper, with our WebGL 2
// renderer where WebGPU cannot run. The wrapper owns the point arrays, colouring, filtering,
// nearest-point lookup, hover text, and an SVG overlay for candidate→parent links and the
// interpolation arrow.
import { EmbeddingView, defaultCategoryColors } from "embedding-atlas-component";
import type { DataPoint, OverlayProxy } from "embedding-atlas-component";
import type { Category, Points } from "./api";
import { DIMMED, GLScatter, type Scatter } from "./glmap";

export type ColourBy = "label" | "cluster" | "method" | "length";
export interface Link { from: number; to: number }
export interface Arrow { x0: number; y0: number; x1: number; y1: number }
/** A gap drawn on the map: a ring at its centre, sized by its size, with its rank. */
export interface GapMarker { id: string; rank: number; x: number; y: number; size: number; rim: number[] }

const LENGTH_BINS = [40, 80, 160, 320, 640];
const MAX_COLOURS = 60;
const NS = "http://www.w3.org/2000/svg";

export interface Legend { names: string[]; colours: string[]; counts: number[] }

/** Whether embedding-atlas's WebGPU view can run here (it needs the shader-f16 feature). */
async function webgpuUsable(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } }).gpu;
  if (!gpu || new URLSearchParams(location.search).get("renderer") === "webgl") return false;
  try {
    const adapter = await gpu.requestAdapter();
    return Boolean(adapter?.features.has("shader-f16"));
  } catch {
    return false;
  }
}

/** embedding-atlas's EmbeddingView behind the Scatter interface. */
class AtlasScatter implements Scatter {
  private view: EmbeddingView;
  private proxy: OverlayProxy | null = null;
  private viewport: { x: number; y: number; scale: number } | null = null;
  private bounds = { x0: 0, x1: 1, y0: 0, y1: 1 };

  constructor(target: HTMLElement, hooks: { query: (x: number, y: number, unit: number) => Promise<DataPoint | null>;
                                            select: (id: number | null) => void; changed: () => void }) {
    const self = this;
    this.view = new EmbeddingView(target, {
      data: { x: new Float32Array(0), y: new Float32Array(0) },
      width: target.clientWidth, height: target.clientHeight,
      config: { autoLabelEnabled: false },
      querySelection: hooks.query,
      onSelection: (sel) => hooks.select(sel && sel.length ? Number(sel[0].identifier) : null),
      onViewportState: (state) => { this.viewport = state; },
      customOverlay: class {
        constructor(_node: HTMLDivElement, props: { proxy: OverlayProxy }) { this.update(props); }
        update(props: { proxy: OverlayProxy }) { self.proxy = props.proxy; hooks.changed(); }
      },
    });
    new ResizeObserver(() => this.view.update({ width: target.clientWidth, height: target.clientHeight })).observe(target);
  }

  setData(x: Float32Array, y: Float32Array, category: Uint8Array, colours: string[], match: Uint8Array | null): void {
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < x.length; i++) { x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]); }
    if (x.length) this.bounds = { x0, x1, y0, y1 };
    let cx = x, cy = y, cc = category;
    if (match) {
      // Dimmed points first (drawn under the matching ones), in a light grey of their own.
      cx = new Float32Array(x.length); cy = new Float32Array(x.length); cc = new Uint8Array(x.length);
      let k = 0;
      for (const keep of [0, 1]) {
        for (let i = 0; i < x.length; i++) {
          if ((match[i] ? 1 : 0) !== keep) continue;
          cx[k] = x[i]; cy[k] = y[i]; cc[k] = keep ? category[i] : DIMMED; k++;
        }
      }
      colours = [...colours, ...new Array(Math.max(0, DIMMED - colours.length)).fill("#999999"), "rgba(160,164,172,0.25)"];
    }
    this.view.update({ data: { x: cx as Float32Array<ArrayBuffer>, y: cy as Float32Array<ArrayBuffer>,
      category: cc as Uint8Array<ArrayBuffer> }, categoryColors: colours });
  }

  setSelected(point: { x: number; y: number; id?: number } | null): void {
    this.view.update({ selection: point ? [{ x: point.x, y: point.y, identifier: point.id ?? 0 }] : [] });
  }

  location(x: number, y: number): { x: number; y: number } {
    return this.proxy ? this.proxy.location(x, y) : { x: NaN, y: NaN };
  }

  centre(x: number, y: number, zoom: number): void {
    const b = this.bounds;
    const fit = 2 / Math.max(b.x1 - b.x0, b.y1 - b.y0, 1e-6);  // data units -> [-1, 1]
    this.viewport = { x, y, scale: Math.max(this.viewport?.scale ?? fit, fit * zoom) };
    this.view.update({ viewportState: this.viewport });
  }

  destroy(): void {
    this.view.destroy();
  }
}

export class MapView {
  private scatter!: Scatter;
  private visible: Int32Array = new Int32Array(0);  // indices into points of the matching rows
  private every: Int32Array = new Int32Array(0);  // 0..count-1
  private dimmedCount = 0;
  private grid = new Grid();
  private svg: SVGSVGElement;
  private tooltip: HTMLDivElement;
  private byId: Map<number, number> | null = null;
  private hoverToken = 0;
  renderer: "webgpu" | "webgl" = "webgl";
  links: Link[] = [];
  arrow: Arrow | null = null;
  highlight: number[] = [];
  gaps: GapMarker[] = [];
  focusedGap: string | null = null;
  /** Called when a gap's rank badge on the map is clicked. */
  onGap: (id: string) => void = () => {};
  legend: Legend = { names: [], colours: [], counts: [] };

  private constructor(private target: HTMLElement, private points: Points,
                      private hooks: { text: (id: number) => Promise<string>; select: (id: number | null) => void }) {
    this.setPoints(points);
    this.svg = document.createElementNS(NS, "svg");
    this.svg.setAttribute("class", "map-overlay");
    this.tooltip = document.createElement("div");
    this.tooltip.className = "map-tooltip";
    this.tooltip.hidden = true;
  }

  /** Build the map with embedding-atlas (WebGPU) where it can run, else the WebGL 2 renderer. */
  static async create(target: HTMLElement, points: Points,
                      hooks: { text: (id: number) => Promise<string>; select: (id: number | null) => void }): Promise<MapView> {
    const map = new MapView(target, points, hooks);
    const changed = () => map.drawOverlay();
    if (await webgpuUsable()) {
      map.renderer = "webgpu";
      map.scatter = new AtlasScatter(target, { query: (x, y, u) => map.nearestPoint(x, y, u), select: hooks.select, changed });
    } else {
      map.scatter = new GLScatter(target, {
        changed,
        hover: (x, y, unit, screen) => void map.hover(x, y, unit, screen),
        click: (x, y, unit) => {
          const [j] = map.grid.nearest(x, y, 1, unit * 8);
          hooks.select(j === undefined ? null : map.points.ids[map.visible[j]]);
        },
      });
    }
    target.append(map.svg, map.tooltip);
    target.dataset.renderer = map.renderer;
    return map;
  }

  /** Replace the data (after new candidates, edits or undo). */
  setPoints(points: Points): void {
    this.points = points;
    this.every = new Int32Array(points.count).map((_, i) => i);
    this.byId = null;  // built on first use: 1M Map entries cost ~0.2 s before the first draw
  }

  /** Row id -> index into the points. */
  private get indexOf(): Map<number, number> {
    if (!this.byId) {
      const byId = new Map<number, number>();
      this.points.ids.forEach((id, i) => byId.set(id, i));
      this.byId = byId;
    }
    return this.byId;
  }

  /** Draw every row: those where ``keep(i)`` holds coloured by ``by`` and on top, the rest dimmed
   * (grey, faint) underneath. Hover, click and nearest() pick among the matching rows only.
   * Colours follow all rows, so a category keeps its colour while filtering; the legend lists the
   * categories of the matching rows with their counts. */
  render(by: ColourBy, keep: (i: number) => boolean): Legend {
    const p = this.points;
    const match = new Uint8Array(p.count);
    let kept = 0;
    for (let i = 0; i < p.count; i++) if (keep(i)) { match[i] = 1; kept++; }
    const visible = new Int32Array(kept);
    for (let i = 0, j = 0; i < p.count; i++) if (match[i]) visible[j++] = i;
    this.visible = visible;
    this.dimmedCount = p.count - kept;
    const { codes, names } = categoryCodes(p, by, this.every);
    const x = new Float32Array(kept);
    const y = new Float32Array(kept);
    const counts = new Array(names.length).fill(0);
    visible.forEach((i, j) => { x[j] = p.x[i]; y[j] = p.y[i]; counts[codes[i]]++; });
    this.grid.build(x, y);
    const colours = defaultCategoryColors(Math.max(names.length, 1)).slice(0, names.length);
    const listed = names.map((_, k) => k).filter((k) => counts[k] > 0);
    this.legend = { names: listed.map((k) => names[k]), colours: listed.map((k) => colours[k]), counts: listed.map((k) => counts[k]) };
    this.scatter.setData(p.x, p.y, codes, colours, this.dimmedCount ? match : null);
    this.drawOverlay();
    return this.legend;
  }

  /** Rows matching the filters (drawn in colour). */
  get shown(): number {
    return this.visible.length;
  }

  /** Rows drawn dimmed because they do not match the filters. */
  get dimmed(): number {
    return this.dimmedCount;
  }

  select(id: number | null): void {
    const i = id === null ? undefined : this.indexOf.get(id);
    this.scatter.setSelected(i === undefined ? null : { x: this.points.x[i], y: this.points.y[i], id: id! } as { x: number; y: number });
  }

  position(id: number): { x: number; y: number } | null {
    const i = this.indexOf.get(id);
    return i === undefined ? null : { x: this.points.x[i], y: this.points.y[i] };
  }

  /** Screen position (CSS px in the map) -> data coordinates, inverting the (affine) view map. */
  toData(px: number, py: number): { x: number; y: number } | null {
    const o = this.scatter.location(0, 0);
    const a = this.scatter.location(1, 1);
    if (!Number.isFinite(o.x) || a.x === o.x || a.y === o.y) return null;
    return { x: (px - o.x) / (a.x - o.x), y: (py - o.y) / (a.y - o.y) };
  }

  /** The ``k`` shown rows nearest a data point. */
  nearest(x: number, y: number, k: number): number[] {
    return this.grid.nearest(x, y, k).map((j) => this.points.ids[this.visible[j]]);
  }

  /** Centre the view on a data point (zooming in a little) and redraw the overlay. */
  centre(x: number, y: number): void {
    this.scatter.centre(x, y, 1.6);
    this.drawOverlay();
  }

  /** Pan by CSS pixels and render synchronously (WebGL renderer only; used by the benchmark). */
  panBy(dx: number, dy: number): void {
    if (this.scatter instanceof GLScatter) this.scatter.panBy(dx, dy);
  }

  drawOverlay(): void {
    const svg = this.svg;
    const loc = (p: { x: number; y: number }) => this.scatter.location(p.x, p.y);
    svg.replaceChildren();
    const line = (a: { x: number; y: number }, b: { x: number; y: number }, cls: string) => {
      const l = document.createElementNS(NS, "line");
      l.setAttribute("x1", String(a.x)); l.setAttribute("y1", String(a.y));
      l.setAttribute("x2", String(b.x)); l.setAttribute("y2", String(b.y));
      l.setAttribute("class", cls);
      svg.append(l);
    };
    for (const link of this.links) {
      const a = this.position(link.from);
      const b = this.position(link.to);
      if (a && b) line(loc(a), loc(b), "link");
    }
    for (const id of this.highlight) {
      const p = this.position(id);
      if (!p) continue;
      const s = loc(p);
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", String(s.x)); c.setAttribute("cy", String(s.y)); c.setAttribute("r", "6");
      c.setAttribute("class", "candidate-ring");
      svg.append(c);
    }
    if (this.arrow) line(loc({ x: this.arrow.x0, y: this.arrow.y0 }), loc({ x: this.arrow.x1, y: this.arrow.y1 }), "arrow");
    this.drawGaps(loc, line);
  }

  /** Gap rings (radius by size), rank badges, and for the focused gap lines to its rim rows. */
  private drawGaps(loc: (p: { x: number; y: number }) => { x: number; y: number },
                   line: (a: { x: number; y: number }, b: { x: number; y: number }, cls: string) => void): void {
    this.target.dataset.gaps = String(this.gaps.length);
    if (!this.gaps.length) return;
    const biggest = Math.max(...this.gaps.map((g) => g.size), 1e-9);
    for (const gap of this.gaps) {
      const at = loc(gap);
      if (!Number.isFinite(at.x)) continue;
      const focused = gap.id === this.focusedGap;
      if (focused) {
        for (const id of gap.rim) {
          const p = this.position(id);
          if (p) line(at, loc(p), "gap-rim");
        }
      }
      const group = document.createElementNS(NS, "g");
      group.setAttribute("class", focused ? "gap-marker focused" : "gap-marker");
      group.dataset.gap = gap.id;
      group.dataset.rank = String(gap.rank);
      const ring = document.createElementNS(NS, "circle");
      ring.setAttribute("cx", String(at.x)); ring.setAttribute("cy", String(at.y));
      ring.setAttribute("r", String(12 + 26 * Math.sqrt(Math.max(gap.size, 0) / biggest)));
      ring.setAttribute("class", "gap-ring");
      const badge = document.createElementNS(NS, "circle");
      badge.setAttribute("cx", String(at.x)); badge.setAttribute("cy", String(at.y)); badge.setAttribute("r", "8");
      badge.setAttribute("class", "gap-badge");
      const rank = document.createElementNS(NS, "text");
      rank.setAttribute("x", String(at.x)); rank.setAttribute("y", String(at.y));
      rank.setAttribute("class", "gap-rank");
      rank.textContent = String(gap.rank);
      const title = document.createElementNS(NS, "title");
      title.textContent = `gap ${gap.rank} (${gap.id})`;
      group.append(title, ring, badge, rank);
      badge.addEventListener("click", () => this.onGap(gap.id));
      this.svg.append(group);
    }
  }

  private async hover(x: number, y: number, unit: number, screen: { x: number; y: number }): Promise<void> {
    const token = ++this.hoverToken;
    const point = Number.isFinite(x) ? await this.nearestPoint(x, y, unit) : null;
    if (token !== this.hoverToken) return;  // a newer hover won
    this.tooltip.hidden = !point;
    if (!point) return;
    this.tooltip.textContent = point.text ?? "";  // text, never markup
    this.tooltip.style.transform = `translate(${screen.x + 12}px, ${screen.y + 12}px)`;
  }

  private async nearestPoint(x: number, y: number, unit: number): Promise<DataPoint | null> {
    const [j] = this.grid.nearest(x, y, 1, unit * 8);
    if (j === undefined) return null;
    const i = this.visible[j];
    const id = this.points.ids[i];
    return { x: this.points.x[i], y: this.points.y[i], identifier: id, text: await this.hooks.text(id) };
  }
}

function categoryCodes(p: Points, by: ColourBy, visible: Int32Array): { codes: Uint8Array; names: string[] } {
  const codes = new Uint8Array(visible.length);
  if (by === "length") {
    const names = LENGTH_BINS.map((b, k) => `${k ? LENGTH_BINS[k - 1] : 0}–${b} chars`).concat(`${LENGTH_BINS.at(-1)}+ chars`);
    visible.forEach((i, j) => {
      const n = p.textLength[i];
      let k = 0;
      while (k < LENGTH_BINS.length && n >= LENGTH_BINS[k]) k++;
      codes[j] = k;
    });
    return { codes, names };
  }
  let source: ArrayLike<number>;
  let names: string[];
  let missing: number;
  if (by === "cluster") {
    source = p.cluster;
    const max = p.cluster.reduce((m, c) => Math.max(m, c), -1);
    names = Array.from({ length: max + 1 }, (_, k) => `cluster ${k}`);
    missing = -1;
  } else {
    const column: Category = by;
    source = p.codes[column];
    names = p.categories[column].slice();
    missing = 255;
  }
  // Fold rare tail categories and missing values into two trailing entries.
  const keep = Math.min(names.length, MAX_COLOURS);
  const shown = names.slice(0, keep);
  const other = shown.length;
  const none = other + (names.length > keep ? 1 : 0);
  if (names.length > keep) shown.push("other");
  let sawMissing = false;
  visible.forEach((i, j) => {
    const v = source[i];
    if (v === missing) { codes[j] = none; sawMissing = true; } else codes[j] = v < keep ? v : other;
  });
  if (sawMissing) shown.push("(none)");
  return { codes, names: shown };
}

/** A uniform grid over the shown points for nearest-point queries at 1M rows. */
class Grid {
  private x: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  private start = new Int32Array(1);
  private order = new Int32Array(0);
  private n = 1;
  private x0 = 0; private y0 = 0; private cell = 1;

  build(x: Float32Array, y: Float32Array): void {
    this.x = x; this.y = y;
    const count = x.length;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < count; i++) { x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]); }
    if (!count) { x0 = y0 = 0; x1 = y1 = 1; }
    this.n = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(count / 4))));
    this.x0 = x0; this.y0 = y0;
    this.cell = Math.max(x1 - x0, y1 - y0, 1e-9) / this.n;
    const cells = new Int32Array(count);
    const start = new Int32Array(this.n * this.n + 1);
    for (let i = 0; i < count; i++) { cells[i] = this.cellOf(x[i], y[i]); start[cells[i] + 1]++; }
    for (let c = 0; c < this.n * this.n; c++) start[c + 1] += start[c];
    const fill = start.slice(0, -1);
    const order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[fill[cells[i]]++] = i;
    this.start = start; this.order = order;
  }

  private clampCell(v: number): number {
    return Math.min(this.n - 1, Math.max(0, Math.floor(v)));
  }

  private cellOf(x: number, y: number): number {
    return this.clampCell((y - this.y0) / this.cell) * this.n + this.clampCell((x - this.x0) / this.cell);
  }

  /** Indices of the ``k`` nearest points within ``radius`` (default: anywhere). */
  nearest(x: number, y: number, k: number, radius = Infinity): number[] {
    const found: [number, number][] = [];
    const cx = this.clampCell((x - this.x0) / this.cell);
    const cy = this.clampCell((y - this.y0) / this.cell);
    for (let ring = 0; ring < this.n; ring++) {
      for (let gy = cy - ring; gy <= cy + ring; gy++) {
        for (let gx = cx - ring; gx <= cx + ring; gx++) {
          if (gx < 0 || gy < 0 || gx >= this.n || gy >= this.n) continue;
          if (Math.max(Math.abs(gx - cx), Math.abs(gy - cy)) !== ring) continue;
          const c = gy * this.n + gx;
          for (let s = this.start[c]; s < this.start[c + 1]; s++) {
            const i = this.order[s];
            const d = Math.hypot(this.x[i] - x, this.y[i] - y);
            if (d <= radius) found.push([d, i]);
          }
        }
      }
      // Points beyond this ring are at least ring*cell away: stop once k are closer than that.
      found.sort((a, b) => a[0] - b[0]);
      if (found.length >= k && found[k - 1][0] <= ring * this.cell) break;
      if (ring * this.cell > radius) break;
    }
    return found.slice(0, k).map(([, i]) => i);
  }
}
