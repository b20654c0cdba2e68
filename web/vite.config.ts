// Builds the UI into the Python package (src/amplio/server/static) so users never need Node.
// The output is deterministic (content-hashed names, no timestamps) and carries build-info.json
// with a hash of the sources and lockfile, which a pytest test recomputes to catch a stale bundle.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { defineConfig } from "vite";

const root = resolve(import.meta.dirname);
const outDir = process.env.AMPLIO_WEB_OUT ?? resolve(root, "../src/amplio/server/static");

/** Files whose content defines the bundle; tests/server/test_static.py mirrors this list. */
function sourceFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).sort().flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  const fixed = ["index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"];
  return [...fixed.map((f) => join(root, f)), ...walk(join(root, "src"))];
}

export function sourceHash(): string {
  const hash = createHash("sha256");
  for (const path of sourceFiles()) {
    hash.update(relative(root, path).split("\\").join("/"));
    hash.update("\0");
    hash.update(readFileSync(path));
    hash.update("\0");
  }
  return hash.digest("hex");
}

export default defineConfig({
  root,
  base: "./",
  resolve: {
    // Only the map component: the package root also pulls in the whole viewer app (~4 MB).
    alias: { "embedding-atlas-component": resolve(root, "node_modules/embedding-atlas/dist/component.js") },
  },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
  plugins: [
    {
      name: "amplio-build-info",
      generateBundle() {
        this.emitFile({
          type: "asset",
          fileName: "build-info.json",
          source: JSON.stringify({ source_hash: sourceHash() }, null, 2) + "\n",
        });
      },
    },
  ],
});
