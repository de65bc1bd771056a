// mcp-aiqu local backend: listing and filtering 10k jobs from persisted state, loading that state
// on restart, and submit → running latency of a real process. Baselines run in the same process:
// a bare Array filter+sort over the same 10k jobs, and a bare spawn of the same command.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'packages', 'mcp-aiqu', 'dist', 'index.js');
const jobCount = Number(process.env.BENCH_AIQU_JOBS ?? 10_000);
const runs = Number(process.env.BENCH_RUNS ?? 15);

function seedRecords(stateDir) {
  const statuses = ['succeeded', 'failed', 'stopped', 'succeeded', 'succeeded'];
  const start = Date.parse('2026-01-01T00:00:00Z');
  return Array.from({ length: jobCount }, (_, i) => {
    const id = `local-${String(i + 1).padStart(6, '0')}`;
    return {
      job: {
        id,
        name: `customer-${String.fromCharCode(97 + (i % 5))}/model-${i % 40}`,
        backend: 'local',
        cluster: 'bench',
        status: statuses[i % statuses.length],
        command: ['python', 'train.py', '--epochs', '30'],
        env: {},
        params: { epochs: '30', lr: '0.001' },
        resources: { gpus: 1, cpus: 4 },
        priority: 0,
        labels: { team: `t${i % 10}`, sweep: `s${i % 100}` },
        createdAt: new Date(start + i * 1000).toISOString(),
        startedAt: new Date(start + i * 1000 + 10).toISOString(),
        endedAt: new Date(start + i * 1000 + 500).toISOString(),
        exitCode: i % 5 === 1 ? 1 : 0,
        attempt: 1,
      },
      logPath: join(stateDir, `${id}.log`),
      exitFile: join(stateDir, `${id}.exit`),
    };
  });
}

async function timeAsync(fn, n = runs) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** Milliseconds from spawning a command to its first output line reaching the parent. */
function bareSpawnToOutput() {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('/bin/sh', ['-c', 'echo started; sleep 0.2'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.on('error', reject);
    child.stdout.once('data', () => {
      resolve(performance.now() - t);
      child.kill();
    });
  });
}

export async function run() {
  if (!existsSync(dist)) {
    process.stderr.write('[bench] aiqu: build @nightshift/mcp-aiqu first\n');
    return [];
  }
  const { createLocalBackend } = await import(dist);
  const stateDir = mkdtempSync(join(tmpdir(), 'aiqu-bench-'));
  const config = { enabled: true, gpus: 1, cpus: 64, stopGraceSeconds: 1, inheritEnv: [] };
  const seeded = await createLocalBackend({ stateDir, config, gpus: [] });
  const records = seedRecords(stateDir);
  seeded.store.saveMany(records);
  await seeded.close();

  // Restart: read the 10k-job journal back.
  const loadTime = await timeAsync(async () => {
    const b = await createLocalBackend({ stateDir, config, gpus: [] });
    await b.close();
  }, 5);
  const backend = await createLocalBackend({ stateDir, config, gpus: [] });
  const jobs = records.map((r) => r.job);
  const baselineFilter = (predicate) =>
    jobs
      .filter(predicate)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
      .slice(0, 20);

  const cases = [
    { name: 'newest 20, no filter', filter: {}, predicate: () => true },
    {
      name: 'status=failed + label team=t3',
      filter: { status: ['failed'], labels: { team: 't3' } },
      predicate: (j) => j.status === 'failed' && j.labels.team === 't3',
    },
    {
      name: 'name prefix customer-b/*',
      filter: { name: 'customer-b/*' },
      predicate: (j) => j.name.startsWith('customer-b/'),
    },
  ];
  const rows = [];
  for (const c of cases) {
    const value = await timeAsync(() => backend.list({ filter: c.filter, limit: 20 }));
    const baseline = await timeAsync(async () => baselineFilter(c.predicate));
    rows.push({
      bench: `aiqu list ${jobCount} jobs (median)`,
      case: c.name,
      value,
      unit: 'ms',
      baseline,
      baselineName: 'Array filter+sort',
      ratio: value / baseline,
      target: '≤ 10 ms',
    });
  }
  const bareFilterAll = await timeAsync(async () =>
    JSON.parse(readFileSync(join(stateDir, 'local', 'jobs.jsonl'), 'utf8').split('\n')[0]),
  );
  rows.push({
    bench: `aiqu state load ${jobCount} jobs (median)`,
    case: 'restart reads the journal',
    value: loadTime,
    unit: 'ms',
    baseline: bareFilterAll,
    baselineName: 'read journal, parse 1 line',
    ratio: loadTime / bareFilterAll,
    target: '≤ 300 ms',
  });
  await backend.close();

  // submit → running: from the submit call until the job's first output line is in its log.
  const live = await createLocalBackend({
    stateDir: mkdtempSync(join(tmpdir(), 'aiqu-bench-live-')),
    config,
    gpus: [],
  });
  const latencies = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const job = await live.submit({
      name: 'bench/latency',
      command: ['/bin/sh', '-c', 'echo started; sleep 0.2'],
      env: {},
      params: {},
      resources: { gpus: 0, cpus: 1 },
      priority: 0,
      labels: {},
    });
    const logPath = live.store.get(job.id).logPath;
    for (;;) {
      if (
        job.status === 'running' &&
        existsSync(logPath) &&
        readFileSync(logPath, 'utf8').includes('started')
      )
        break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    latencies.push(performance.now() - t);
  }
  const bare = [];
  for (let i = 0; i < runs; i++) bare.push(await bareSpawnToOutput());
  await new Promise((resolve) => setTimeout(resolve, 400));
  await live.close();
  const value = median(latencies);
  const baseline = median(bare);
  rows.push({
    bench: 'aiqu submit → running (median)',
    case: 'local backend, /bin/sh job',
    value,
    unit: 'ms',
    baseline,
    baselineName: 'bare spawn → first output',
    ratio: value / baseline,
    target: '≤ 50 ms',
  });
  return rows;
}
