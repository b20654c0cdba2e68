// Review: the candidate list (badges, accept / reject / edit in place), adding a row by hand, and
// the history of all actions, filterable by method.
import type { Augmentation, DataSource, HistoryEntry, Listed } from "./api";
import { clear, el, fmt, guarded } from "./dom";

export interface ReviewHooks { changed: () => Promise<void>; select: (id: number) => void; focus: (rows: Listed[]) => void }

function score(row: Listed, key: "fidelity" | "novelty" | "duplicate_of"): number | null {
  const value = (row as unknown as Record<string, unknown>)[key] ?? row.params?.[key];
  return typeof value === "number" ? value : null;
}

export class ReviewPanel {
  private list = el("ol", { class: "candidates", id: "candidates" });
  private outcome = el("div", { class: "outcome", id: "outcome" });
  private history = el("ol", { class: "history", id: "history" });
  private methodFilter = el("select", { id: "history-method" },
    ...["", "concepts", "interpolate", "llm", "manual"].map((m) => el("option", { value: m, text: m || "all methods" })));

  constructor(private root: HTMLElement, private source: DataSource, private hooks: ReviewHooks) {
    const text = el("textarea", { id: "manual-text", rows: 2, placeholder: "Type a new row…" });
    const add = el("form", { class: "add" }, text, el("button", { type: "submit", id: "add-row", text: "Add row" }));
    add.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      const row = await guarded(() => this.source.add(text.value.trim(), null));
      if (row) { text.value = ""; await this.hooks.changed(); }
    });
    this.methodFilter.addEventListener("change", () => void this.refreshHistory());
    clear(root,
      el("h2", { text: "Candidates" }), this.list, this.outcome,
      el("h3", { text: "Add a row by hand" }), add,
      el("h3", { text: "History" }), this.methodFilter, this.history);
  }

  async refresh(): Promise<void> {
    const rows = await guarded(() => this.source.rows("candidate"));
    if (rows) this.showCandidates(rows);
    await this.refreshHistory();
  }

  showCandidates(rows: Listed[]): void {
    this.hooks.focus(rows);
    if (!rows.length) {
      clear(this.list, el("li", { class: "muted", text: "No candidates yet: select a row and Generate." }));
      return;
    }
    clear(this.list, ...rows.map((row) => this.candidate(row)));
  }

  /** What the last request did not show, and why: its note, the texts held back with their
   * reasons, and rows to try instead. Every text goes in as text, never as markup. */
  showOutcome(result: Augmentation): void {
    const parts: HTMLElement[] = [];
    if (result.note) parts.push(el("p", { class: "note", id: "outcome-note", text: result.note }));
    if (result.suggestions.length) {
      parts.push(el("div", { class: "chips", id: "outcome-suggestions" },
        el("span", { class: "muted", text: "Try instead: " }),
        ...result.suggestions.map((s) => {
          const b = el("button", { type: "button", class: "chip", text: `#${s.id}`, title: s.why });
          b.addEventListener("click", () => this.hooks.select(s.id));
          return b;
        })));
    }
    if (result.held_back.length) {
      const items = result.held_back.map((h) => el("li", { class: "held" },
        el("span", { class: "badge warn", text: h.reasons.join(", "), title: h.why.join("; ") }),
        el("span", { class: "held-text", text: ` ${h.text}` })));
      parts.push(el("details", { id: "held-back" },
        el("summary", { text: `${result.held_back.length} held back (why each was not shown)` }),
        el("ol", { class: "held-list" }, ...items)));
    }
    clear(this.outcome, ...parts);
  }

  private candidate(row: Listed): HTMLElement {
    const fidelity = score(row, "fidelity");
    const novelty = score(row, "novelty");
    const dup = score(row, "duplicate_of");
    const text = el("p", { class: "cand-text", text: row.text });
    const badges = el("div", { class: "badges" },
      el("span", { class: "badge method", text: row.method ?? ("origin" in row ? row.origin : "") }),
      el("span", { class: "badge", title: "how close the text's embedding is to the target", text: `fidelity ${fmt(fidelity)}` }),
      el("span", { class: "badge", title: "1 − cosine to the nearest existing row", text: `novelty ${fmt(novelty)}` }),
      dup !== null ? el("span", { class: "badge warn", text: `duplicate of #${dup}` }) : null,
      typeof row.params?.gap === "string" ? el("span", { class: "badge gap", title: "made to fill this gap",
        text: row.params.gap }) : null,
      row.parents?.length ? el("span", { class: "muted", text: `from #${row.parents.join(", #")}` }) : null);
    const act = (name: string, status: "accepted" | "rejected") => {
      const b = el("button", { type: "button", class: `act ${status}`, text: name });
      b.addEventListener("click", async () => {
        if (await guarded(() => this.source.setStatus([row.id], status)) !== undefined) await this.hooks.changed();
      });
      return b;
    };
    const edit = el("button", { type: "button", class: "act edit", text: "Edit" });
    const item = el("li", { "data-id": row.id, class: "candidate" }, text, badges,
      el("div", { class: "actions" }, act("Accept", "accepted"), act("Reject", "rejected"), edit));
    edit.addEventListener("click", () => {
      const area = el("textarea", { class: "edit-text", rows: 3 });
      area.value = row.text;
      const save = el("button", { type: "button", class: "act save", text: "Save" });
      save.addEventListener("click", async () => {
        if (await guarded(() => this.source.edit(row.id, area.value)) !== undefined) await this.hooks.changed();
      });
      text.replaceWith(area);
      edit.replaceWith(save);
      area.focus();
    });
    text.addEventListener("click", () => this.hooks.select(row.id));
    return item;
  }

  async refreshHistory(): Promise<void> {
    const entries = await guarded(() => this.source.history());
    if (!entries) return;
    const method = this.methodFilter.value;
    const shown = entries.filter((h) => !method || describeMethod(h) === method);
    clear(this.history, ...shown.slice(0, 100).map((h) => el("li", { class: h.undone ? "undone" : "" },
      el("span", { text: `${h.action}${describeMethod(h) ? ` (${describeMethod(h)})` : ""}` }),
      el("span", { class: "muted", text: ` ${summary(h)} · ${h.at.slice(0, 19)}${h.undone ? " · undone" : ""}` }))));
    if (!shown.length) clear(this.history, el("li", { class: "muted", text: "Nothing yet." }));
  }
}

function describeMethod(h: HistoryEntry): string {
  const m = h.method ?? (h.origin === "manual" ? "manual" : "");
  return typeof m === "string" ? m : "";
}

function summary(h: HistoryEntry): string {
  if (Array.isArray(h.ids)) return `${h.ids.length} row(s)`;
  if (Array.isArray(h.rows)) return `${h.rows.length} row(s)${h.status ? ` → ${String(h.status)}` : ""}`;
  if (typeof h.id === "number") return `row #${h.id}`;
  return "";
}
