import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBackend, type LocalBackend } from './local.ts';
import { isTerminal, type Job, type JobSpec, jobSpecSchema } from './types.ts';

const fixtures = join(import.meta.dirname, '..', '__fixtures__', 'jobs');
const python = process.env.NIGHTSHIFT_PYTHON ?? 'python3';

const open: LocalBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) {
    for await (const job of running(backend)) await backend.stop(job.id).catch(() => undefined);
    await backend.close();
  }
});

async function* running(backend: LocalBackend): AsyncGenerator<Job> {
  const { jobs } = await backend.list({ filter: { status: ['running', 'queued'] }, limit: 100 });
  yield* jobs;
}

async function newBackend(
  stateDir = mkdtempSync(join(tmpdir(), 'aiqu-local-')),
  extra: Partial<Parameters<typeof createLocalBackend>[0]> = {},
) {
  const backend = await createLocalBackend({
    stateDir,
    config: { enabled: true, gpus: 2, cpus: 4, stopGraceSeconds: 1, inheritEnv: [] },
    serverEnv: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NIGHTSHIFT_MCP_HTTP_TOKEN: 'server-only-token',
    },
    eventsUrl: 'http://127.0.0.1:9/events',
    eventsSecret: 'events-secret-value-0123456789',
    pollIntervalMs: 100,
    ...extra,
  });
  open.push(backend);
  return { backend, stateDir };
}

function spec(name: string, command: string[], extra: Partial<JobSpec> = {}): JobSpec {
  return jobSpecSchema.parse({ name, command, resources: { gpus: 0, cpus: 1 }, ...extra });
}

