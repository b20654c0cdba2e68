// The Gaps view (a tab of the left panel): ranked empty spaces from GET /api/gaps, listed with
// their score, size, keywords and the labels around them, each with a Fill form (method, n and,
// for the LLM, an optional instruction) that starts a fill job. The map draws the same gaps.
import type { DataSource, FillBody, Gap } from "./api";
import { clear, el, fmt, guarded } from "./dom";

export interface GapsHooks {
  /** Gaps were (re)loaded: draw them on the map. */
  shown: (gaps: Gap[]) => void;
  /** A gap was chosen in the list: centre and highlight it on the map. */
  focus: (gap: Gap) => void;
  /** Start a fill job for the gap; resolves when it has finished (or failed). */
  fill: (gap: Gap, body: FillBody) => Promise<void>;
}

const METHODS: [string, string][] = [["interpolate", "Interpolation"], ["concepts", "Concepts"], ["llm", "LLM"]];

const INTRO = {
  data: "Regions that are emptier than their surroundings in the embedding space, ranked by how much "
    + "emptier. Treat them as suggestions: fill one, then review the candidates.",
  reference: "Regions that the reference prompts cover and the rows do not, ranked by how much farther "
    + "the rows are than the reference there, weighted by the region's size. Fill one to bring its "
    + "topic in, then review the candidates.",
};

export function gapWords(gap: Gap): string {
  return Array.isArray(gap.description) ? gap.description.join(", ") : String(gap.description ?? "");
}

export class GapsPanel {
  gaps: Gap[] = [];
  focused: string | null = null;
  private list = el("ol", { class: "gap-list", id: "gap-list" });
  private top = el("input", { type: "number", min: 1, max: 50, value: 8, id: "gap-top", class: "n" });
  private note = el("p", { class: "muted", id: "gap-note" });
  private intro = el("p", { class: "muted", id: "gap-intro", text: INTRO.data });
  private against = el("select", { id: "gap-against", "aria-label": "find gaps against", hidden: true },
    el("option", { value: "data", text: "inside the data" }));
  private loaded = false;

  constructor(private root: HTMLElement, private source: DataSource, private hooks: GapsHooks) {
    const find = el("button", { type: "button", id: "find-gaps", text: "Find gaps" });
    find.addEventListener("click", () => void this.load());
    clear(root,
      el("h2", { text: "Gaps" }),
      this.intro,
      el("div", { class: "row-buttons" }, el("label", {}, "Top ", this.top), this.against, find),
      this.note, this.list);
  }

  /** Offer gaps against the server's reference set of prompts, when it has one. */
  setReference(name: string | null): void {
    if (!name || this.against.options.length > 1) return;
    this.against.append(el("option", { value: "reference", text: `not covered vs ${name}` }));
    this.against.hidden = false;
    this.against.addEventListener("change", () => void this.load());
  }

  /** Load the gaps the first time the view opens. */
  async open(): Promise<void> {
    if (!this.loaded) await this.load();
  }

  async load(): Promise<void> {
    this.loaded = true;
    clear(this.list);
    this.note.textContent = "Finding gaps…";
    const top = Math.min(50, Math.max(1, Number(this.top.value) || 8));
    const against = this.against.value === "reference" ? "reference" : "data";
    this.intro.textContent = INTRO[against];
    const found = await guarded(() => this.source.gaps(top, against));
    if (!found) { this.note.textContent = "Could not find gaps."; return; }
    this.gaps = found;
    this.focused = null;
    this.note.textContent = found.length ? `${found.length} gap(s). Click one to show it on the map.`
      : against === "reference" ? "No gaps found: the rows cover what the reference holds."
        : "No gaps found: the rows cover their space evenly (or there are fewer than 12).";
    clear(this.list, ...found.map((gap, k) => this.item(gap, k + 1)));
    this.hooks.shown(found);
  }

  /** Mark a gap as chosen (from the list or from its badge on the map). */
  choose(id: string): void {
    const gap = this.gaps.find((g) => g.id === id);
    if (!gap) return;
    this.focused = id;
    for (const item of this.list.querySelectorAll<HTMLElement>("li.gap")) {
      item.classList.toggle("on", item.dataset.gap === id);
    }
    this.list.querySelector<HTMLElement>(`li.gap[data-gap="${CSS.escape(id)}"]`)?.scrollIntoView({ block: "nearest" });
    this.hooks.focus(gap);
  }

  private item(gap: Gap, rank: number): HTMLElement {
    const head = el("button", { type: "button", class: "gap-head", title: "Show this gap on the map" },
      el("strong", { text: `#${rank}` }),
      el("span", { class: "gap-stats", text: ` score ${fmt(gap.score)} · ${gap.examples ? `reference rows ${gap.size}` : `size ${fmt(gap.size)}`}` }));
    head.addEventListener("click", () => this.choose(gap.id));
    const labels = Object.entries(gap.labels ?? {}).sort((a, b) => b[1] - a[1]);
    const method = el("select", { class: "gap-method", "aria-label": "method" },
      ...METHODS.map(([value, name]) => el("option", { value, text: name })));
    const n = el("input", { type: "number", min: 1, max: 10, value: 3, class: "n gap-n", "aria-label": "n" });
    const instruction = el("input", { type: "text", class: "gap-instruction", hidden: true,
      placeholder: "Instruction (optional), e.g. set it online" });
    method.addEventListener("change", () => { instruction.hidden = method.value !== "llm"; });
    const fill = el("button", { type: "button", class: "primary gap-fill", text: "Fill" });
    fill.addEventListener("click", async () => {
      this.choose(gap.id);
      fill.disabled = true;
      try {
        await this.hooks.fill(gap, { method: method.value as FillBody["method"], n: Math.min(10, Math.max(1, Number(n.value) || 3)),
          ...(method.value === "llm" && instruction.value.trim() ? { instruction: instruction.value.trim() } : {}) });
      } finally {
        fill.disabled = false;
      }
    });
    return el("li", { class: "gap", "data-gap": gap.id, "data-rank": rank },
      head,
      el("p", { class: "gap-words", text: gapWords(gap) || "(no keywords)" }),
      gap.examples?.length ? el("ul", { class: "gap-examples", title: "Reference prompts from this region" },
        ...gap.examples.slice(0, 3).map((text) => el("li", { text }))) : null,
      labels.length ? el("div", { class: "chips gap-labels" },
        ...labels.map(([name, count]) => el("span", { class: "chip", text: `${name} ${count}` }))) : null,
      el("div", { class: "gap-fill-form" }, method, el("label", {}, "n ", n), fill),
      instruction);
  }
}
