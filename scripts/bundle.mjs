#!/usr/bin/env node
// Bundles a server package's src/main.ts into dist/bundle/ so its bin starts fast: one file to
// load instead of hundreds of modules (MCP clients spawn every server at start-up).
// Run from a package directory: `node ../../scripts/bundle.mjs [entry]`.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const entry = process.argv[2] ?? 'src/main.ts';
if (!existsSync(entry)) {
  console.error(`bundle: ${entry} does not exist yet; nothing to bundle`);
  process.exit(0);
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: { main: entry },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  legalComments: 'none',
  minify: true,
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __nsCreateRequire } from 'node:module'; const require = __nsCreateRequire(import.meta.url);",
  },
  define: { 'process.env.NIGHTSHIFT_PACKAGE_VERSION': JSON.stringify(pkg.version) },
  external: ['playwright-core', 'chromium-bidi', 'electron'],
});
