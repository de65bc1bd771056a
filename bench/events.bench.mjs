// Event intake and event turns.
//  1. Signed events accepted and durably stored per second by `nightshift serve` (the built bin,
//     SQLite WAL, synchronous=FULL), against a bare Node HTTP server answering 204 to the same
//     load generator in the same run. Target: ≥ 0.6×.
//  2. p99 accept latency at a steady 500 events/s (open loop), against the same bare server.
//     Target: < 10 ms.
//  3. Model turns per 1,000 events with a scripted model that takes 2 s a turn: the scheduler
//     coalescing what arrives during a turn, against one turn per event, in the same run. Time is
//     compressed 100× (a 20 ms turn, events every 1 ms) so the uncoalesced case ends in ~20 s;
//     the turn counts depend only on the ratio of turn time to arrival interval.
// All traffic goes to 127.0.0.1; every phase is bounded in count and time.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const hostDir = join(root, 'packages', 'agent-host');
const bin = join(hostDir, 'bin', 'nightshift.js');
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const key = Buffer.from(secret.slice(6), 'base64');
const throughputCount = Number(process.env.BENCH_EVENTS ?? 4000);
// 64 jobs posting at once: a busy cluster's worth, and enough that one fsync covers many events.
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);

function waitForUrl(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${text}`)), 30_000);
    const onData = (chunk) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stderr.on('data', onData);
    child.stdout?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}:\n${text}`)));
  });
}

async function startIntake(dir) {
  writeFileSync(
    join(dir, 'nightshift.config.yaml'),
    `dataDir: ./data\npeople:\n  - { name: Bench, role: viewer, web: bench }\nservice:\n  events: { secrets: ['${secret}'] }\n`,
  );
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--config', join(dir, 'nightshift.config.yaml'), '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    },
  );
  const url = await waitForUrl(child, /listening on (http:\/\/\S+)/, 'nightshift serve');
  return { url: `${url}/v1/events`, child };
}

async function startBare() {
  const code =
    "const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(204);r.end()})});" +
    "s.listen(0,'127.0.0.1',()=>console.error('listening on http://127.0.0.1:'+s.address().port))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await waitForUrl(child, /listening on (http:\/\/\S+)/, 'bare server');
  return { url: `${url}/v1/events`, child };
}

