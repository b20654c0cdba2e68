// Coverage and Report, drawn in a sheet over the map: a label × concept heatmap (GET /api/coverage)
// with the suggested concepts per label, and before/after bar charts of the diversity measures
// (GET /api/report). SVG built with createElementNS; every name is set with textContent.
import type { Coverage, DiversitySection, Report } from "./api";
import { el, fmt } from "./dom";

const NS = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {},
                                                   text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(value < 0.1 && value > 0 ? 1 : 0)}%`;
}

/** White to the accent blue by ``t`` in [0, 1]. */
function heat(t: number): string {
  const c = Math.max(0, Math.min(1, t));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * c);
  return `rgb(${mix(247, 31)}, ${mix(249, 84)}, ${mix(252, 189)})`;
}

/** The heatmap, a hover readout, a colour key and the suggested concepts per label. */
export function coverageView(cov: Coverage): HTMLElement {
  const root = el("div", { id: "coverage", "data-rows": cov.rows });
  root.append(el("p", { class: "muted", text: `Share of each ${cov.label_column ?? "label"}'s rows on which a concept is `
    + `active, over the ${cov.rows.toLocaleString()} accepted rows. Columns: the ${cov.concepts.length} concepts that `
    + "differ most between labels, including each label's suggested targets (outlined)." }));
  if (!cov.labels.length) {
    root.append(el("p", { text: "This dataset has no label column, so there is nothing to compare concepts across." }));
    return root;
  }
  const cell = 22;
  const left = 150;
  const topMargin = 150;
  const width = left + cov.concepts.length * cell + 120;
  const height = topMargin + cov.labels.length * cell + 8;
  const max = Math.max(1e-9, ...cov.rates.flat());
  const suggested = new Set(Object.entries(cov.suggestions).flatMap(([name, picks]) => picks.map((p) => `${name}\u0000${p.id}`)));
  const chart = svg("svg", { id: "coverage-heatmap", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const readout = el("p", { id: "coverage-readout", class: "readout", text: "Hover a cell for its values." });
  cov.concepts.forEach((concept, j) => {
    const x = left + j * cell + cell / 2;
    const label = svg("text", { x, y: topMargin - 6, transform: `rotate(-50 ${x} ${topMargin - 6})`, class: "col-name" },
      cut(concept.label, 30));
    label.append(svg("title", {}, `concept ${concept.id}: ${concept.label} (active on ${pct(concept.rate)} of all rows)`));
    chart.append(label);
  });
  cov.labels.forEach((name, i) => {
    const y = topMargin + i * cell;
    const rowName = svg("text", { x: left - 6, y: y + cell / 2, class: "row-name" }, cut(name, 22));
    rowName.append(svg("title", {}, `${name} (${cov.label_rows[i]} rows)`));
    chart.append(rowName);
    cov.concepts.forEach((concept, j) => {
      const rate = cov.rates[i][j];
      const text = `${name} × “${concept.label}” (concept ${concept.id}): active on ${pct(rate)} of ${cov.label_rows[i]} `
        + `rows; ${pct(concept.rate)} of all rows`;
      const rect = svg("rect", { x: left + j * cell, y, width: cell - 1, height: cell - 1, fill: heat(rate / max),
        class: suggested.has(`${name}\u0000${concept.id}`) ? "cell suggested" : "cell",
        "data-label": name, "data-concept": concept.id, "data-rate": rate });
      rect.append(svg("title", {}, text));
      rect.addEventListener("mouseenter", () => { readout.textContent = text; rect.classList.add("hover"); });
      rect.addEventListener("mouseleave", () => rect.classList.remove("hover"));
      chart.append(rect);
    });
  });
  const key = el("div", { class: "heat-key" }, el("span", { text: "0%" }),
    el("span", { class: "heat-bar", style: `background: linear-gradient(to right, ${heat(0)}, ${heat(1)})` }),
    el("span", { text: pct(max) }));
  const targets = el("div", { id: "coverage-targets", class: "targets" });
  for (const name of cov.labels) {
    const picks = cov.suggestions[name] ?? [];
    targets.append(el("div", { class: "target", "data-label": name },
      el("h4", { text: name }),
      picks.length ? el("ol", {}, ...picks.map((p) => el("li", {},
        el("span", { text: p.label }),
        el("span", { class: "muted", text: ` — ${pct(p.rate_in_label)} here vs ${pct(p.rate_elsewhere)} elsewhere` }))))
        : el("p", { class: "muted", text: "Nothing common elsewhere is missing here." })));
  }
  root.append(el("div", { class: "heat-wrap" }, chart), readout, key,
    el("h3", { text: "Suggested targets: concepts common in other labels but rare in this one" }), targets);
  return root;
}

type Measure = { key: keyof DiversitySection; name: string; format: (v: number) => string };

const MEASURES: Measure[] = [
  { key: "vendi", name: "Vendi score (effective number of distinct rows)", format: (v) => v.toFixed(2) },
  { key: "mean_nn_distance", name: "Mean cosine distance to the nearest row", format: (v) => v.toFixed(3) },
  { key: "occupied_area_share", name: "Share of the map area occupied", format: (v) => pct(v) },
  { key: "rows", name: "Rows", format: (v) => String(Math.round(v)) },
];

/** One grouped horizontal bar chart: a before and an after bar for all rows and for each label. */
function barChart(measure: Measure, groups: { name: string; before: DiversitySection | undefined; after: DiversitySection | undefined }[]): SVGSVGElement {
  const left = 150;
  const barWidth = 260;
  const bar = 9;
  const groupHeight = 2 * bar + 8;
  const width = left + barWidth + 120;
  const height = groups.length * groupHeight + 4;
  const value = (s: DiversitySection | undefined) => {
    const v = s?.[measure.key];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  const max = Math.max(1e-9, ...groups.flatMap((g) => [value(g.before) ?? 0, value(g.after) ?? 0]));
  const chart = svg("svg", { class: "report-chart", width, height, viewBox: `0 0 ${width} ${height}`,
    "data-measure": measure.key, role: "img" });
  groups.forEach((group, k) => {
    const y = k * groupHeight + 2;
    const before = value(group.before);
    const after = value(group.after);
    const name = svg("text", { x: left - 6, y: y + bar + 1, class: "row-name" }, cut(group.name, 22));
    name.append(svg("title", {}, group.name));
    chart.append(name);
    const g = svg("g", { class: "bar-group", "data-group": group.name, "data-before": before ?? "",
      "data-after": after ?? "" });
    ([["before", before, y], ["after", after, y + bar + 1]] as [string, number | null, number][]).forEach(([side, v, top]) => {
      const w = v === null ? 0 : Math.max(1, (barWidth * v) / max);
      const rect = svg("rect", { x: left, y: top, width: w, height: bar, class: `bar-${side}` });
      rect.append(svg("title", {}, `${group.name}, ${side}: ${v === null ? "no rows" : measure.format(v)}`));
      g.append(rect);
      g.append(svg("text", { x: left + w + 4, y: top + bar - 1, class: `bar-value value-${side}` },
        v === null ? "–" : measure.format(v)));
    });
    if (before !== null && after !== null && after !== before) {
      const change = after - before;
      g.append(svg("text", { x: width - 4, y: y + bar + 1, class: change > 0 ? "bar-change up" : "bar-change down" },
        `${change > 0 ? "+" : "−"}${measure.format(Math.abs(change))}`));
    }
    chart.append(g);
  });
  return chart;
}

/** Before/after charts of each measure for all rows and per label, and the gaps from the last search. */
export function reportView(report: Report): HTMLElement {
  const labels = [...new Set([...Object.keys(report.before.labels), ...Object.keys(report.after.labels)])].sort();
  const groups = [{ name: "all rows", before: report.before.all, after: report.after.all },
    ...labels.map((name) => ({ name, before: report.before.labels[name], after: report.after.labels[name] }))];
  const root = el("div", { id: "report" });
  root.append(
    el("p", { class: "muted", text: "Before: the original rows. After: the accepted set (originals and accepted new "
      + "rows). Both use the same map box, so the area shares compare." }),
    el("div", { class: "legend-row" },
      el("span", { class: "swatch bar-before-swatch" }), el("span", { text: "before" }),
      el("span", { class: "swatch bar-after-swatch" }), el("span", { text: "after" })),
    el("dl", { class: "summary", id: "report-summary" },
      el("dt", { text: "Vendi before → after" }),
      el("dd", { text: `${fmt(report.before.all.vendi)} → ${fmt(report.after.all.vendi)}` }),
      el("dt", { text: "Gaps (last search)" }),
      el("dd", { id: "report-gaps", text: `${report.gaps.count} · total score ${fmt(report.gaps.total_score)}` })));
  root.append(el("div", { class: "report-grid" }, ...MEASURES.map((measure) =>
    el("div", { class: "report-measure" }, el("h3", { text: measure.name }), barChart(measure, groups)))));
  root.append(el("p", { class: "muted", text: "Gaps are counted from the last gap search (the Gaps tab) over the "
    + "current rows; search again after accepting new rows to see them shrink." }));
  return root;
}
