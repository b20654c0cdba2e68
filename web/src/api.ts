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

export interface Info {
  path: string; rows: number; original: number; augmented: number; manual: number;
  accepted: number; candidates: number; rejected: number; methods: Record<string, number>;
  labels: Record<string, number>; clusters: number; source: string | null; text_column: string | null;
  label_column: string | null; encoder: string | null; export_formats: string[];
  /** The file name of the server's reference set of prompts (``amplio serve --reference``), if any. */
  reference: string | null;
}

export type Category = "label" | "method" | "origin" | "status";

export interface Points {
  count: number; ids: Int32Array; x: Float32Array; y: Float32Array; cluster: Int16Array;
  textLength: Int32Array; codes: Record<Category, Uint8Array>; categories: Record<Category, string[]>;
}

export interface Row {
  id: number; text: string; label: string | null; origin: string; method: string | null;
  parents: number[]; params: Record<string, unknown>; status: string; x: number; y: number;
  cluster: number | null; fidelity?: number | null; novelty?: number | null; duplicate_of?: number | null;
  flags?: string[];
}

export interface Hit { id: number; text: string; label: string | null; x: number; y: number; status: string; score: number | null }
export interface Cluster { id: number; label: string; keywords: string[]; size: number; x: number | null; y: number | null }
export interface Concept { id: number; label: string; activation?: number; cosine?: number; related?: Concept[]; [k: string]: unknown }
export interface Job { id: string; kind: string; state: "queued" | "running" | "done" | "failed"; stage: string;
  done: number; total: number; result: unknown; error: string | null; status: number | null; seconds: number }
export interface HeldBack { text: string; reasons: string[]; why: string[] }
export interface Partner { id: number; why: string; cosine_to_start?: number; cosine_to_end?: number }
/** What an augmentation job returns: the stored candidates, the texts held back and why. */
export interface Augmentation { candidates: Row[]; held_back: HeldBack[]; note: string | null; suggestions: Partner[] }
export interface HistoryEntry { seq: number; action: string; at: string; undone: boolean; [k: string]: unknown }

/** A ranked empty space: map position, score, size, keywords and the rows on its rim. */
export interface Gap { id: string; score: number; x: number; y: number; size: number; radius: number;
  description: string[] | string; rim_rows: number[]; labels: Record<string, number>;
  /** Reference gaps only: reference texts from the region the rows do not cover. */
  examples?: string[]; reference?: string }
export interface Suggestion { id: number; concept: number; label: string; rate_in_label: number; rate_elsewhere: number }
/** Concept coverage: ``rates[label][column]`` is the share of the label's rows with the concept active. */
export interface Coverage { rows: number; threshold: number; labels: string[]; label_rows: number[];
  label_column: string | null; concepts: { id: number; label: string; rate: number }[]; rates: number[][];
  suggestions: Record<string, Suggestion[]> }
export interface DiversitySection { rows: number; vendi: number | null; mean_nn_distance: number | null;
  occupied_area_share: number | null; gaps: number; gap_score_total: number }
export interface DiversityReport { all: DiversitySection; labels: Record<string, DiversitySection>; grid: number; bounds: number[] }
export interface Report { before: DiversityReport; after: DiversityReport; gaps: { count: number; total_score: number } }

function decode<T>(b64: string, make: (buffer: ArrayBuffer) => T): T {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return make(bytes.buffer);
}

export const api = {
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
  rows: (status?: string, origin?: string) => request<Row[]>("GET", "rows", { status, origin }),
  search: (q: string, mode: "substring" | "semantic") =>
    request<{ hits: Hit[] }>("GET", "search", { q, mode }).then((r) => r.hits),
  clusters: () => request<Cluster[]>("GET", "clusters"),
  rowConcepts: (id: number) => request<{ concepts: Concept[]; suggested: Concept[] }>("GET", `rows/${id}/concepts`),
  searchConcepts: (q: string) => request<Concept[]>("GET", "concepts/search", { q }),
  relatedConcepts: (id: number) => request<Concept[]>("GET", `concepts/${id}/related`),
  ideas: (id: number) => request<{ ideas: string[] }>("GET", `rows/${id}/ideas`).then((r) => r.ideas),
  augment: (body: Record<string, unknown>) => request<{ job_id: string }>("POST", "augment", undefined, body),
  job: (id: string) => request<Job>("GET", `jobs/${id}`),
  gaps: (top: number, against: "data" | "reference" = "data") => request<Gap[]>("GET", "gaps", { top, against }),
  fillGap: (id: string, body: { method: string; n: number; instruction?: string; seed?: number }) =>
    request<{ job_id: string }>("POST", `gaps/${encodeURIComponent(id)}/fill`, undefined, body),
  coverage: () => request<Coverage>("GET", "coverage"),
  report: () => request<Report>("GET", "report"),
  setStatus: (ids: number[], status: string) => request("POST", "rows/status", undefined, { ids, status }),
  edit: (id: number, text: string) => request<Row>("POST", `rows/${id}/edit`, undefined, { text }),
  add: (text: string, label: string | null) => request<Row>("POST", "rows", undefined, { text, label }),
  undo: () => request<{ undone: Record<string, unknown> | null }>("POST", "undo"),
  history: () => request<HistoryEntry[]>("GET", "history"),
  exportUrl: (format: string, status: string) => url("export", { format, status }),

  /** Follow a job through server-sent events until it ends; resolves with its result. */
  follow(jobId: string, onProgress: (job: Job) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const source = new EventSource(url(`jobs/${jobId}/events`));
      const finish = (job: Job) => {
        source.close();
        if (job.state === "done") resolve(job.result);
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
        api.job(jobId).then((job) => (job.state === "done" || job.state === "failed" ? finish(job)
          : reject(new ApiError("lost the progress stream; reload to see the result", 0))), reject);
      };
    });
  },
};
