// The only module that talks to the server. Every call sends the access token (read once from
// the page URL, as `amplio serve` prints it) and turns the server's error envelope into ApiError.

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

const token = new URLSearchParams(window.location.search).get("token");

function url(path: string, params: Record<string, string | number | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
  if (token) query.set("token", token);
  const qs = query.toString();
  return `api/${path}${qs ? `?${qs}` : ""}`;
}

async function request<T>(method: string, path: string, params?: Record<string, string | number | undefined>,
                          body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("cannot reach the Amplio server: is `amplio serve` still running?", 0);
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const message = payload && typeof payload.error === "string" ? payload.error : `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  return payload as T;
}

import type * as schema from "./schema";

// The server's shapes, generated from its OpenAPI document (web/gen_types.py): a route that
// changes what it returns changes these types, and the build fails where the UI disagrees.
export type Info = schema.Info;
export type Row = schema.Row;
export type Hit = schema.Hit;
export type Cluster = schema.Cluster;
export type Concept = schema.Concept;
export type RowConcepts = schema.RowConcepts;
export type Job = schema.Job;
export type HeldBack = schema.HeldBack;
export type Partner = schema.Partner;
/** What an augmentation job returns: the stored candidates, the texts held back and why. */
export type Augmentation = schema.AugmentationResult;
export type Candidate = schema.Candidate;
export type HistoryEntry = schema.HistoryEntry & Record<string, unknown>;
export type Gap = schema.Gap;
export type Suggestion = schema.Suggestion;
export type Coverage = schema.Coverage;
export type DiversitySection = schema.DiversitySection;
export type Report = schema.Report;
export type AugmentBody = schema.AugmentBody;
export type FillBody = schema.FillBody;
/** A row in a list (the candidates): a listed row, with a candidate's scores when it has them. */
export type Listed = schema.RowBrief | Candidate;

export type Category = "label" | "method" | "origin" | "status";

/** ``/api/points`` decoded into typed arrays, one entry per row. */
export interface Points {
  count: number; ids: Int32Array; x: Float32Array; y: Float32Array; cluster: Int16Array;
  textLength: Int32Array; codes: Record<Category, Uint8Array>; categories: Record<Category, string[]>;
}

/** Everything the panels read and write. The page passes the HTTP one (``http``) to each
 * panel; a test or another host can pass its own. */
export interface DataSource {
  info(): Promise<Info>;
  points(): Promise<Points>;
  row(id: number): Promise<Row>;
  rows(status?: string, origin?: string): Promise<Listed[]>;
  search(q: string, mode: "substring" | "semantic"): Promise<Hit[]>;
  clusters(): Promise<Cluster[]>;
  rowConcepts(id: number): Promise<RowConcepts>;
  searchConcepts(q: string): Promise<Concept[]>;
  relatedConcepts(id: number): Promise<Concept[]>;
  ideas(id: number): Promise<string[]>;
  augment(body: AugmentBody): Promise<{ job_id: string }>;
  job(id: string): Promise<Job>;
  gaps(top: number, against?: "data" | "reference"): Promise<Gap[]>;
  fillGap(id: string, body: FillBody): Promise<{ job_id: string }>;
  coverage(): Promise<Coverage>;
  report(): Promise<Report>;
  setStatus(ids: number[], status: "candidate" | "accepted" | "rejected"): Promise<schema.StatusChanged>;
  edit(id: number, text: string): Promise<Row>;
  add(text: string, label: string | null): Promise<Row>;
  undo(): Promise<schema.Undone>;
  history(): Promise<HistoryEntry[]>;
  exportUrl(format: string, status: string): string;
  /** Follow a job until it ends; resolves with its result. */
  follow(jobId: string, onProgress: (job: Job) => void): Promise<Augmentation>;
}

function decode<T>(b64: string, make: (buffer: ArrayBuffer) => T): T {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return make(bytes.buffer);
}

export const http: DataSource = {
  info: () => request<Info>("GET", "info"),
  async points(): Promise<Points> {
    const raw = await request<{ count: number; columns: Record<string, string>; categories: Record<Category, string[]> }>(
      "GET", "points");
    const c = raw.columns;
    const codes = {} as Record<Category, Uint8Array>;
    for (const name of ["label", "method", "origin", "status"] as Category[]) codes[name] = decode(c[name], (b) => new Uint8Array(b));
    return {
      count: raw.count,
      ids: decode(c.ids, (b) => new Int32Array(b)),
      x: decode(c.x, (b) => new Float32Array(b)),
      y: decode(c.y, (b) => new Float32Array(b)),
      cluster: decode(c.cluster, (b) => new Int16Array(b)),
      textLength: decode(c.text_length, (b) => new Int32Array(b)),
      codes,
      categories: raw.categories,
    };
  },
  row: (id: number) => request<Row>("GET", `rows/${id}`),
  rows: (status?: string, origin?: string) => request<Listed[]>("GET", "rows", { status, origin }),
  search: (q: string, mode: "substring" | "semantic") =>
    request<{ hits: Hit[] }>("GET", "search", { q, mode }).then((r) => r.hits),
  clusters: () => request<Cluster[]>("GET", "clusters"),
  rowConcepts: (id: number) => request<RowConcepts>("GET", `rows/${id}/concepts`),
  searchConcepts: (q: string) => request<Concept[]>("GET", "concepts/search", { q }),
  relatedConcepts: (id: number) => request<Concept[]>("GET", `concepts/${id}/related`),
  ideas: (id: number) => request<{ ideas: string[] }>("GET", `rows/${id}/ideas`).then((r) => r.ideas),
  augment: (body: AugmentBody) => request<{ job_id: string }>("POST", "augment", undefined, body),
  job: (id: string) => request<Job>("GET", `jobs/${id}`),
  gaps: (top: number, against: "data" | "reference" = "data") => request<Gap[]>("GET", "gaps", { top, against }),
  fillGap: (id: string, body: FillBody) =>
    request<{ job_id: string }>("POST", `gaps/${encodeURIComponent(id)}/fill`, undefined, body),
  coverage: () => request<Coverage>("GET", "coverage"),
  report: () => request<Report>("GET", "report"),
  setStatus: (ids, status) => request<schema.StatusChanged>("POST", "rows/status", undefined, { ids, status }),
  edit: (id: number, text: string) => request<Row>("POST", `rows/${id}/edit`, undefined, { text }),
  add: (text: string, label: string | null) => request<Row>("POST", "rows", undefined, { text, label }),
  undo: () => request<schema.Undone>("POST", "undo"),
  history: () => request<HistoryEntry[]>("GET", "history"),
  exportUrl: (format: string, status: string) => url("export", { format, status }),

  /** Follow a job through server-sent events until it ends; resolves with its result. */
  follow(jobId: string, onProgress: (job: Job) => void): Promise<Augmentation> {
    return new Promise((resolve, reject) => {
      const source = new EventSource(url(`jobs/${jobId}/events`));
      const finish = (job: Job) => {
        source.close();
        if (job.state === "done" && job.result) resolve(job.result);
        else if (job.state === "done") reject(new ApiError("the job finished without a result", 500));
        else reject(new ApiError(job.error ?? "the job failed", job.status ?? 500));
      };
      const handle = (event: MessageEvent) => {
        const job = JSON.parse(event.data) as Job;
        onProgress(job);
        if (job.state === "done" || job.state === "failed") finish(job);
      };
      for (const name of ["queued", "running", "done", "failed"]) source.addEventListener(name, handle as EventListener);
      source.onerror = () => {
        // The stream dropped (e.g. a proxy): fall back to one poll so the result is not lost.
        source.close();
        http.job(jobId).then((job) => (job.state === "done" || job.state === "failed" ? finish(job)
          : reject(new ApiError("lost the progress stream; reload to see the result", 0))), reject);
      };
    });
  },
};