async function waitEnded(backend: LocalBackend, id: string, timeoutMs = 15_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await backend.get(id);
    if (isTerminal(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitLog(backend: LocalBackend, id: string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs = await backend.logs(id, { tailLines: 100 });
    if (logs.lines.some((l) => l.includes(text))) return;
    if (Date.now() > deadline) throw new Error(`log of ${id} never showed "${text}"`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('local backend with real processes', () => {
  it('runs a job that logs and succeeds, with its identity, params and event settings in the environment', async () => {
    const { backend } = await newBackend();
    const submitted = await backend.submit(
      spec(
        'customer-a/weld-defect-v4',
        [python, join(fixtures, 'train_ok.py'), '--epochs', '{{epochs}}', '--config', '{{config_path}}'],
        {
          params: { epochs: '7' },
          configRef: { repo: 'factory-configs', path: 'customer-a/weld-defect-v4/train_cfg.yaml' },
        },
      ),
    );
    expect(submitted.id).toMatch(/^local-\d{6}$/);
    expect(submitted.status).toBe('running');
    const job = await waitEnded(backend, submitted.id);
    expect(job).toMatchObject({ status: 'succeeded', reason: 'completed', exitCode: 0, attempt: 1 });
    expect(job.mlflowRunId).toBe('0123456789abcdef0123456789abcdef');
    expect(job.startedAt && job.endedAt && job.endedAt >= job.startedAt).toBe(true);
    const logs = await backend.logs(job.id, { tailLines: 100 });
    const text = logs.lines.join('\n');
    expect(text).toContain(`job ${job.id} name customer-a/weld-defect-v4 attempt 1`);
    expect(text).toContain('args --epochs 7 --config customer-a/weld-defect-v4/train_cfg.yaml');
    expect(text).toContain('epochs param 7');
    expect(text).toContain('config factory-configs:customer-a/weld-defect-v4/train_cfg.yaml');
    expect(text).toContain('events url http://127.0.0.1:9/events');
    expect(text).toContain('events secret set yes');
    // The server's own credentials are not handed to jobs.
    expect(text).toContain('server token leaked no');
    expect(logs.firstLineNumber).toBe(1);
    expect(logs.totalLines).toBe(logs.lines.length);
  });

  it('reports a Python traceback as a non-zero exit with the exception as the detail', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(spec('tb', [python, join(fixtures, 'train_traceback.py')]));
    const job = await waitEnded(backend, id);
    expect(job).toMatchObject({ status: 'failed', reason: 'nonzero_exit', exitCode: 1 });
    expect(job.reasonDetail).toContain('ValueError: head expects 3 classes, dataset has 5');
  });

  it('tells a CUDA out-of-memory failure from the log tail', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(spec('oom', [python, join(fixtures, 'train_cuda_oom.py')]));
    const job = await waitEnded(backend, id);
    expect(job).toMatchObject({ status: 'failed', reason: 'cuda_oom', exitCode: 1 });
    expect(job.reasonDetail).toContain('CUDA out of memory');
  });

  it('reports an unrequested SIGKILL (exit 137) as an OOM kill', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(spec('killed', ['/bin/sh', join(fixtures, 'killed.sh')]));
    const job = await waitEnded(backend, id);
    expect(job).toMatchObject({ status: 'failed', reason: 'oom_killed', exitCode: 137 });
  });

  it('reports a missing program as a start failure', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(spec('missing', ['/nonexistent/train']));
    const job = await waitEnded(backend, id);
    expect(job).toMatchObject({ status: 'failed', reason: 'start_failure', exitCode: 127 });
  });

  it('fails a job whose working directory is missing, and starts the next one', async () => {
    const { backend } = await newBackend();
    const bad = await backend.submit(spec('nowhere', ['true'], { workingDir: '/nonexistent/dir' }));
    expect(bad).toMatchObject({ status: 'failed', reason: 'start_failure' });
    expect(bad.reasonDetail).toContain('/nonexistent/dir does not exist');
    const next = await backend.submit(spec('fine', ['true']));
    expect((await waitEnded(backend, next.id)).status).toBe('succeeded');
  });

  it('stops a hanging job with SIGTERM', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(spec('hang', [python, '-u', join(fixtures, 'train_hang.py')]));
    await waitLog(backend, id, 'started, waiting');
    const stopped = await backend.stop(id);
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'cancelled', exitCode: 143 });
    // Stopping again changes nothing.
    expect(await backend.stop(id)).toEqual(stopped);
  });

  it('kills a job that ignores SIGTERM after the grace period', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(
      spec('stubborn', [python, '-u', join(fixtures, 'train_hang.py'), '--ignore-term']),
    );
    await waitLog(backend, id, 'started, waiting');
    await backend.stop(id);
    const job = await waitEnded(backend, id);
    expect(job.status).toBe('stopped');
    expect(job.reason).toBe('cancelled');
    // SIGKILL took the whole group, wrapper included: no exit file, so no exit code is claimed.
    expect([undefined, 137]).toContain(job.exitCode);
  });

  it('stops a job that runs past its time limit', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(
      spec('slow', [python, '-u', join(fixtures, 'train_hang.py')], { timeoutSeconds: 1 }),
    );
    const job = await waitEnded(backend, id);
    expect(job).toMatchObject({ status: 'stopped', reason: 'timeout' });
  });

  it('queues by priority, then submission order, and starts jobs as GPUs free up', async () => {
    const { backend } = await newBackend();
    const hang = (name: string, gpus: number, priority = 0) =>
      backend.submit(
        spec(name, [python, '-u', join(fixtures, 'train_hang.py')], {
          resources: { gpus, cpus: 1 },
          priority,
        }),
      );
    const first = await hang('first', 2);
    const low = await hang('low', 1, 0);
    const high = await hang('high', 1, 5);
    expect(first.status).toBe('running');
    expect((await backend.get(low.id)).status).toBe('queued');
    expect((await backend.get(high.id)).status).toBe('queued');
    const [queue] = await backend.queueStatus();
    expect(queue).toMatchObject({
      running: 1,
      queued: 2,
      capacity: { gpus: 2, cpus: 4 },
      inUse: { gpus: 2, cpus: 1 },
    });
    expect(queue?.gpus.map((g) => g.jobId)).toEqual([first.id, first.id]);

    await backend.stop(first.id);
    expect((await backend.get(high.id)).status).toBe('running');
    expect((await backend.get(low.id)).status).toBe('running');
    const logs = readFileSync((backend.store.get(high.id) as { logPath: string }).logPath, 'utf8');
    expect(logs).toBeDefined();
    // Stopping a queued job needs no process.
    const waiting = await hang('waiting', 2);
    expect((await backend.stop(waiting.id)).status).toBe('stopped');
  });

  it('refuses resources the machine can never provide', async () => {
    const { backend } = await newBackend();
    await expect(backend.submit(spec('big', ['true'], { resources: { gpus: 8, cpus: 1 } }))).rejects.toThrow(
      /8 GPU\(s\) requested but this machine has 2/,
    );
    await expect(
      backend.submit(spec('wide', ['true'], { resources: { gpus: 0, cpus: 64 } })),
    ).rejects.toThrow(/64 CPU/);
  });

  it('refuses an image-only job and names the backend that can run it', async () => {
    const { backend } = await newBackend();
    await expect(
      backend.submit(
        jobSpecSchema.parse({ name: 'img', image: 'trainer:1', resources: { gpus: 0, cpus: 1 } }),
      ),
    ).rejects.toThrow(/only an image .*kubernetes/);
  });

  it('keeps tracking a running job across a server restart and records its exit status', async () => {
    const first = await newBackend();
    const { id } = await first.backend.submit(
      spec('survivor', [python, '-u', join(fixtures, 'train_sleep.py'), '2']),
    );
    await waitLog(first.backend, id, 'sleeping');
    const pid = first.backend.store.get(id)?.pid;
    await first.backend.close();
    open.splice(open.indexOf(first.backend), 1);

    const second = await newBackend(first.stateDir);
    const adopted = await second.backend.get(id);
    expect(adopted.status).toBe('running');
    expect(second.backend.store.get(id)?.pid).toBe(pid);
    const job = await waitEnded(second.backend, id);
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await second.backend.logs(id, { tailLines: 5 })).lines).toContain('woke up');
  });

  it('a restarted server can stop a job it adopted', async () => {
    const first = await newBackend();
    const { id } = await first.backend.submit(
      spec('adopted-hang', [python, '-u', join(fixtures, 'train_hang.py')]),
    );
    await waitLog(first.backend, id, 'started, waiting');
    await first.backend.close();
    open.splice(open.indexOf(first.backend), 1);
    const second = await newBackend(first.stateDir);
    await second.backend.stop(id);
    const job = await waitEnded(second.backend, id);
    expect(job).toMatchObject({ status: 'stopped', reason: 'cancelled' });
  });

  it('marks a job whose process vanished while no server watched as lost, and never confuses a reused pid', async () => {
    const { backend, stateDir } = await newBackend();
    const { id } = await backend.submit(spec('ghost', [python, '-u', join(fixtures, 'train_hang.py')]));
    await waitLog(backend, id, 'started, waiting');
    const record = backend.store.get(id);
    if (!record) throw new Error('no record');
    // Pretend the recorded process started at another time: the pid now belongs to someone else.
    backend.store.save({ ...record, pidStartTime: (record.pidStartTime ?? 0) + 1 });
    await backend.close();
    open.splice(open.indexOf(backend), 1);
    const second = await newBackend(stateDir);
    const job = await second.backend.get(id);
    expect(job).toMatchObject({ status: 'failed', reason: 'lost' });
    process.kill(-(record.pid as number), 'SIGKILL');
  });

  it('refuses a second server on the same state directory, and takes over a lock left by a dead one', async () => {
    const { backend, stateDir } = await newBackend();
    await expect(newBackend(stateDir, { lockWaitMs: 200 })).rejects.toThrow(
      /is in use by another aiqu server \(pid \d+\); run one server per state directory/,
    );
    await backend.close();
    open.splice(open.indexOf(backend), 1);
    // A crashed server's lock names a process that no longer exists.
    writeFileSync(
      join(stateDir, 'local', 'server.lock'),
      JSON.stringify({ pid: 2 ** 22 + 17, startTime: 1 }),
    );
    const next = await newBackend(stateDir, { lockWaitMs: 200 });
    expect((await next.backend.queueStatus())[0]?.reachable).toBe(true);
  });

  it('requeues a job as a new attempt with overrides', async () => {
    const { backend } = await newBackend();
    const { id } = await backend.submit(
      spec('again', [python, join(fixtures, 'train_ok.py'), '{{epochs}}'], { params: { epochs: '1' } }),
    );
    await waitEnded(backend, id);
    const next = await backend.requeue(id, { params: { epochs: '9' }, resources: { cpus: 2 } });
    expect(next).toMatchObject({
      attempt: 2,
      previousAttemptId: id,
      params: { epochs: '9' },
      resources: { gpus: 0, cpus: 2 },
    });
    const done = await waitEnded(backend, next.id);
    expect((await backend.logs(done.id, { tailLines: 50 })).lines).toContain('args 9');
  });

  it('lists newest first with filters, a keyset position and totals', async () => {
    const { backend } = await newBackend();
    const a = await backend.submit(spec('customer-a/one', ['true'], { labels: { team: 'a' } }));
    const b = await backend.submit(spec('customer-b/two', ['true'], { labels: { team: 'b' } }));
    const c = await backend.submit(spec('customer-a/three', ['true'], { labels: { team: 'a' } }));
    const all = await backend.list({ filter: {}, limit: 2 });
    expect(all.jobs.map((j) => j.id)).toEqual([c.id, b.id]);
    expect(all.total).toBe(3);
    const rest = await backend.list({ filter: {}, limit: 2, after: all.jobs[1] as Job });
    expect(rest.jobs.map((j) => j.id)).toEqual([a.id]);
    expect(
      (await backend.list({ filter: { name: 'customer-a/*' }, limit: 10 })).jobs.map((j) => j.id),
    ).toEqual([c.id, a.id]);
    expect(
      (await backend.list({ filter: { labels: { team: 'b' } }, limit: 10 })).jobs.map((j) => j.id),
    ).toEqual([b.id]);
    await expect(backend.get('local-999999')).rejects.toThrow(/job local-999999 not found; known: /);
  });
});
