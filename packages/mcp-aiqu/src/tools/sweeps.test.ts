import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createMcpServer } from '@nightshift/mcp-kit';
import { connectInMemory, toolContract, toolListProblems } from '@nightshift/mcp-kit/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAiquFile } from '../config.ts';
import { JobService } from '../jobs.ts';
import { aiquProgram } from '../server.ts';
import { ScriptedBackend, ScriptedMetrics } from '../sweeps/__fixtures__/scripted-backend.ts';
import type { SweepController } from '../sweeps/controller.ts';
import { createSweepController } from '../sweeps/setup.ts';
import { type SweepDeps, sweepTools } from './sweeps.ts';

type CallResult = {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
};

const file = await parseAiquFile(`
templates:
  train:
    command: [python, train.py, --lr, "{{lr}}"]
    params: { epochs: "10" }
    resources: { gpus: 1, cpus: 1 }
`);

const spec = {
  name: 'weld lr sweep',
  template: 'train',
  space: {
    lr: { type: 'loguniform', low: 1e-4, high: 1e-1 },
    opt: { type: 'choice', values: ['adam', 'sgd'] },
  },
  sampler: { type: 'tpe' },
  objective: { metric: 'val_loss', direction: 'minimize' },
  budget: { maxTrials: 6, maxParallel: 3 },
  pruner: { type: 'median', startupTrials: 2 },
  seed: 5,
};

let backend: ScriptedBackend;
let metrics: ScriptedMetrics;
let controller: SweepController;
let client: Client;
let close: () => Promise<void>;

async function connect(deps: SweepDeps) {
  const connected = await connectInMemory(createMcpServer({ ...aiquProgram, tools: sweepTools }, deps));
  client = connected.client;
  close = connected.close;
}

async function call(name: string, args: Record<string, unknown>): Promise<CallResult> {
  return (await client.callTool({ name, arguments: args })) as CallResult;
}
const sweepId = (r: CallResult) => (r.structuredContent as { sweep: { id: string } }).sweep.id;
const text = (r: CallResult) => r.content.map((c) => c.text ?? '').join('\n');

beforeEach(async () => {
  backend = new ScriptedBackend(() => new Date());
  metrics = new ScriptedMetrics();
  const jobs = new JobService([backend], file);
  controller = await createSweepController({
    stateDir: mkdtempSync(join(tmpdir(), 'sweep-tools-')),
    jobs,
    file,
    env: {},
    timeoutMs: 5000,
    metrics,
    loop: false,
  });
  await connect({ jobs, timeoutMs: 5000, sweeps: controller });
});
afterEach(async () => {
  await close();
  await controller.close();
});

