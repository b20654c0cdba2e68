// Right panel for the selected row: its text and provenance, and the three augmentation tabs
// (Concepts, Interpolation, LLM), each ending in a Generate button.
import type { AugmentBody, Concept, DataSource, Row } from "./api";
import { byId, clear, el, guarded } from "./dom";

export type Tab = "concepts" | "interpolate" | "llm";
export type PickMode = "row" | "arrow" | null;

export interface RightHooks {
  generate: (body: AugmentBody) => Promise<void>;
  pick: (mode: PickMode) => void;
  select: (id: number) => void;
}

export class RightPanel {
  tab: Tab = "concepts";
  row: Row | null = null;
  target: { row?: number; point?: [number, number]; text: string } | null = null;
  private weights = new Map<number, { label: string; weight: number }>();
  private body = el("div", { class: "tab-body" });

  constructor(private root: HTMLElement, private source: DataSource, private hooks: RightHooks) {}

  show(row: Row | null): void {
    if (row?.id !== this.row?.id) { this.weights.clear(); this.target = null; }
    this.row = row;
    if (!row) {
      clear(this.root, el("h2", { text: "No row selected" }),
        el("p", { class: "muted", text: "Click a point on the map or a search result to augment from it." }));
      return;
    }
    const tabs = el("nav", { class: "tabs", role: "tablist" });
    for (const [key, name] of [["concepts", "Concepts"], ["interpolate", "Interpolation"], ["llm", "LLM"]] as [Tab, string][]) {
      const b = el("button", { type: "button", role: "tab", id: `tab-${key}`, class: this.tab === key ? "on" : "", text: name });
      b.addEventListener("click", () => { this.tab = key; this.show(this.row); });
      tabs.append(b);
    }
    clear(this.root,
      el("h2", { text: `Row #${row.id}` }),
      el("blockquote", { id: "selected-text", text: row.text }),
      el("p", { class: "muted", text: [row.label && `label: ${row.label}`, `origin: ${row.origin}`,
        row.method && `method: ${row.method}`, row.parents?.length ? `parents: ${row.parents.join(", ")}` : "",
        typeof row.params?.gap === "string" ? `filling ${row.params.gap}` : "",
        `status: ${row.status}`].filter(Boolean).join(" · ") }),
      tabs, this.body);
    if (this.tab === "concepts") void this.concepts(row);
    else if (this.tab === "interpolate") this.interpolate(row);
    else this.llm(row);
  }

  /** Set the interpolation target (from a map click, the arrow, or a search result). */
  setTarget(target: { row?: number; point?: [number, number]; text: string }): void {
    this.target = target;
    if (this.tab === "interpolate" && this.row) this.interpolate(this.row);
  }

  private nInput(): HTMLInputElement {
    return el("input", { type: "number", min: 1, max: 10, value: 3, id: "n", class: "n" });
  }

  private generateButton(build: () => Omit<AugmentBody, "row_id"> | string): HTMLButtonElement {
    const button = el("button", { type: "button", class: "primary", id: "generate", text: "Generate" });
    button.addEventListener("click", async () => {
      const body = build();
      if (typeof body === "string") { await guarded(async () => { throw new Error(body); }); return; }
      button.disabled = true;
      try { await this.hooks.generate({ row_id: this.row!.id, ...body }); } finally { button.disabled = false; }
    });
    return button;
  }

