import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '@nightshift/mcp-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmBackend } from './slurm.ts';
import type { Job, JobSpec } from './types.ts';

// Real slurmctld + slurmd + munged on 127.0.0.1 (scripts/services/slurm.sh); the jobs really run.
const slurmConf = process.env.NIGHTSHIFT_TEST_SLURM_CONF ?? process.env.SLURM_CONF;
const enabled = Boolean(process.env.NIGHTSHIFT_TEST_SLURM && slurmConf);

function spec(overrides: Partial<JobSpec> & { command: string[] }): JobSpec {
  return {
    name: 'test/slurm-job',
    env: {},
    params: {},
    resources: { gpus: 0, cpus: 1, memoryMiB: 200 },
    priority: 0,
    labels: {},
    ...overrides,
  };
}

async function waitFor(
  backend: SlurmBackend,
  id: string,
  done: (job: Job) => boolean,
  ms = 60_000,
): Promise<Job> {
  const deadline = Date.now() + ms;
  for (;;) {
    const job = await backend.get(id);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const ended = (job: Job) => ['succeeded', 'failed', 'stopped'].includes(job.status);

describe.skipIf(!enabled)('Slurm backend against real daemons', { timeout: 90_000 }, () => {
  let backend: SlurmBackend;
  let stateDir: string;
  const secret = 'server-secret-value-that-must-not-leak';

  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'aiqu-slurm-'));
    backend = new SlurmBackend({
      stateDir,
      slurmConf,
      jobEnv: { NIGHTSHIFT_EVENTS_URL: 'http://127.0.0.1:9/events' },
      inheritEnv: ['AIQU_TEST_PASSED_THROUGH'],
      serverEnv: { AIQU_TEST_PASSED_THROUGH: 'yes', AIQU_TEST_SECRET: secret },
    });
    process.env.AIQU_TEST_SECRET = secret;
  });
  afterAll(async () => {
    delete process.env.AIQU_TEST_SECRET;
    // Leave the shared test cluster idle even when a test failed midway.
    const left = await backend.list({ filter: { status: ['queued', 'running'] }, limit: 100 });
    for (const job of left.jobs) await backend.stop(job.id);
    await backend?.close();
  });

  it('runs a job with a GPU from gres, its params, env and id, and reads its logs', async () => {
    const submitted = await backend.submit(
      spec({
        name: 'customer-a/weld defect v4',
        command: [
          'bash',
          '-c',
          'echo "lr={{lr}} env=$NIGHTSHIFT_PARAM_LR"; echo "gpu=$CUDA_VISIBLE_DEVICES id=$NIGHTSHIFT_JOB_ID"; echo "events=$NIGHTSHIFT_EVENTS_URL inherit=$AIQU_TEST_PASSED_THROUGH secret=[$AIQU_TEST_SECRET]"',
        ],
        params: { lr: '0.01' },
        resources: { gpus: 1, cpus: 1, memoryMiB: 200 },
        labels: { team: 'vision' },
      }),
    );
    expect(submitted.id).toMatch(/^slurm-\d{6}$/);
    expect(submitted.nativeId).toMatch(/^\d+$/);
    expect(submitted.cluster).toBe('nightshift');
    expect(backend.owns(submitted.id)).toBe(true);
    expect(backend.owns('local-000001')).toBe(false);
    const job = await waitFor(backend, submitted.id, ended);
    expect(job).toMatchObject({ status: 'succeeded', reason: 'completed', exitCode: 0, attempt: 1 });
    expect(job.startedAt && job.endedAt && job.startedAt <= job.endedAt).toBe(true);
    const logs = await backend.logs(job.id, { tailLines: 10 });
    expect(logs.lines).toEqual([
      'lr=0.01 env=0.01',
      `gpu=0 id=${job.id}`,
      'events=http://127.0.0.1:9/events inherit=yes secret=[]',
    ]);
    expect(logs.firstLineNumber).toBe(1);
    const tail = await backend.logs(job.id, { tailLines: 1 });
    expect(tail).toMatchObject({ firstLineNumber: 3, totalLines: 3 });
    const listed = await backend.list({ filter: { labels: { team: 'vision' } }, limit: 10 });
    expect(listed.jobs.map((j) => j.id)).toEqual([job.id]);
  });

  it('reports a non-zero exit with its code, and a memory kill as oom_killed', async () => {
    const failing = await backend.submit(spec({ command: ['bash', '-c', 'echo boom >&2; exit 3'] }));
    const hog = await backend.submit(
      spec({
        command: ['python3', '-c', 'import time; x = bytearray(700 * 1024 * 1024); time.sleep(5)'],
        resources: { gpus: 0, cpus: 1, memoryMiB: 100 },
      }),
    );
    const failed = await waitFor(backend, failing.id, ended);
    expect(failed).toMatchObject({ status: 'failed', reason: 'nonzero_exit', exitCode: 3 });
    expect(failed.reasonDetail).toContain('FAILED: exit 3');
    const oom = await waitFor(backend, hog.id, ended);
    expect(oom).toMatchObject({ status: 'failed', reason: 'oom_killed' });
    expect(oom.reasonDetail).toMatch(/memory limit/i);
  });

  it('queues what does not fit now, stops queued and running jobs, and requeues with the same spec', async () => {
    const holder = await backend.submit(
      spec({
        name: 'test/holder',
        command: ['sleep', '120'],
        resources: { gpus: 2, cpus: 1, memoryMiB: 100 },
      }),
    );
    await waitFor(backend, holder.id, (j) => j.status === 'running');
    const waiting = await backend.submit(
      spec({
        name: 'test/waiting',
        command: ['sleep', '1'],
        resources: { gpus: 1, cpus: 1, memoryMiB: 100 },
      }),
    );
    expect((await backend.get(waiting.id)).status).toBe('queued');
    // The scheduler names why it waits on its next pass.
    const queuedJob = await waitFor(backend, waiting.id, (j) => j.reasonDetail !== undefined, 15_000);
    expect(queuedJob.status).toBe('queued');
    expect(queuedJob.reasonDetail).toMatch(/^PENDING \((Resources|Priority)\)$/);

    const [queue] = await backend.queueStatus();
    expect(queue).toMatchObject({
      reachable: true,
      cluster: 'nightshift',
      capacity: { gpus: 2 },
      inUse: { gpus: 2 },
    });
    expect(queue?.running).toBeGreaterThanOrEqual(1);
    expect(queue?.queued).toBeGreaterThanOrEqual(1);
    expect(queue?.gpus.map((g) => g.jobId)).toEqual([holder.id, holder.id]);

    const stoppedQueued = await backend.stop(waiting.id);
    expect(stoppedQueued).toMatchObject({ status: 'stopped', reason: 'cancelled' });
    const stopped = await backend.stop(holder.id);
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'cancelled' });
    expect(stopped.reasonDetail).not.toContain('outside');
    // Stopping an ended job is a no-op.
    expect((await backend.stop(holder.id)).status).toBe('stopped');

    const again = await backend.requeue(holder.id, { resources: { gpus: 1 }, params: { note: 'retry' } });
    expect(again).toMatchObject({
      attempt: 2,
      previousAttemptId: holder.id,
      command: ['sleep', '120'],
      name: 'test/holder',
      resources: { gpus: 1, cpus: 1, memoryMiB: 100 },
      params: { note: 'retry' },
    });
    expect(again.id).not.toBe(holder.id);
    expect(await backend.stop(again.id)).toMatchObject({ status: 'stopped' });
  });

  it('refuses resources no node can ever fit, and unknown jobs list what exists', async () => {
    const tooBig = backend.submit(spec({ command: ['true'], resources: { gpus: 3, cpus: 1 } }));
    await expect(tooBig).rejects.toMatchObject({ code: 'refused' });
    await expect(tooBig).rejects.toThrow(/3 GPUs.*vm: 2 GPUs/);
    const missing = backend.get('slurm-999999');
    await expect(missing).rejects.toMatchObject({ code: 'not_found' });
    await expect(missing).rejects.toThrow(/known: slurm-000001/);
    await expect(backend.submit(spec({ command: [] }))).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('keeps tracking after a restart of the server (a new backend on the same state dir)', async () => {
    const running = await backend.submit(spec({ command: ['bash', '-c', 'sleep 2; exit 0'] }));
    const reopened = new SlurmBackend({ stateDir, slurmConf });
    const job = await waitFor(reopened, running.id, ended);
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0 });
    const ids = (await reopened.list({ filter: {}, limit: 100 })).jobs.map((j) => j.id);
    expect(ids).toContain(running.id);
    // Newest first.
    expect(ids[0]).toBe(running.id);
  });

  it('fails fast with a clear error when the controller does not answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aiqu-slurm-down-'));
    const conf = join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      readFileSync(slurmConf as string, 'utf8').replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=1'),
    );
    const down = new SlurmBackend({ stateDir: dir, slurmConf: conf, timeoutMs: 4000 });
    const started = Date.now();
    const error = await down.submit(spec({ command: ['true'] })).catch((e: unknown) => e);
    expect(ToolError.isInstance(error)).toBe(true);
    expect((error as ToolError).code).toMatch(/unavailable|timeout/);
    expect(Date.now() - started).toBeLessThan(15_000);
    const [queue] = await down.queueStatus();
    expect(queue).toMatchObject({ reachable: false });
    expect(queue?.error).toBeTruthy();
  });
});