describe('sweep tools', () => {
  it('keeps the model-facing contract stable and complete', async () => {
    expect(toolListProblems(sweepTools)).toEqual([]);
    await expect(JSON.stringify(toolContract(sweepTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/sweeps.contract.json',
    );
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name)).toEqual([
      'aiqu_start_sweep',
      'aiqu_sweep_status',
      'aiqu_stop_sweep',
      'aiqu_resume_sweep',
    ]);
    const start = listed.tools.find((t) => t.name === 'aiqu_start_sweep');
    expect(start?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    const stop = listed.tools.find((t) => t.name === 'aiqu_stop_sweep');
    expect(stop?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
  });

  it('aiqu_start_sweep submits the first trials from the template with the searched params', async () => {
    const result = await call('aiqu_start_sweep', spec);
    expect(result.isError).toBeFalsy();
    const sweep = result.structuredContent?.sweep as {
      id: string;
      status: string;
      counts: { running: number };
    };
    expect(sweep.status).toBe('running');
    expect(sweep.counts.running).toBe(3);
    expect(text(result)).toMatch(/^Started sw-\S+ "weld lr sweep": running; 3\/6 trials/);
    const jobs = backend.running();
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      expect(job.command).toEqual(['python', 'train.py', '--lr', '{{lr}}']);
      expect(job.params.epochs).toBe('10');
      expect(Number(job.params.lr)).toBeGreaterThanOrEqual(1e-4);
      expect(['adam', 'sgd']).toContain(job.params.opt);
      expect(job.labels['nightshift.dev/sweep']).toBe(sweep.id);
      expect(job.resources.gpus).toBe(1);
    }
  });

  it('aiqu_start_sweep answers bad input with what to do instead', async () => {
    const unknown = await call('aiqu_start_sweep', { ...spec, template: 'nope' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/template nope not found; known: train/);
    const inverted = await call('aiqu_start_sweep', {
      ...spec,
      space: { lr: { type: 'uniform', low: 1, high: 0 } },
    });
    expect(inverted.isError).toBe(true);
    expect(text(inverted)).toMatch(/lr: low \(1\) must not exceed high \(0\)/);
    expect(backend.jobs.size).toBe(0);
  });

  it('aiqu_sweep_status lists sweeps and shows one with its best trial first, a page at a time', async () => {
    const started = await call('aiqu_start_sweep', spec);
    const id = sweepId(started);
    const losses = [0.5, 0.2, 0.9];
    for (const [i, job] of backend.running().entries()) {
      metrics.report(job.id, 1, losses[i] as number);
      backend.finish(job.id, 'succeeded');
    }
    await controller.tick(id);

    const list = await call('aiqu_sweep_status', {});
    expect(list.isError).toBeFalsy();
    expect((list.structuredContent as { sweeps: Array<{ id: string }> }).sweeps.map((s) => s.id)).toEqual([
      id,
    ]);

    const first = await call('aiqu_sweep_status', { id, limit: 2 });
    const sweep = first.structuredContent?.sweep as {
      best: { value: number };
      counts: Record<string, number>;
    };
    expect(sweep.best.value).toBe(0.2);
    expect(sweep.counts).toMatchObject({ total: 6, completed: 3, running: 3 });
    const trials = first.structuredContent?.trials as Array<{ value?: number; state: string }>;
    expect(trials.map((t) => t.value)).toEqual([0.2, 0.5]);
    expect(first.structuredContent?.total).toBe(6);
    const cursor = first.structuredContent?.nextCursor as string;
    expect(cursor).toBeTruthy();
    expect(text(first)).toContain('best val_loss=0.2');
    const second = await call('aiqu_sweep_status', { id, limit: 2, cursor });
    expect((second.structuredContent as { trials: Array<{ value?: number }> }).trials[0]?.value).toBe(0.9);
  });

  it('aiqu_sweep_status says which sweeps exist when the id is unknown, and refuses foreign cursors', async () => {
    const started = await call('aiqu_start_sweep', spec);
    const id = sweepId(started);
    const missing = await call('aiqu_sweep_status', { id: 'sw-nope' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain(`sweep sw-nope not found; known: ${id}`);
    const badCursor = await call('aiqu_sweep_status', { id, cursor: 'garbage' });
    expect(badCursor.isError).toBe(true);
    expect(text(badCursor)).toMatch(/cursor is not one this server issued/);
  });

  it('aiqu_stop_sweep stops the running trials and is a no-op on an ended sweep', async () => {
    const started = await call('aiqu_start_sweep', spec);
    const id = sweepId(started);
    const stopped = await call('aiqu_stop_sweep', { id, reason: 'enough for tonight' });
    expect(stopped.isError).toBeFalsy();
    expect(stopped.structuredContent).toMatchObject({
      alreadyEnded: false,
      sweep: { status: 'stopped', statusReason: 'enough for tonight', counts: { stopped: 3, running: 0 } },
    });
    expect(backend.running()).toHaveLength(0);
    expect(backend.stopped).toHaveLength(3);
    const again = await call('aiqu_stop_sweep', { id });
    expect(again.structuredContent).toMatchObject({ alreadyEnded: true });
    expect(text(again)).toContain('had already ended');
  });

  it('aiqu_resume_sweep carries on after a stop with a larger budget, and leaves a running sweep alone', async () => {
    const id = sweepId(await call('aiqu_start_sweep', spec));
    const running = await call('aiqu_resume_sweep', { id });
    expect(running.structuredContent).toMatchObject({ alreadyRunning: true });
    expect(text(running)).toContain('already running; nothing changed');
    await call('aiqu_stop_sweep', { id });

    const resumed = await call('aiqu_resume_sweep', { id, maxTrials: 9 });
    expect(resumed.isError, text(resumed)).toBeFalsy();
    expect(resumed.structuredContent).toMatchObject({
      alreadyRunning: false,
      sweep: {
        status: 'running',
        budget: { maxTrials: 9 },
        counts: { total: 6, stopped: 3, running: 3 },
        resumedAt: [expect.any(String)],
      },
    });
    expect(text(resumed)).toMatch(/^Resumed /);
    expect(backend.running()).toHaveLength(3);
    // The three new trials are new jobs with new trial ids; the stopped ones stay stopped.
    expect(backend.running().map((j) => j.labels['nightshift.dev/trial'])).toEqual([
      `${id}-t3`,
      `${id}-t4`,
      `${id}-t5`,
    ]);

    const unknown = await call('aiqu_resume_sweep', { id: 'sw-nope' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/sweep sw-nope not found/);
  });

  it('aiqu_stop_sweep on an unknown sweep, and every tool without sweeps configured, fail with guidance', async () => {
    const missing = await call('aiqu_stop_sweep', { id: 'sw-nope' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/sweep sw-nope not found; none exist yet/);
    await close();
    await connect({ jobs: new JobService([backend], file), timeoutMs: 5000 });
    const off = await call('aiqu_sweep_status', {});
    expect(off.isError).toBe(true);
    expect(text(off)).toContain('set MLFLOW_TRACKING_URI');
  });
});
