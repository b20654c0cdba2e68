// A WebGL 2 scatter renderer, used when embedding-atlas's WebGPU view cannot start (no WebGPU, or
// no shader-f16: Firefox on Linux, most headless/CI browsers). One draw call of gl.POINTS over
// Float32 buffers, so 1M points pan and zoom smoothly; additive-looking alpha shows density.

export interface Scatter {
  /** Every point; with ``match``, those where it is 0 are drawn dimmed, under the rest. */
  setData(x: Float32Array, y: Float32Array, category: Uint8Array, colours: string[], match: Uint8Array | null): void;
  setSelected(point: { x: number; y: number } | null): void;
  /** Data coordinates -> CSS pixels inside the map element. */
  location(x: number, y: number): { x: number; y: number };
  /** Move the view so the data point (x, y) is in the middle, zooming in by ``zoom`` at least. */
  centre(x: number, y: number, zoom: number): void;
  destroy(): void;
}

export interface ScatterHooks {
  hover(x: number, y: number, unit: number, screen: { x: number; y: number }): void;
  click(x: number, y: number, unit: number): void;
  changed(): void;
}

/** Points drawn while panning or zooming a larger map (all of them once the view is still), at
 * first; the sample then adapts to the frame time between MIN_SAMPLE and the point count. */
const SAMPLE = 150_000;
const MIN_SAMPLE = 20_000;
/** Frame time the moving sample aims for (ms): shrink above it, grow well below it. */
const FRAME_BUDGET = 40;

/** Category code of a dimmed point (a filter or search is active and it does not match). */
export const DIMMED = 63;

let lastShuffle: Uint32Array = new Uint32Array(0);

/** A fixed pseudo-random permutation of 0..n-1 (deterministic, so the sample is stable; cached). */
function shuffled(n: number): Uint32Array {
  if (lastShuffle.length === n) return lastShuffle;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let seed = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const j = seed % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  lastShuffle = order;
  return order;
}