let sequence = 0;
function signedRequest() {
  const id = `msg_bench_${process.pid}_${++sequence}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    type: 'job.epoch',
    timestamp: new Date().toISOString(),
    job: { id: `j-${sequence % 20}`, name: `customer-a/run-${sequence % 20}` },
    data: { epoch: sequence, epochs: 60, metrics: { mAP50: 0.874, loss: 0.0312, lr: 3.2e-4 } },
  });
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    },
  };
}

function send(url, agent, prepared) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, { method: 'POST', agent, headers: prepared.headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 202 && res.statusCode !== 204) reject(new Error(`HTTP ${res.statusCode}`));
        else resolve(performance.now() - start);
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(prepared.body);
  });
}

/** Closed loop: `concurrency` requests in flight until `count` are answered (or 60 s pass). */
async function throughput(url, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // Signing happens before the clock starts: the generator should cost both servers the same.
  const prepared = Array.from({ length: count }, signedRequest);
  const warm = Array.from({ length: 200 }, signedRequest);
  await Promise.all(warm.map((p) => send(url, agent, p)));
  let next = 0;
  const deadline = performance.now() + 60_000;
  const start = performance.now();
  const worker = async () => {
    while (next < prepared.length && performance.now() < deadline) await send(url, agent, prepared[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return next / seconds;
}

/** Open loop: one request every 1000/rate ms for `seconds`; latency per request. */
async function latencyAt(url, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = rate * seconds;
  const prepared = Array.from({ length: total }, signedRequest);
  await Promise.all(Array.from({ length: 100 }, signedRequest).map((p) => send(url, agent, p)));
  const latencies = [];
  const pending = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(url, agent, prepared[i]).then((ms) => latencies.push(ms)));
  }
  await Promise.all(pending);
  agent.destroy();
  return percentile(latencies, 99);
}

/** Turns the real scheduler runs for 1,000 events with a 2 s turn (compressed 100×). */
async function turnsFor1000(coalesce) {
  const { EventStore, EventWriter } = await import(join(hostDir, 'dist', 'service', 'event-store.js'));
  const { EventScheduler } = await import(join(hostDir, 'dist', 'service', 'scheduler.js'));
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-turns-'));
  const store = new EventStore(dir);
  const turnMs = 20;
  const scheduler = new EventScheduler({
    store,
    concurrency: 2,
    maxEventsPerTurn: coalesce ? 1000 : 1,
    retryAfterMs: 1000,
    runTurn: () => new Promise((resolve) => setTimeout(() => resolve({ text: '', silent: true }), turnMs)),
  });
  const writer = new EventWriter(store, () => scheduler.wake());
  const writes = [];
  const start = performance.now();
  for (let i = 0; i < 1000; i++) {
    const due = start + i; // 1 ms apart: 10 events/s against a 2 s turn, compressed 100×
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    writes.push(
      writer.write({
        id: `e-${i}`,
        source: 'job',
        type: 'job.epoch',
        runKey: `run-${i % 20}`,
        failure: false,
        occurredAt: new Date().toISOString(),
        payload: '{}',
        route: 'web:events',
      }),
    );
  }
  await Promise.all(writes);
  const deadline = performance.now() + 60_000;
  while (store.pendingEvents().length > 0 && performance.now() < deadline) await scheduler.idle();
  await scheduler.stop();
  const { turns, events } = scheduler.stats;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  if (events !== 1000) throw new Error(`only ${events} of 1000 events were handed over`);
  return turns;
}

/** Median milliseconds per SQLite commit with and without fsync: the disk the intake waits on. */
async function commitCost(dir) {
  const { DatabaseSync } = await import('node:sqlite');
  const result = {};
  for (const mode of ['FULL', 'NORMAL']) {
    const db = new DatabaseSync(join(dir, `commit-${mode}.db`));
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${mode}; CREATE TABLE t (x TEXT)`);
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const times = [];
    for (let i = 0; i < 100; i++) {
      const start = performance.now();
      db.exec('BEGIN');
      insert.run('x'.repeat(300));
      db.exec('COMMIT');
      times.push(performance.now() - start);
    }
    db.close();
    result[mode] = percentile(times, 50);
  }
  return result;
}

export async function run() {
  if (!existsSync(join(hostDir, 'dist', 'bundle', 'main.js'))) return [];
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-events-'));
  const intake = await startIntake(dir);
  const bare = await startBare();
  const rows = [];
  const commit = await commitCost(dir);
  rows.push({
    bench: 'Event intake',
    case: 'context: one SQLite commit with fsync (median)',
    value: commit.FULL,
    unit: 'ms',
    baseline: commit.NORMAL,
    baselineName: 'without fsync',
    ratio: commit.FULL / commit.NORMAL,
    target: 'none (the disk)',
  });
  try {
    const bareRate = await throughput(bare.url, throughputCount);
    const intakeRate = await throughput(intake.url, throughputCount);
    rows.push({
      bench: 'Event intake',
      case: `signed events accepted+stored/s (${concurrency} in flight)`,
      value: intakeRate,
      unit: 'events/s',
      baseline: bareRate,
      baselineName: 'bare node 204',
      ratio: intakeRate / bareRate,
      target: '≥ 0.6×',
    });
    const bareP99 = await latencyAt(bare.url, 500, 5);
    const intakeP99 = await latencyAt(intake.url, 500, 5);
    rows.push({
      bench: 'Event intake',
      case: 'p99 accept latency at 500 events/s',
      value: intakeP99,
      unit: 'ms',
      baseline: bareP99,
      baselineName: 'bare node 204',
      ratio: intakeP99 / bareP99,
      target: '< 10 ms',
    });
  } finally {
    intake.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
  const perEvent = await turnsFor1000(false);
  const coalesced = await turnsFor1000(true);
  rows.push({
    bench: 'Event turns',
    case: 'model turns per 1,000 events (2 s turn, 10 events/s)',
    value: coalesced,
    unit: 'turns',
    baseline: perEvent,
    baselineName: 'one turn per event',
    ratio: coalesced / perEvent,
    target: 'coalesced ≪ per event',
  });
  return rows;
}
