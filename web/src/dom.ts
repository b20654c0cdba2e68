// DOM helpers. Data never goes through innerHTML: text is set with textContent, so a row like
// `<img src=x onerror=alert(1)>` shows as those characters and runs nothing.

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);  // strings become text nodes
  return node;
}

export function clear(node: Element, ...children: Child[]): void {
  node.replaceChildren(...children.filter((c): c is Node | string => Boolean(c)));
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}

let hideTimer: number | undefined;

/** Show a readable error banner; the saved state is untouched, so the user can go on. */
export function showError(error: unknown): void {
  const box = byId("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
  window.clearTimeout(hideTimer);
  hideTimer = window.setTimeout(() => (box.hidden = true), 12000);
}

export function clearError(): void {
  byId("error").hidden = true;
}

/** Run an async UI action, showing its error instead of throwing. */
export async function guarded<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    console.error(error);
    showError(error);
    return undefined;
  }
}

export function fmt(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);
}
