import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../backends/types.ts';
import { ScriptedBackend, ScriptedMetrics } from './__fixtures__/scripted-backend.ts';
import { type SweepChange, SweepController, type TrialJobRequest } from './controller.ts';
import { sweepEventReporter } from './report.ts';
import { SweepStore } from './store.ts';

let clock = new Date('2026-11-23T00:00:00Z');
const now = () => clock;

function buildTrialSpec(request: TrialJobRequest): JobSpec {
  return {
    name: request.name,
    template: request.template,
    command: ['python', 'train.py'],
    env: request.env,
    params: request.params,
    resources: { gpus: 1, cpus: 1 },
    priority: 0,
    labels: request.labels,
  };
}

/** Runs a 4-trial sweep to its end; each trial's final loss is given by `lossOf(index)`. */
async function runSweep(onChange: (change: SweepChange) => void, lossOf: (index: number) => number) {
  const backend = new ScriptedBackend(now);
  const metrics = new ScriptedMetrics();
  const controller = new SweepController({
    store: new SweepStore(mkdtempSync(join(tmpdir(), 'sweep-report-'))),
    backend: () => backend,
    buildTrialSpec,
    metrics,
    now,
    onChange,
  });
  let state = await controller.start({
    name: 'weld lr',
    template: 'train',
    space: { lr: { type: 'loguniform', low: 1e-4, high: 1e-1 } },
    sampler: { type: 'random' },
    objective: { metric: 'val_loss', direction: 'minimize' },
    budget: { maxTrials: 4, maxParallel: 1 },
    seed: 3,
  });
  let index = 0;
  while (state.status === 'running') {
    clock = new Date(clock.getTime() + 30 * 60_000);
    for (const job of backend.running()) {
      metrics.report(job.id, 1, 1, lossOf(index++));
      backend.finish(job.id, 'succeeded');
    }
    state = await controller.tick(state.id);
  }
  return state;
}

describe('sweep changes', () => {
  it('reports every ended trial once, each new best, and the end once, last', async () => {
    const changes: SweepChange[] = [];
    const losses = [0.5, 0.7, 0.3, 0.4];
    const state = await runSweep(
      (c) => changes.push(c),
      (i) => losses[i] ?? 1,
    );
    expect(state.status).toBe('completed');
    const ended = changes
      .filter((c) => c.kind === 'trial_ended')
      .map((c) => c.kind === 'trial_ended' && c.trial.id);
    expect(ended).toEqual(state.trials.map((t) => t.id));
    const bests = changes
      .filter((c) => c.kind === 'new_best')
      .map((c) => c.kind === 'new_best' && c.trial.value);
    expect(bests).toEqual([0.5, 0.3]);
    expect(changes.filter((c) => c.kind === 'sweep_ended')).toHaveLength(1);
    expect(changes.at(-1)?.kind).toBe('sweep_ended');
  });

  it('a reporter that throws never stops the sweep', async () => {
    const state = await runSweep(
      () => {
        throw new Error('intake down');
      },
      () => 0.5,
    );
    expect(state.status).toBe('completed');
  });

  it('becomes signed-event calls: trials and bests as milestones, the end as finished with the best', async () => {
    const calls: Array<{ sweep: string; name: string; method: string; args: unknown[] }> = [];
    const report = sweepEventReporter(
      { url: 'http://127.0.0.1:1', secret: 'whsec_unused', spoolDir: '/unused' },
      (sweep, name) => ({
        milestone: (...args) => void calls.push({ sweep, name, method: 'milestone', args }),
        finished: async (...args) => {
          calls.push({ sweep, name, method: 'finished', args });
          return true;
        },
        failed: async (...args) => {
          calls.push({ sweep, name, method: 'failed', args });
          return true;
        },
      }),
    );
    const losses = [0.5, 0.7, 0.3, 0.4];
    const state = await runSweep(report, (i) => losses[i] ?? 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(new Set(calls.map((c) => `${c.sweep}|${c.name}`))).toEqual(new Set([`${state.id}|weld lr`]));
    const milestones = calls.filter((c) => c.method === 'milestone');
    expect(milestones.filter((c) => c.args[0] === 'trial_ended')).toHaveLength(4);
    expect(milestones.filter((c) => c.args[0] === 'new_best').map((c) => c.args[1])).toEqual([
      { val_loss: 0.5 },
      { val_loss: 0.3 },
    ]);
    const finished = calls.filter((c) => c.method === 'finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]?.args[0]).toEqual({ val_loss: 0.3 });
    expect(finished[0]?.args[1]).toMatchObject({
      status: 'completed',
      trials: 4,
      pruned: 0,
      best: { val_loss: 0.3 },
    });
  });
});
