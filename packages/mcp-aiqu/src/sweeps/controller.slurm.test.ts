import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '@nightshift/mlflow-client';
import { describe, expect, it } from 'vitest';
import { SlurmBackend } from '../backends/slurm.ts';
import { parseAiquFile } from '../config.ts';
import { JobService } from '../jobs.ts';
import { bestTrial, sweepUsage } from './controller.ts';
import { createSweepController } from './setup.ts';

// The whole path on real systems: trials are Slurm jobs (real daemons) running a trainer that
// logs val_loss to a real MLflow server; the controller reads MLflow, prunes through scancel.
const slurmConf = process.env.NIGHTSHIFT_TEST_SLURM_CONF ?? process.env.SLURM_CONF;
const mlflowUri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;
const enabled = Boolean(process.env.NIGHTSHIFT_TEST_SLURM && slurmConf && mlflowUri);
const python = process.env.NIGHTSHIFT_PYTHON ?? 'python3';

describe.skipIf(!enabled)('a sweep on Slurm with metrics from MLflow', () => {
  it('runs trials as Slurm jobs, prunes the bad ones by scancel, and finds the best', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'aiqu-sweep-slurm-'));
    const experiment = `sweep-e2e-${Date.now()}`;
    const file = await parseAiquFile(`
defaultBackend: slurm
templates:
  trial:
    command: [${python}, ${join(import.meta.dirname, '__fixtures__', 'trial.py')}]
    env: { MLFLOW_TRACKING_URI: "${mlflowUri}" }
    params: { experiment: "${experiment}" }
    resources: { gpus: 1, cpus: 1, memoryMiB: 200 }
`);
    const slurm = new SlurmBackend({ stateDir, slurmConf });
    const jobs = new JobService([slurm], file);
    const controller = await createSweepController({
      stateDir,
      jobs,
      file,
      env: { MLFLOW_TRACKING_URI: mlflowUri },
      timeoutMs: 10_000,
      loop: false,
    });
    let state = await controller.start({
      name: 'lr on slurm',
      template: 'trial',
      // A grid runs in a known order: the two good learning rates first, then four bad ones.
      space: { lr: { type: 'choice', values: [0.01, 0.03, 0.0001, 0.00001, 1, 0.000001] } },
      sampler: { type: 'grid' },
      objective: { metric: 'val_loss', direction: 'minimize', experiment },
      budget: { maxTrials: 6, maxParallel: 2 },
      pruner: { type: 'median', startupTrials: 2 },
      maxSteps: 20,
    });
    expect(state.trials).toHaveLength(2);
    const deadline = Date.now() + 150_000;
    while (state.status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      state = await controller.tick(state.id);
    }
    expect(state.status).toBe('completed');
    expect(state.trials.map((t) => t.state)).toEqual([
      'completed',
      'completed',
      'pruned',
      'pruned',
      'pruned',
      'pruned',
    ]);
    const best = bestTrial(state);
    expect(best?.params.lr).toBe(0.01);
    expect(best?.value).toBeCloseTo(0.1 + 2 * Math.exp(-5), 6);

    for (const trial of state.trials.filter((t) => t.state === 'pruned')) {
      expect(trial.prunedBy).toBe('median');
      const job = await slurm.get(trial.jobId as string);
      expect(job).toMatchObject({ status: 'stopped', reason: 'cancelled' });
      expect(job.labels['nightshift.dev/trial']).toBe(trial.id);
      // Stopped well before its 20 steps.
      expect(trial.reports.length).toBeLessThan(20);
    }
    // The runs in MLflow are the ones the trials were read from.
    const client = new MlflowClient({ trackingUri: mlflowUri as string });
    const run = await client.getRun(best?.runId as string);
    expect(run.data.tags.find((t) => t.key === 'nightshift.job_id')?.value).toBe(best?.jobId);
    const usage = sweepUsage(state, new Date());
    expect(usage.gpuHoursSaved).toBeGreaterThan(0);
    await controller.close();
  }, 200_000);
});
