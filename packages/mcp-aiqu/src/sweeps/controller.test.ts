import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '@nightshift/mcp-kit';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobSpec } from '../backends/types.ts';
import { ScriptedBackend, ScriptedMetrics } from './__fixtures__/scripted-backend.ts';
import { bestTrial, SweepController, sweepUsage, type TrialJobRequest } from './controller.ts';
import type { SweepSpecInput, SweepState } from './spec.ts';
import { SweepStore } from './store.ts';

let clock: Date;
const now = () => clock;
const advance = (minutes: number) => {
  clock = new Date(clock.getTime() + minutes * 60_000);
};

function buildTrialSpec(request: TrialJobRequest): JobSpec {
  if (request.template !== 'train')
    throw new ToolError('not_found', `template ${request.template} not found; known: train.`);
  return {
    name: request.name,
    template: request.template,
    command: ['python', 'train.py', '--lr', '{{lr}}'],
    env: request.env,
    params: request.params,
    resources: { gpus: request.gpus ?? 1, cpus: 1 },
    priority: 0,
    labels: request.labels,
  };
}

function setup(dir = mkdtempSync(join(tmpdir(), 'sweeps-'))) {
  const backend = new ScriptedBackend(now);
  const metrics = new ScriptedMetrics();
  const controller = new SweepController({
    store: new SweepStore(dir),
    backend: () => backend,
    buildTrialSpec,
    metrics,
    now,
  });
  return { dir, backend, metrics, controller };
}

const baseSpec: SweepSpecInput = {
  name: 'weld lr sweep',
  template: 'train',
  space: { lr: { type: 'loguniform', low: 1e-4, high: 1e-1 }, layers: { type: 'int', low: 1, high: 4 } },
  sampler: { type: 'random' },
  objective: { metric: 'val_loss', direction: 'minimize' },
  budget: { maxTrials: 5, maxParallel: 2 },
  seed: 11,
};

beforeEach(() => {
  clock = new Date('2026-11-23T00:00:00Z');
});