const VERTEX = `#version 300 es
in vec2 a_pos; in float a_cat;
uniform vec2 u_scale; uniform vec2 u_offset; uniform float u_size;
uniform vec3 u_colours[64];
out vec4 v_colour;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
  int c = int(a_cat);
  v_colour = c == ${DIMMED} ? vec4(0.62, 0.64, 0.68, 0.22) : vec4(u_colours[c % 64], 0.7);
}`;
const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_colour; out vec4 colour;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  colour = vec4(v_colour.rgb * v_colour.a, v_colour.a);
}`;

function parseColour(css: string): [number, number, number] {
  const c = document.createElement("canvas").getContext("2d")!;
  c.fillStyle = css;
  const hex = c.fillStyle as string;  // normalised to #rrggbb
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
}

export class GLScatter implements Scatter {
  private canvas: HTMLCanvasElement;
  private gl: WebGL2RenderingContext;
  private program: WebGLProgram;
  private buffers: { pos: WebGLBuffer; cat: WebGLBuffer };
  private count = 0;
  private dimmed = 0;  // the first ``dimmed`` points in the buffers are drawn dimmed, first
  private view = { cx: 0, cy: 0, scale: 1 };  // data centre and data-units -> [-1, 1] scale
  private colours = new Float32Array(64 * 3);
  private selected: HTMLDivElement;
  private selectedPoint: { x: number; y: number } | null = null;
  private frame = 0;
  private fit = 1;
  private interacting = false;
  private dragging = false;
  private sample = SAMPLE;  // points drawn while moving (adapted to the frame time)
  private lastMovingFrame = 0;  // rAF timestamp of the previous frame drawn while moving
  private idleTimer = 0;
  private observer: ResizeObserver;

  constructor(private target: HTMLElement, private hooks: ScatterHooks) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "gl-map";
    target.append(this.canvas);
    const gl = this.canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: true });
    if (!gl) throw new Error("this browser supports neither WebGPU nor WebGL 2, so the map cannot be drawn");
    this.gl = gl;
    this.program = this.link();
    this.buffers = { pos: gl.createBuffer()!, cat: gl.createBuffer()! };
    this.selected = document.createElement("div");
    this.selected.className = "gl-selected";
    this.selected.hidden = true;
    target.append(this.selected);
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(target);
    this.interact();
  }

  private link(): WebGLProgram {
    const gl = this.gl;
    const program = gl.createProgram()!;
    for (const [type, source] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, FRAGMENT]] as const) {
      const shader = gl.createShader(type)!;
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader) ?? "shader error");
      gl.attachShader(program, shader);
    }
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program) ?? "link error");
    return program;
  }

  setData(x: Float32Array, y: Float32Array, category: Uint8Array, colours: string[], match: Uint8Array | null): void {
    const gl = this.gl;
    const first = this.count === 0;
    this.count = x.length;
    // Points go to the GPU in a fixed shuffled order, so the first k of them are a uniform sample:
    // while the user pans or zooms a large map, only that sample is drawn (see SAMPLE). With a
    // filter, the dimmed points come first (drawn under the matching ones), each part still shuffled.
    const order = shuffled(x.length);
    const pos = new Float32Array(x.length * 2);
    const cats = new Float32Array(x.length);
    let dimmed = 0;
    if (match) for (let i = 0; i < x.length; i++) dimmed += match[i] ? 0 : 1;
    this.dimmed = dimmed;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    let low = 0;
    let high = dimmed;
    for (let k = 0; k < x.length; k++) {
      const i = order[k];
      const at = match && !match[i] ? low++ : high++;
      pos[2 * at] = x[i]; pos[2 * at + 1] = y[i]; cats[at] = match && !match[i] ? DIMMED : category[i];
      if (x[i] < x0) x0 = x[i]; if (x[i] > x1) x1 = x[i]; if (y[i] < y0) y0 = y[i]; if (y[i] > y1) y1 = y[i];
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pos);
    gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.cat);
    gl.bufferData(gl.ARRAY_BUFFER, cats, gl.STATIC_DRAW);
    this.colours.fill(0.5);
    colours.slice(0, 64).forEach((c, k) => this.colours.set(parseColour(c), 3 * k));
    if (first && x.length) {
      // Fit the data once; later updates (filters, new candidates) keep the user's view.
      this.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: 1.9 / Math.max(x1 - x0, y1 - y0, 1e-6) };
      this.fit = this.view.scale;
    }
    this.draw();
  }

  setSelected(point: { x: number; y: number } | null): void {
    this.selectedPoint = point;
    this.draw();
  }

  private aspect(): [number, number] {
    const w = this.target.clientWidth || 1;
    const h = this.target.clientHeight || 1;
    return w > h ? [h / w, 1] : [1, w / h];
  }

  location(x: number, y: number): { x: number; y: number } {
    const [ax, ay] = this.aspect();
    const nx = (x - this.view.cx) * this.view.scale * ax;
    const ny = (y - this.view.cy) * this.view.scale * ay;
    return { x: ((nx + 1) / 2) * this.target.clientWidth, y: ((1 - ny) / 2) * this.target.clientHeight };
  }

  private toData(px: number, py: number): { x: number; y: number } {
    const [ax, ay] = this.aspect();
    const nx = (px / this.target.clientWidth) * 2 - 1;
    const ny = 1 - (py / this.target.clientHeight) * 2;
    return { x: nx / (this.view.scale * ax) + this.view.cx, y: ny / (this.view.scale * ay) + this.view.cy };
  }

  /** Data units per CSS pixel at the current zoom. */
  private unit(): number {
    const a = this.toData(0, 0);
    const b = this.toData(1, 0);
    return Math.abs(b.x - a.x);
  }

  /** Mark a pan/zoom in progress: draw the sample now, everything once input pauses (for a drag:
   * once the button is released, so a pause mid-drag does not stall on a full redraw). */
  private moving(): void {
    this.interacting = this.count > MIN_SAMPLE && this.count > this.sample;
    window.clearTimeout(this.idleTimer);
    this.idleTimer = window.setTimeout(() => {
      if (this.dragging) return;
      this.interacting = false;
      this.draw();
    }, 150);
  }

  draw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame((now) => {
      this.frame = 0;
      this.adapt(now);
      this.render();
      this.hooks.changed();
    });
  }

  /** While moving, scale the sample so frames stay near FRAME_BUDGET (a software renderer draws
   * ~1M points/s, a GPU far more): consecutive moving frames measure the last one's cost. */
  private adapt(now: number): void {
    if (!this.interacting) { this.lastMovingFrame = 0; return; }
    const took = this.lastMovingFrame ? now - this.lastMovingFrame : 0;
    this.lastMovingFrame = now;
    if (!took || took > 500) return;  // the first moving frame, or a pause in the input
    if (took > FRAME_BUDGET) this.sample = Math.max(MIN_SAMPLE, Math.round(this.sample * Math.max(0.3, FRAME_BUDGET / took)));
    else if (took < FRAME_BUDGET / 2) this.sample = Math.min(Math.max(this.count, MIN_SAMPLE), Math.round(this.sample * 1.2));
  }

  private render(): void {
    const gl = this.gl;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.target.clientWidth * ratio));
    const h = Math.max(1, Math.round(this.target.clientHeight * ratio));
    if (this.canvas.width !== w || this.canvas.height !== h) { this.canvas.width = w; this.canvas.height = h; }
    gl.viewport(0, 0, w, h);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.program);
    const [ax, ay] = this.aspect();
    const s = this.view.scale;
    gl.uniform2f(gl.getUniformLocation(this.program, "u_scale"), s * ax, s * ay);
    gl.uniform2f(gl.getUniformLocation(this.program, "u_offset"), -this.view.cx * s * ax, -this.view.cy * s * ay);
    // Bigger points when few or zoomed in; at 1M rows, 2 px dots let overlap show density.
    const base = this.count > 200_000 ? 2 : this.count > 20_000 ? 3 : 6;
    gl.uniform1f(gl.getUniformLocation(this.program, "u_size"), Math.min(14, base * Math.sqrt(Math.max(1, s / this.fit))) * ratio);
    gl.uniform3fv(gl.getUniformLocation(this.program, "u_colours"), this.colours);
    const pos = gl.getAttribLocation(this.program, "a_pos");
    const cat = gl.getAttribLocation(this.program, "a_cat");
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pos);
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.cat);
    gl.enableVertexAttribArray(cat);
    gl.vertexAttribPointer(cat, 1, gl.FLOAT, false, 0, 0);
    // While moving a large map, a uniform sample of each part (dimmed, matching); else everything.
    const share = this.interacting ? Math.min(1, this.sample / Math.max(this.count, 1)) : 1;
    const matching = this.count - this.dimmed;
    if (this.dimmed) gl.drawArrays(gl.POINTS, 0, Math.ceil(this.dimmed * share));
    if (matching) gl.drawArrays(gl.POINTS, this.dimmed, Math.ceil(matching * share));
    const p = this.selectedPoint;
    this.selected.hidden = !p;
    if (p) {
      const at = this.location(p.x, p.y);
      this.selected.style.transform = `translate(${at.x - 8}px, ${at.y - 8}px)`;
    }
  }

  private interact(): void {
    const c = this.canvas;
    let drag: { x: number; y: number; moved: boolean } | null = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.offsetX, y: e.offsetY, moved: false };
      this.dragging = true;
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (drag) {
        const dx = e.offsetX - drag.x;
        const dy = e.offsetY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
        if (drag.moved) {
          const a = this.toData(drag.x, drag.y);
          const b = this.toData(e.offsetX, e.offsetY);
          this.view.cx -= b.x - a.x; this.view.cy -= b.y - a.y;
          drag.x = e.offsetX; drag.y = e.offsetY;
          this.moving();
          this.draw();
        }
        return;
      }
      const d = this.toData(e.offsetX, e.offsetY);
      this.hooks.hover(d.x, d.y, this.unit(), { x: e.offsetX, y: e.offsetY });
    });
    c.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved) {
        const d = this.toData(e.offsetX, e.offsetY);
        this.hooks.click(d.x, d.y, this.unit());
      }
      if (drag?.moved && this.interacting) { this.interacting = false; this.draw(); }  // full detail again
      drag = null;
      this.dragging = false;
    });
    c.addEventListener("lostpointercapture", () => {
      if (this.dragging && this.interacting) { this.interacting = false; this.draw(); }
      drag = null;
      this.dragging = false;
    });
    c.addEventListener("pointerleave", () => this.hooks.hover(NaN, NaN, 0, { x: 0, y: 0 }));
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const before = this.toData(e.offsetX, e.offsetY);
      this.view.scale *= Math.exp(-e.deltaY * 0.0015);
      const after = this.toData(e.offsetX, e.offsetY);
      this.view.cx += before.x - after.x; this.view.cy += before.y - after.y;
      this.moving();
      this.draw();
    }, { passive: false });
  }

  centre(x: number, y: number, zoom: number): void {
    this.view = { cx: x, cy: y, scale: Math.max(this.view.scale, this.fit * zoom) };
    this.draw();
  }

  /** Pan by a number of CSS pixels (used by the benchmark to measure frame time). */
  panBy(dx: number, dy: number): void {
    const a = this.toData(0, 0);
    const b = this.toData(dx, dy);
    this.view.cx -= b.x - a.x; this.view.cy -= b.y - a.y;
    this.render();
  }

  destroy(): void {
    this.observer.disconnect();
    this.canvas.remove();
    this.selected.remove();
  }
}
