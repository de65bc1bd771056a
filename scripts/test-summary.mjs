#!/usr/bin/env node
// Sums every runner's results (vitest JSON reports, JUnit XML from pytest) into one line:
// "N passed, N failed, N skipped". Exits non-zero when anything failed or nothing passed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
const perRunner = [];

for (const file of readdirSync(dir).sort()) {
  const text = readFileSync(join(dir, file), 'utf8');
  let p = 0;
  let f = 0;
  let s = 0;
  if (file.endsWith('.json')) {
    const report = JSON.parse(text);
    p = report.numPassedTests ?? 0;
    f = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
    s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    if (report.success === false && f === 0) f = 1; // a suite that failed to load counts as a failure
  } else if (file.endsWith('.xml')) {
    for (const match of text.matchAll(/<testsuite\b([^>]*)>/g)) {
      const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(match[1])?.[1] ?? 0);
      const total = attr('tests');
      const bad = attr('failures') + attr('errors');
      const skip = attr('skipped');
      p += total - bad - skip;
      f += bad;
      s += skip;
    }
  } else continue;
  perRunner.push(`${file.replace(/\.(json|xml)$/, '')}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}

for (const line of perRunner) console.log(`  ${line}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
