#!/usr/bin/env node
// Runs every bench/*.bench.mjs (or those named on the command line) and prints one table.
import { readdirSync } from 'node:fs';
import { formatTable } from './lib.mjs';

const only = process.argv.slice(2);
const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
const rows = [];
for (const file of files) {
  process.stderr.write(`[bench] ${file}\n`);
  const module = await import(new URL(file, import.meta.url));
  rows.push(...(await module.run()));
}
console.log(formatTable(rows));
