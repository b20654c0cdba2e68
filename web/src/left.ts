// Left panel: dataset summary, per-label bar chart (click to filter), search, label and method filters.
import type { DataSource, Hit, Info } from "./api";
import { clear, el, guarded } from "./dom";

export interface Filters { labels: Set<string>; method: string; hits: Set<number> | null }

export class LeftPanel {
  filters: Filters = { labels: new Set(), method: "", hits: null };
  private results = el("ol", { class: "hits", id: "search-results" });

  constructor(private root: HTMLElement, private source: DataSource,
              private hooks: { changed: () => void; select: (id: number) => void }) {}

  render(info: Info, methods: string[]): void {
    const summary = el("dl", { class: "summary", id: "summary" },
      el("dt", { text: "Rows" }), el("dd", { text: info.rows.toLocaleString(), "data-testid": "row-count" }),
      el("dt", { text: "Original" }), el("dd", { text: info.original.toLocaleString() }),
      el("dt", { text: "New" }), el("dd", { text: (info.augmented + info.manual).toLocaleString() }),
      el("dt", { text: "Accepted" }), el("dd", { text: info.accepted.toLocaleString() }),
      el("dt", { text: "Candidates" }), el("dd", { text: info.candidates.toLocaleString() }),
    );
    const labels = Object.entries(info.labels);
    const max = Math.max(1, ...labels.map(([, n]) => n));
    const bars = el("ul", { class: "bars", id: "label-bars" });
    for (const [name, n] of labels) {
      const on = this.filters.labels.has(name);
      const bar = el("button", { type: "button", class: on ? "bar on" : "bar", title: `${name}: ${n}` },
        el("span", { class: "bar-fill", style: `width:${(100 * n) / max}%` }),
        el("span", { class: "bar-name", text: name }), el("span", { class: "bar-n", text: String(n) }));
      bar.addEventListener("click", () => {
        if (on) this.filters.labels.delete(name); else this.filters.labels.add(name);
        this.hooks.changed();
        this.render(info, methods);
      });
      bars.append(el("li", {}, bar));
    }
    const method = el("select", { id: "method-filter" }, el("option", { value: "", text: "all methods" }),
      ...methods.map((m) => el("option", { value: m, text: m })));
    method.value = this.filters.method;
    method.addEventListener("change", () => { this.filters.method = method.value; this.hooks.changed(); });

    const query = el("input", { id: "search", type: "search", placeholder: "Search text…" });
    const mode = el("select", { id: "search-mode" }, el("option", { value: "substring", text: "substring" }),
      el("option", { value: "semantic", text: "semantic" }));
    const form = el("form", { class: "search" }, query, mode, el("button", { type: "submit", text: "Search" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.search(query.value.trim(), mode.value as "substring" | "semantic");
    });
    const reset = el("button", { type: "button", text: "Clear filters", id: "clear-filters" });
    reset.addEventListener("click", () => {
      this.filters = { labels: new Set(), method: "", hits: null };
      clear(this.results);
      this.hooks.changed();
      this.render(info, methods);
    });
    clear(this.root,
      el("h2", { text: "Dataset" }), summary,
      labels.length ? el("h3", { text: `By ${info.label_column ?? "label"} (click to filter)` }) : null,
      labels.length ? bars : null,
      el("h3", { text: "Method" }), method,
      el("h3", { text: "Search" }), form, reset, this.results);
  }

  private async search(q: string, mode: "substring" | "semantic"): Promise<void> {
    if (!q) return;
    clear(this.results, el("li", { class: "muted", text: "Searching…" }));
    const hits = await guarded(() => this.source.search(q, mode));
    if (!hits) { clear(this.results); return; }
    this.filters.hits = new Set(hits.map((h) => h.id));
    this.hooks.changed();
    clear(this.results, ...(hits.length ? hits.map((h) => this.hit(h)) : [el("li", { class: "muted", text: "No matches." })]));
  }

  private hit(h: Hit): HTMLElement {
    const item = el("li", {}, el("button", { type: "button", class: "hit" },
      el("span", { class: "hit-text", text: h.text }),
      el("span", { class: "muted", text: `#${h.id}${h.score != null ? ` · ${h.score.toFixed(2)}` : ""}` })));
    item.querySelector("button")!.addEventListener("click", () => this.hooks.select(h.id));
    return item;
  }
}
