import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnStdioServer } from '@nightshift/mcp-kit/testing';
import { describe, expect, it } from 'vitest';

// The built bin over stdio, configured with the Slurm backend and MLflow: a sweep started with
// aiqu_start_sweep runs on its own (the server's loop), trials run as real Slurm jobs that log
// to a real MLflow server, and aiqu_sweep_status sees it finish with the bad trials pruned.
const packageDir = join(import.meta.dirname, '..');
const bin = join(packageDir, 'bin', 'nightshift-mcp-aiqu.js');
const slurmConf = process.env.NIGHTSHIFT_TEST_SLURM_CONF ?? process.env.SLURM_CONF;
const mlflowUri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;
const enabled = Boolean(process.env.NIGHTSHIFT_TEST_SLURM && slurmConf && mlflowUri);
const python = process.env.NIGHTSHIFT_PYTHON ?? 'python3';
const password = 'mlflow-password-never-shown-4711';

type Result = {
  isError?: boolean;
  content: Array<{ text?: string }>;
  structuredContent?: Record<string, unknown>;
};

describe.skipIf(!enabled)('sweeps through the built server on Slurm', () => {
  it('starts a sweep, runs it to the end on its own, reports the best trial and the pruned ones', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'aiqu-e2e-sweep-'));
    const experiment = `sweep-bin-${Date.now()}`;
    const config = join(stateDir, 'aiqu.yaml');
    writeFileSync(
      config,
      `
defaultBackend: slurm
backends:
  local: { enabled: false }
  slurm:
    slurmConf: ${slurmConf}
templates:
  trial:
    command: [${python}, ${join(packageDir, 'src', 'sweeps', '__fixtures__', 'trial.py')}]
    env: { MLFLOW_TRACKING_URI: "${mlflowUri}" }
    params: { experiment: "${experiment}", steps: "12", step_seconds: "0.4" }
    resources: { gpus: 1, cpus: 1, memoryMiB: 200 }
`,
    );
    const server = await spawnStdioServer(process.execPath, [bin], {
      env: {
        NIGHTSHIFT_AIQU_STATE_DIR: stateDir,
        NIGHTSHIFT_AIQU_CONFIG: config,
        MLFLOW_TRACKING_URI: mlflowUri as string,
        // The test server has no auth: a password it never needs must still never show.
        MLFLOW_TRACKING_USERNAME: 'nobody',
        MLFLOW_TRACKING_PASSWORD: password,
        NIGHTSHIFT_AIQU_SWEEP_POLL_SECONDS: '1',
      },
    });
    const call = async (name: string, args: Record<string, unknown>) => {
      const result = (await server.client.callTool({ name, arguments: args })) as Result;
      expect(JSON.stringify(result)).not.toContain(password);
      return result;
    };
    try {
      const started = await call('aiqu_start_sweep', {
        name: 'lr via the bin',
        template: 'trial',
        space: { lr: { type: 'choice', values: [0.01, 0.03, 0.0001, 0.00001] } },
        sampler: { type: 'grid' },
        objective: { metric: 'val_loss', direction: 'minimize', experiment },
        budget: { maxTrials: 4, maxParallel: 2 },
        pruner: { type: 'median', startupTrials: 2 },
        maxSteps: 12,
      });
      expect(started.isError).toBeFalsy();
      const id = (started.structuredContent as { sweep: { id: string } }).sweep.id;

      let status: Result | undefined;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        status = await call('aiqu_sweep_status', { id, limit: 10 });
        if ((status.structuredContent as { sweep: { status: string } }).sweep.status !== 'running') break;
      }
      const sweep = (status as Result & { structuredContent: { sweep: Record<string, unknown> } })
        .structuredContent.sweep;
      expect(sweep).toMatchObject({
        status: 'completed',
        counts: { total: 4, completed: 2, pruned: 2 },
        best: { params: { lr: 0.01 } },
      });
      expect(sweep.gpuHoursSavedByPruning as number).toBeGreaterThan(0);
      const trials = (status?.structuredContent?.trials ?? []) as Array<{ state: string; jobId: string }>;
      // The pruned trials' Slurm jobs were cancelled, as aiqu_get_job shows.
      for (const trial of trials.filter((t) => t.state === 'pruned')) {
        const job = await call('aiqu_get_job', { id: trial.jobId, logLines: 0 });
        expect(job.structuredContent?.job).toMatchObject({
          backend: 'slurm',
          status: 'stopped',
          reason: 'cancelled',
        });
      }
      expect(server.stderr()).not.toContain(password);
    } finally {
      await server.close();
    }
  }, 180_000);
});
