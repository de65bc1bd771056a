import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger, ServerProgram } from '@nightshift/mcp-kit';
import { createMcpServer, type RegisterOptions } from '@nightshift/mcp-kit';
import { createLocalBackend } from './backends/local.ts';
import { createSlurmBackend } from './backends/slurm.ts';
import type { JobBackend } from './backends/types.ts';
import { type AiquEnv, type AiquFile, aiquEnv, loadAiquFile } from './config.ts';
import type { AiquDeps } from './deps.ts';
import { JobService } from './jobs.ts';
import { sweepEnvShape, withSweeps } from './sweeps/setup.ts';
import { controlTools } from './tools/control.ts';
import { jobTools } from './tools/jobs.ts';
import { type SweepDeps, sweepTools } from './tools/sweeps.ts';

/** Every tool, in the order `--list-tools` and the README show them. */
export const aiquTools = [...jobTools, ...controlTools, ...sweepTools];

/** The server's environment: the job settings plus the MLflow server sweeps read metrics from. */
export const aiquServerEnv = aiquEnv.extend(sweepEnvShape);

/**
 * Builds the backends the config enables; the local backend alone when there is no config.
 * `file` (or a promise of it, e.g. from `parseAiquFile`) replaces reading NIGHTSHIFT_AIQU_CONFIG.
 */
export async function createDeps(
  config: AiquEnv,
  logger?: Logger,
  file?: AiquFile | Promise<AiquFile>,
): Promise<AiquDeps> {
  const loaded = await (file ?? loadAiquFile(config.NIGHTSHIFT_AIQU_CONFIG));
  const backends: JobBackend[] = [];
  const local = loaded.backends.local ?? (loaded.backends.kubernetes ? undefined : { enabled: true });
  if (local && local.enabled !== false) {
    backends.push(
      await createLocalBackend({
        stateDir: config.NIGHTSHIFT_AIQU_STATE_DIR,
        config: { stopGraceSeconds: 30, inheritEnv: [], ...local, enabled: true },
        eventsUrl: config.NIGHTSHIFT_EVENTS_URL,
        eventsSecret: config.NIGHTSHIFT_EVENTS_SECRET,
        ...(logger ? { logger } : {}),
      }),
    );
  }
  const kubernetes = loaded.backends.kubernetes;
  if (kubernetes && kubernetes.enabled !== false) {
    // The Kubernetes client is large: only a config that uses it pays for loading it.
    const { createKubernetesBackend } = await import('./backends/kubernetes.ts');
    backends.push(
      createKubernetesBackend({
        config: kubernetes,
        timeoutMs: config.NIGHTSHIFT_AIQU_TIMEOUT_MS,
        eventsUrl: config.NIGHTSHIFT_EVENTS_URL,
        ...(logger ? { logger } : {}),
      }),
    );
  }
  const slurm = createSlurmBackend(loaded.backends.slurm, {
    stateDir: config.NIGHTSHIFT_AIQU_STATE_DIR,
    timeoutMs: config.NIGHTSHIFT_AIQU_TIMEOUT_MS,
    eventsUrl: config.NIGHTSHIFT_EVENTS_URL,
  });
  if (slurm) backends.push(slurm);
  const deps: SweepDeps = await withSweeps(
    { jobs: new JobService(backends, loaded), timeoutMs: config.NIGHTSHIFT_AIQU_TIMEOUT_MS },
    config,
    loaded,
    logger,
  );
  return deps;
}

export const aiquProgram: ServerProgram<typeof aiquServerEnv, AiquDeps> = {
  name: 'nightshift-mcp-aiqu',
  version: process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.0.0-dev',
  summary: 'MCP server for training jobs on a GPU queue: the local machine and Kubernetes.',
  instructions:
    'Training jobs on a GPU queue. aiqu_list_jobs and aiqu_get_job show what runs and why jobs ended; aiqu_get_job_logs with errorsOnly finds tracebacks, CUDA OOM and NCCL failures; aiqu_get_queue_status shows capacity. aiqu_submit_job (from a template in aiqu_list_templates), aiqu_stop_job and aiqu_requeue_job are reversible levers.',
  env: aiquServerEnv,
  tools: aiquTools,
  setup: (config, logger) => createDeps(config, logger),
  teardown: async (deps) => {
    await (deps as SweepDeps).sweeps?.close();
    await deps.jobs.close();
  },
  secrets: (config) => [
    config.NIGHTSHIFT_EVENTS_SECRET,
    config.MLFLOW_TRACKING_PASSWORD,
    config.MLFLOW_TRACKING_TOKEN,
  ],
};

/** One MCP server over the given deps (tests connect to it in memory). */
export function createServer(deps: AiquDeps, options: RegisterOptions = {}): McpServer {
  return createMcpServer(aiquProgram, deps, options);
}