describe('sweep controller', () => {
  it('runs trials as labelled jobs, at most maxParallel at once, until maxTrials, and keeps the best', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start(baseSpec);
    expect(state.trials).toHaveLength(2);
    expect(backend.running()).toHaveLength(2);
    const first = backend.running()[0];
    expect(first?.labels).toEqual({
      'nightshift.dev/sweep': state.id,
      'nightshift.dev/trial': `${state.id}-t0`,
    });
    expect(first?.env).toMatchObject({
      NIGHTSHIFT_SWEEP_ID: state.id,
      NIGHTSHIFT_TRIAL_ID: `${state.id}-t0`,
    });
    expect(Number(first?.params.lr)).toBe(state.trials[0]?.params.lr);

    let finished = 0;
    while (state.status === 'running') {
      advance(30);
      for (const job of backend.running()) {
        const finalLoss = 1 / (1 + Number(job.params.layers)) + finished * 0.001;
        metrics.report(job.id, 1, 0.5, finalLoss);
        backend.finish(job.id, 'succeeded');
        finished++;
      }
      state = await controller.tick(state.id);
      expect(state.trials.filter((t) => t.state === 'running').length).toBeLessThanOrEqual(2);
    }
    expect(state.status).toBe('completed');
    expect(state.statusReason).toBe('all 5 trials ran');
    expect(state.trials).toHaveLength(5);
    expect(state.trials.every((t) => t.state === 'completed' && t.runId === `run-${t.jobId}`)).toBe(true);
    const best = bestTrial(state);
    const values = state.trials.map((t) => t.value as number);
    expect(best?.value).toBe(Math.min(...values));
    const usage = sweepUsage(state, clock);
    expect(usage.gpuHours).toBeCloseTo(2.5, 5);
    expect(usage.gpuHoursSaved).toBe(0);
  });

  it('prunes a trial behind the median, stops its job, and estimates the compute saved', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start({
      ...baseSpec,
      budget: { maxTrials: 4, maxParallel: 1 },
      pruner: { type: 'median', startupTrials: 2 },
      maxSteps: 10,
    });
    // Two full trials: curves 1 → 0.1 over ten steps.
    for (let i = 0; i < 2; i++) {
      const job = backend.running()[0];
      if (!job) throw new Error('expected a running trial');
      metrics.report(job.id, ...Array.from({ length: 10 }, (_, s) => 1 - s * 0.1));
      advance(60);
      backend.finish(job.id, 'succeeded');
      state = await controller.tick(state.id);
    }
    const slow = backend.running()[0];
    if (!slow) throw new Error('expected a third trial');
    metrics.report(slow.id, 1.5, 1.4);
    advance(12);
    state = await controller.tick(state.id);
    const pruned = state.trials.find((t) => t.jobId === slow.id);
    expect(pruned).toMatchObject({ state: 'pruned', prunedBy: 'median', value: 1.4 });
    expect(pruned?.reason).toContain('median of 2 completed trials at step 1');
    expect(backend.stopped).toEqual([slow.id]);
    expect(backend.jobs.get(slow.id)?.status).toBe('stopped');
    // 12 minutes for 1 of 10 steps: about 1.8 GPU-hours more had it run to the end.
    expect(sweepUsage(state, clock).gpuHoursSaved).toBeCloseTo(1.8, 5);
    // A fourth trial took its place.
    expect(state.trials).toHaveLength(4);
  });

  it.each([
    ['best', 0.3],
    ['last', 0.32],
  ] as const)(
    'stops a trial that flattened; with summary %s it counts as converged at %s',
    async (summary, value) => {
      const { backend, metrics, controller } = setup();
      let state = await controller.start({
        ...baseSpec,
        objective: { metric: 'val_loss', direction: 'minimize', summary },
        budget: { maxTrials: 2, maxParallel: 1 },
        pruner: { type: 'plateau', patience: 3, minDelta: 0.05, relative: true },
        maxSteps: 20,
      });
      const job = backend.running()[0];
      if (!job) throw new Error('expected a running trial');
      // Falls fast, then wobbles around 0.31 for three reports: no 5% improvement on 0.3.
      metrics.report(job.id, 1, 0.6, 0.4, 0.3, 0.31, 0.305, 0.32);
      advance(35);
      state = await controller.tick(state.id);
      const flat = state.trials[0];
      expect(flat).toMatchObject({ state: 'pruned', prunedBy: 'plateau', value });
      expect(flat?.reason).toMatch(/^flat: the last 3 reports improved the best value by/);
      expect(backend.stopped).toEqual([job.id]);
      // A converged trial is a result: it is the best so far. It stopped at step 6 of 20 after 35
      // minutes: the rest of its schedule was saved.
      expect(bestTrial(state)?.id).toBe(flat?.id);
      expect(sweepUsage(state, clock).gpuHoursSaved).toBeCloseTo((35 / 60) * (20 / 6 - 1), 5);
    },
  );

  it('resumes after a restart: keeps its trials, adopts a job submitted just before a crash, submits no duplicate', async () => {
    const { dir, backend, controller } = setup();
    const started = await controller.start(baseSpec);
    await controller.close();
    // A crash between submit and saving the job id: the record has no jobId, the job exists.
    const file = join(dir, `${started.id}.json`);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SweepState;
    const orphanJob = saved.trials[1]?.jobId;
    delete saved.trials[1]?.jobId;
    writeFileSync(file, JSON.stringify(saved));

    const metrics = new ScriptedMetrics();
    const restarted = new SweepController({
      store: new SweepStore(dir),
      backend: () => backend,
      buildTrialSpec,
      metrics,
      now,
    });
    const state = await restarted.tick(started.id);
    expect(state.trials.map((t) => t.jobId)).toEqual(started.trials.map((t) => t.jobId));
    expect(state.trials[1]?.jobId).toBe(orphanJob);
    expect(backend.jobs.size).toBe(2);
    expect(state.trials.map((t) => t.params)).toEqual(started.trials.map((t) => t.params));
  });

  it('stops running trials when the GPU-hour budget is spent', async () => {
    const { backend, controller } = setup();
    let state = await controller.start({
      ...baseSpec,
      budget: { maxTrials: 10, maxParallel: 2, maxGpuHours: 1 },
    });
    advance(31);
    state = await controller.tick(state.id);
    expect(state.status).toBe('completed');
    expect(state.statusReason).toMatch(/GPU-hour budget reached \(1\.03 of 1\)/);
    expect(state.trials.every((t) => t.state === 'stopped')).toBe(true);
    expect(backend.running()).toHaveLength(0);
  });

  it('stops a sweep on request: its jobs stop and nothing new starts', async () => {
    const { backend, controller } = setup();
    const state = await controller.start(baseSpec);
    const stopped = await controller.stop(state.id);
    expect(stopped).toMatchObject({ status: 'stopped', statusReason: 'stopped on request' });
    expect(backend.running()).toHaveLength(0);
    expect((await controller.tick(state.id)).trials).toHaveLength(2);
  });

  it('resumes a completed sweep only with room in its budget, and never a failed one', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start({ ...baseSpec, budget: { maxTrials: 2, maxParallel: 2 } });
    for (const job of backend.running()) {
      metrics.report(job.id, 0.5, 0.4);
      backend.finish(job.id, 'succeeded');
    }
    advance(60);
    state = await controller.tick(state.id);
    expect(state).toMatchObject({ status: 'completed', statusReason: 'all 2 trials ran' });
    const params = state.trials.map((t) => t.params);

    await expect(controller.resume(state.id)).rejects.toThrow(
      /has run 2 of maxTrials 2; pass a larger maxTrials to go on/,
    );
    expect((await controller.get(state.id)).status).toBe('completed');

    state = await controller.resume(state.id, { maxTrials: 3 });
    expect(state).toMatchObject({ status: 'running', spec: { budget: { maxTrials: 3, maxParallel: 2 } } });
    expect(state.statusReason).toBeUndefined();
    expect(state.endedAt).toBeUndefined();
    expect(state.trials).toHaveLength(3);
    // Resuming rewrites nothing already run, and the budget counts everything.
    expect(state.trials.slice(0, 2).map((t) => t.params)).toEqual(params);
    const third = backend.running()[0];
    if (!third) throw new Error('expected the third trial to run');
    metrics.report(third.id, 0.3);
    backend.finish(third.id, 'succeeded');
    state = await controller.tick(state.id);
    expect(state).toMatchObject({ status: 'completed', statusReason: 'all 3 trials ran' });
    expect(bestTrial(state)?.id).toBe(`${state.id}-t2`);
  });

  it('resumes after the GPU-hour budget only with more GPU-hours, and refuses a failed sweep', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start({
      ...baseSpec,
      budget: { maxTrials: 10, maxParallel: 1, maxGpuHours: 1 },
    });
    advance(61);
    state = await controller.tick(state.id);
    expect(state.statusReason).toMatch(/GPU-hour budget reached/);
    await expect(controller.resume(state.id)).rejects.toThrow(
      /has used 1\.02 of maxGpuHours 1; pass a larger maxGpuHours/,
    );
    state = await controller.resume(state.id, { maxGpuHours: 3 });
    expect(state.status).toBe('running');
    expect(state.trials.map((t) => t.state)).toEqual(['stopped', 'running']);

    const failing = await controller.start({ ...baseSpec, budget: { maxTrials: 5, maxParallel: 1 } });
    let failed = failing;
    for (let i = 0; i < 3; i++) {
      const job = backend.running().find((j) => j.labels['nightshift.dev/sweep'] === failing.id);
      if (!job) throw new Error('expected a trial');
      metrics.report(job.id, 1);
      backend.finish(job.id, 'failed', 'cuda_oom');
      failed = await controller.tick(failing.id);
    }
    expect(failed.status).toBe('failed');
    await expect(controller.resume(failing.id)).rejects.toMatchObject({ code: 'conflict' });
    await expect(controller.resume(failing.id)).rejects.toThrow(/start a new sweep with aiqu_start_sweep/);
  });

  it('refuses an unknown template or an invalid spec before storing anything', async () => {
    const { controller } = setup();
    await expect(controller.start({ ...baseSpec, template: 'nope' })).rejects.toThrow(
      /template nope not found/,
    );
    await expect(
      controller.start({ ...baseSpec, space: { lr: { type: 'uniform', low: 2, high: 1 } } }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await controller.list()).toEqual([]);
    await expect(controller.get('sw-missing')).rejects.toThrow(/sweep sw-missing not found; none exist yet/);
  });

  it('gives up after repeated failures with no success, and fails trials that report no metric', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start({ ...baseSpec, budget: { maxTrials: 10, maxParallel: 1 } });
    const quiet = backend.running()[0];
    if (!quiet) throw new Error('expected a trial');
    backend.finish(quiet.id, 'succeeded');
    state = await controller.tick(state.id);
    expect(state.trials[0]).toMatchObject({ state: 'failed' });
    expect(state.trials[0]?.reason).toContain('no "val_loss" metric');
    for (let i = 0; i < 2; i++) {
      const job = backend.running()[0];
      if (!job) throw new Error('expected a trial');
      metrics.report(job.id, 1);
      backend.finish(job.id, 'failed', 'cuda_oom');
      state = await controller.tick(state.id);
    }
    expect(state.status).toBe('failed');
    expect(state.trials).toHaveLength(3);
    expect(state.trials[2]?.reason).toBe('cuda_oom');
  });

  it('keeps a trial pending while the backend does not answer, and submits it once it does', async () => {
    const { backend, controller } = setup();
    const submit = backend.submit.bind(backend);
    let down = true;
    backend.submit = async (spec) => {
      if (down) throw new ToolError('unavailable', 'sbatch failed: Unable to contact slurm controller');
      return submit(spec);
    };
    let state = await controller.start({ ...baseSpec, budget: { maxTrials: 5, maxParallel: 1 } });
    expect(state.trials).toHaveLength(1);
    expect(state.trials[0]).toMatchObject({ state: 'pending' });
    expect(state.trials[0]?.reason).toContain('waiting for backend: sbatch failed');
    state = await controller.tick(state.id);
    expect(state.trials).toHaveLength(1);
    down = false;
    state = await controller.tick(state.id);
    expect(state.trials[0]).toMatchObject({ state: 'running', jobId: 'scripted-1' });
    expect(state.trials[0]?.reason).toBeUndefined();
    expect(state.status).toBe('running');
  });

  it('runs a grid to its end even when maxTrials is larger', async () => {
    const { backend, metrics, controller } = setup();
    let state = await controller.start({
      ...baseSpec,
      space: { opt: { type: 'choice', values: ['adam', 'sgd'] } },
      sampler: { type: 'grid' },
      budget: { maxTrials: 10, maxParallel: 4 },
    });
    expect(state.trials.map((t) => t.params.opt)).toEqual(['adam', 'sgd']);
    for (const job of backend.running()) {
      metrics.report(job.id, 0.5);
      backend.finish(job.id, 'succeeded');
    }
    state = await controller.tick(state.id);
    expect(state).toMatchObject({ status: 'completed', statusReason: 'every grid point ran' });
  });
});