  private async concepts(row: Row): Promise<void> {
    clear(this.body, el("p", { class: "muted", text: "Finding this row's concepts (the first time trains the concept model)…" }));
    const found = await guarded(() => this.source.rowConcepts(row.id));
    if (!found || this.row?.id !== row.id || this.tab !== "concepts") return;
    const sliders = el("div", { class: "sliders", id: "concept-sliders" });
    const addSlider = (c: Concept, initial = 0) => {
      if (!this.weights.has(c.id)) this.weights.set(c.id, { label: c.label, weight: initial });
      drawSliders();
    };
    const drawSliders = () => {
      clear(sliders, ...[...this.weights].map(([id, w]) => {
        const input = el("input", { type: "range", min: -1, max: 1, step: 0.1, value: w.weight, "data-concept": id });
        const value = el("output", { text: w.weight.toFixed(1) });
        input.addEventListener("input", () => { w.weight = Number(input.value); value.textContent = w.weight.toFixed(1); });
        return el("label", { class: "slider" }, el("span", { class: "concept-name", text: w.label }), input, value);
      }));
    };
    // A concept added to a row starts at +0.8: on the scale's upper end, where its activation
    // rises in the candidates (a half step often stays under the row's own).
    const chips = (list: Concept[], id?: string) => el("div", { class: "chips", id }, ...list.map((c) => {
      const b = el("button", { type: "button", class: "chip", text: c.label, title: `concept ${c.id}` });
      b.addEventListener("click", () => addSlider(c, 0.8));
      return b;
    }));
    for (const c of found.concepts.slice(0, 5)) addSlider(c);
    const suggested = found.suggested.length ? [
      el("h3", { text: "Suggested: concepts its nearest rows share and it lacks" }),
      chips(found.suggested, "suggested-concepts")] : [];
    const top = el("ul", { class: "concepts", id: "row-concepts" }, ...found.concepts.slice(0, 6).map((c) => el("li", {},
      el("span", { text: c.label }), el("span", { class: "muted", text: ` ${(c.activation ?? 0).toFixed(2)}` }),
      c.related?.length ? chips(c.related) : null)));
    const query = el("input", { type: "search", placeholder: "Find a concept…", id: "concept-search" });
    const results = el("div");
    const form = el("form", { class: "search" }, query, el("button", { type: "submit", text: "Find" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const hits = await guarded(() => this.source.searchConcepts(query.value.trim()));
      if (hits) clear(results, chips(hits));
    });
    const n = this.nInput();
    clear(this.body, ...suggested, el("h3", { text: "Top concepts (click a related one to add it)" }), top, form, results,
      el("h3", { text: "Weights (−1 to 1)" }), sliders, el("label", {}, "n ", n),
      this.generateButton(() => {
        const weights = Object.fromEntries([...this.weights].filter(([, w]) => w.weight !== 0).map(([id, w]) => [id, w.weight]));
        if (!Object.keys(weights).length) return "move at least one concept slider away from 0";
        return { method: "concepts", weights, n: Number(n.value) };
      }));
  }

  private interpolate(row: Row): void {
    const pickRow = el("button", { type: "button", id: "pick-row", text: "Click a row on the map" });
    const arrow = el("button", { type: "button", id: "pick-arrow", text: "Drag an arrow on the map" });
    pickRow.addEventListener("click", () => this.hooks.pick("row"));
    arrow.addEventListener("click", () => this.hooks.pick("arrow"));
    const query = el("input", { type: "search", placeholder: "…or search for the second row", id: "target-search" });
    const results = el("ol", { class: "hits" });
    const form = el("form", { class: "search" }, query, el("button", { type: "submit", text: "Find" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const hits = await guarded(() => this.source.search(query.value.trim(), "semantic"));
      if (!hits) return;
      clear(results, ...hits.slice(0, 8).filter((h) => h.id !== row.id).map((h) => {
        const b = el("button", { type: "button", class: "hit", text: h.text });
        b.addEventListener("click", () => this.setTarget({ row: h.id, text: h.text }));
        return el("li", {}, b);
      }));
    });
    const n = this.nInput();
    const t = this.target;
    clear(this.body,
      el("p", {}, "From this row towards: ", el("strong", { id: "target", text: t ? t.text : "(choose a target)" })),
      el("div", { class: "row-buttons" }, pickRow, arrow), form, results,
      el("label", {}, "n ", n),
      this.generateButton(() => {
        if (!this.target) return "choose a second row or a map point first";
        return { method: "interpolate", n: Number(n.value),
          ...(this.target.row !== undefined ? { to_row: this.target.row } : { to_point: this.target.point }) };
      }));
  }

  private llm(row: Row): void {
    const box = el("textarea", { id: "instruction", rows: 3, placeholder: "e.g. rewrite it as a question from a teenager" });
    const ideas = el("div", { class: "chips", id: "ideas" });
    const suggest = el("button", { type: "button", id: "suggest", text: "Suggest prompt ideas" });
    suggest.addEventListener("click", async () => {
      clear(ideas, el("span", { class: "muted", text: "Thinking…" }));
      const found = await guarded(() => this.source.ideas(row.id));
      clear(ideas, ...(found ?? []).map((idea) => {
        const b = el("button", { type: "button", class: "chip", text: idea });
        b.addEventListener("click", () => { box.value = idea; });
        return b;
      }));
    });
    const n = this.nInput();
    clear(this.body, el("h3", { text: "Instruction" }), box, suggest, ideas, el("label", {}, "n ", n),
      this.generateButton(() => box.value.trim() ? { method: "llm", instruction: box.value.trim(), n: Number(n.value) }
        : "write an instruction (or pick a suggested idea)"));
  }
}

export function progressLine(text: string): void {
  const line = byId("job-status");
  line.textContent = text;
  line.hidden = !text;
}
