// MCP cold start: spawn → initialize → tools/list per server bin, against a bare `node -e ''`
// start measured in the same run. Target: median ≤ 150 ms.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, timeMcpColdStart, timeProcess } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const runs = Number(process.env.BENCH_RUNS ?? 15);
const scratch = mkdtempSync(join(tmpdir(), 'nightshift-bench-'));

// The least configuration each server needs to start.
const servers = [
  { name: 'mcp-mlflow', bin: 'nightshift-mcp-mlflow', env: {} },
  { name: 'mcp-aiqu', bin: 'nightshift-mcp-aiqu', env: { NIGHTSHIFT_AIQU_STATE_DIR: join(scratch, 'aiqu') } },
  { name: 'mcp-datasets', bin: 'nightshift-mcp-datasets', env: { NIGHTSHIFT_DATASETS_ROOT: scratch } },
  { name: 'mcp-git', bin: 'nightshift-mcp-git', env: { NIGHTSHIFT_GIT_CACHE_DIR: join(scratch, 'git') } },
];

export async function run() {
  const baseline = [];
  for (let i = 0; i < runs; i++) baseline.push(await timeProcess(process.execPath, ['-e', '']));
  const base = median(baseline);
  const rows = [];
  for (const server of servers) {
    const bin = join(root, 'packages', server.name, 'bin', `${server.bin}.js`);
    if (!existsSync(join(root, 'packages', server.name, 'dist', 'bundle', 'main.js'))) continue;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...server.env };
    const times = [];
    // One unmeasured start fills V8's compile cache, as any client's second start would find it.
    await timeMcpColdStart(process.execPath, [bin], env);
    for (let i = 0; i < runs; i++) times.push(await timeMcpColdStart(process.execPath, [bin], env));
    const value = median(times);
    rows.push({
      bench: 'MCP cold start (median)',
      case: server.bin,
      value,
      unit: 'ms',
      baseline: base,
      baselineName: "node -e ''",
      ratio: value / base,
      target: '≤ 150 ms',
    });
  }
  return rows;
}
