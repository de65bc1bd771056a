import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCudaOom, Reporter, sign } from '../src/index.ts';

// The real intake: the built `nightshift serve` (no model: it stores and shows events).
const bin = fileURLToPath(new URL('../../agent-host/bin/nightshift.js', import.meta.url));
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const dir = mkdtempSync(join(tmpdir(), 'ns-reporter-'));
let child: ChildProcess;
let url: string;

interface Row {
  id: string;
  type: string;
  run_key: string;
  payload: string;
}

function stored(jobId: string): Row[] {
  const db = new DatabaseSync(join(dir, 'data', 'events.db'), { readOnly: true });
  try {
    return (
      db.prepare('SELECT id, type, run_key, payload FROM events ORDER BY seq').all() as unknown as Row[]
    ).filter((r) => r.run_key === jobId || r.run_key.endsWith(`#${jobId}`));
  } finally {
    db.close();
  }
}

async function waitStored(jobId: string, count: number): Promise<Row[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = stored(jobId);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const newJob = () => `j-${randomBytes(4).toString('hex')}`;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  writeFileSync(
    join(dir, 'nightshift.config.yaml'),
    `dataDir: ./data\npeople:\n  - { name: Anna, role: approver, web: anna }\nservice:\n  events: { secrets: ['${secret}'] }\n`,
  );
  child = spawn(
    process.execPath,
    [bin, 'serve', '--config', join(dir, 'nightshift.config.yaml'), '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NIGHTSHIFT_CONFIG: '' },
    },
  );
  url = await new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`nightshift serve did not start:\n${stderr}`)), 20_000);
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
  });
});

afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('TypeScript reporter', () => {
  it('signs exactly like the Standard Webhooks reference library', () => {
    const body = '{"type":"job.epoch"}';
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    expect(sign(secret, 'msg_1', now.getTime() / 1000, body)).toBe(
      new Webhook(secret).sign('msg_1', now, body),
    );
  });

  it('sends the whole event set, which the intake stores under the run', async () => {
    const jobId = newJob();
    const reporter = new Reporter({
      url,
      secret,
      jobId,
      jobName: 'customer-a/ocr',
      spoolDir: join(dir, 'spool'),
    });
    reporter.started({ epochs: 3 });
    reporter.epoch(1, 3, { loss: 0.5, big: 10n });
    reporter.milestone('new best', { acc: 0.9 });
    reporter.log('slow data loader', 'warning');
    expect(await reporter.finished({ acc: 0.91 })).toBe(true);
    const rows = await waitStored(jobId, 5);
    expect(rows.map((r) => r.type)).toEqual([
      'job.started',
      'job.epoch',
      'job.milestone',
      'job.log',
      'job.finished',
    ]);
    expect(new Set(rows.map((r) => r.run_key))).toEqual(new Set([`customer-a/ocr#${jobId}`]));
    expect(JSON.parse(rows[1]?.payload ?? '{}').data).toEqual({
      epoch: 1,
      epochs: 3,
      metrics: { loss: 0.5, big: '10' },
    });
  });

  it('reads the job runner environment', async () => {
    const jobId = newJob();
    const reporter = new Reporter({
      env: {
        NIGHTSHIFT_EVENTS_URL: url,
        NIGHTSHIFT_EVENTS_SECRET: secret,
        NIGHTSHIFT_JOB_ID: jobId,
        NIGHTSHIFT_JOB_NAME: 'customer-b/seg',
        NIGHTSHIFT_SPOOL_DIR: join(dir, 'spool'),
      },
    });
    expect(reporter.enabled).toBe(true);
    await reporter.finished();
    expect((await waitStored(jobId, 1)).map((r) => r.run_key)).toEqual([`customer-b/seg#${jobId}`]);
    expect(new Reporter({ env: {} }).enabled).toBe(false);
  });

  it('run() reports a CUDA out-of-memory failure with its stack tail and rethrows', async () => {
    const jobId = newJob();
    const reporter = new Reporter({ url, secret, jobId, spoolDir: join(dir, 'spool') });
    class OutOfMemoryError extends Error {
      override name = 'OutOfMemoryError';
    }
    function trainStep(): never {
      throw new OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB');
    }
    await expect(reporter.run(() => trainStep())).rejects.toThrow('CUDA out of memory');
    const rows = await waitStored(jobId, 2);
    expect(rows.map((r) => r.type)).toEqual(['job.started', 'job.failed']);
    const data = JSON.parse(rows[1]?.payload ?? '{}').data;
    expect(data).toMatchObject({ cuda_oom: true, error_type: 'OutOfMemoryError' });
    expect(data.traceback).toContain('trainStep');
    expect(isCudaOom(new Error('label out of range'))).toBe(false);
  });

  it('reports an uncaught exception from a Node job and still exits 1', async () => {
    const jobId = newJob();
    const script = `
      import { Reporter } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
      const reporter = new Reporter();
      reporter.installProcessHandlers();
      reporter.started();
      setTimeout(() => { throw new RangeError('label 9 outside 5 classes'); }, 10);
    `;
    const code = await new Promise<number | null>((resolve) => {
      const job = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          ...process.env,
          NIGHTSHIFT_EVENTS_URL: url,
          NIGHTSHIFT_EVENTS_SECRET: secret,
          NIGHTSHIFT_JOB_ID: jobId,
          NIGHTSHIFT_SPOOL_DIR: join(dir, 'spool'),
        },
        stdio: 'ignore',
      });
      job.on('exit', resolve);
    });
    expect(code).toBe(1);
    const rows = await waitStored(jobId, 2);
    expect(rows.map((r) => r.type)).toEqual(['job.started', 'job.failed']);
    expect(JSON.parse(rows[1]?.payload ?? '{}').data.error).toBe('RangeError: label 9 outside 5 classes');
  });

  it('never blocks the job when the agent is unreachable, spools, and delivers later in order', async () => {
    const jobId = newJob();
    const offline = new Reporter({
      url: `http://127.0.0.1:${await closedPort()}`,
      secret,
      jobId,
      spoolDir: join(dir, 'spool'),
      maxAttempts: 2,
      backoffMs: 20,
    });
    const start = performance.now();
    for (let n = 1; n <= 30; n++) offline.epoch(n, 30, { loss: 1 / n });
    expect(performance.now() - start).toBeLessThan(500);
    expect(await offline.flush(15_000)).toBe(true);
    expect(offline.pending()).toHaveLength(30);
    expect(stored(jobId)).toEqual([]);

    const online = new Reporter({ url, secret, jobId, spoolDir: join(dir, 'spool') });
    await online.finished();
    const rows = await waitStored(jobId, 31);
    expect(rows.slice(0, 30).map((r) => JSON.parse(r.payload).data.epoch)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    expect(rows.at(-1)?.type).toBe('job.finished');
    expect(online.pending()).toEqual([]);
  });
});
