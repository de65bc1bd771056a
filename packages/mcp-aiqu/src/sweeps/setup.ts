import type { Logger } from '@nightshift/mcp-kit';
import { notFound, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import type { AiquFile } from '../config.ts';
import { buildSpec, type JobService } from '../jobs.ts';
import { SweepController, type SweepControllerOptions } from './controller.ts';
import type { MetricSource, MlflowMetricsApi } from './metrics.ts';
import { mlflowMetricSource } from './metrics.ts';
import { sweepEventReporter } from './report.ts';
import { SweepStore } from './store.ts';

/** Environment variables the sweeps read (the MLflow server trials log their metrics to). */
export const sweepEnvShape = {
  MLFLOW_TRACKING_URI: z
    .string()
    .url()
    .optional()
    .describe('MLflow tracking server the sweep reads trial metrics from; sweeps are off without it'),
  MLFLOW_TRACKING_USERNAME: z
    .string()
    .optional()
    .describe('MLflow basic-auth user (with MLFLOW_TRACKING_PASSWORD)'),
  MLFLOW_TRACKING_PASSWORD: z
    .string()
    .optional()
    .describe('MLflow basic-auth password (never shown in results)'),
  MLFLOW_TRACKING_TOKEN: z.string().optional().describe('MLflow bearer token (never shown in results)'),
  NIGHTSHIFT_AIQU_SWEEP_POLL_SECONDS: z.coerce
    .number()
    .positive()
    .default(30)
    .describe('How often running sweeps read metrics, prune and launch trials, in seconds'),
};

export interface SweepSetupOptions {
  stateDir: string;
  jobs: JobService;
  file: AiquFile;
  env: {
    MLFLOW_TRACKING_URI?: string | undefined;
    MLFLOW_TRACKING_USERNAME?: string | undefined;
    MLFLOW_TRACKING_PASSWORD?: string | undefined;
    MLFLOW_TRACKING_TOKEN?: string | undefined;
    NIGHTSHIFT_AIQU_SWEEP_POLL_SECONDS?: number | undefined;
  };
  timeoutMs: number;
  logger?: Logger | undefined;
  /** Overrides the MLflow source (tests). */
  metrics?: MetricSource;
  /** Start the periodic loop (the server does; tests tick by hand). Default true. */
  loop?: boolean;
  /** Reports sweep changes to the agent's event intake when the server knows where it is. */
  onChange?: SweepControllerOptions['onChange'];
}

/**
 * The sweep controller over the server's job service: trials are submitted from the sweep's
 * template like aiqu_submit_job would, metrics come from MLflow. Sweeps that were running when
 * the server stopped resume with the loop.
 */
export async function createSweepController(options: SweepSetupOptions): Promise<SweepController> {
  const { jobs, file } = options;
  const metrics = options.metrics ?? mlflowSource(options);
  const controller = new SweepController({
    store: new SweepStore(`${options.stateDir}/sweeps`),
    backend: (name, template) => jobs.backend(name ?? file.templates[template]?.backend),
    buildTrialSpec(request) {
      const names = Object.keys(file.templates);
      const template = file.templates[request.template];
      if (!template) throw notFound(`template ${request.template}`, names, 'See aiqu_list_templates.');
      return buildSpec(
        {
          template: request.template,
          name: request.name,
          params: request.params,
          labels: request.labels,
          ...(request.gpus !== undefined ? { resources: { gpus: request.gpus } } : {}),
        },
        { ...template, env: { ...template.env, ...request.env } },
        file.defaults.resources,
      );
    },
    metrics,
    log: options.logger,
    pollIntervalMs: (options.env.NIGHTSHIFT_AIQU_SWEEP_POLL_SECONDS ?? 30) * 1000,
    ...(options.onChange ? { onChange: options.onChange } : {}),
  });
  if (options.loop !== false) controller.startLoop();
  return controller;
}

function mlflowSource(options: SweepSetupOptions): MetricSource {
  const uri = options.env.MLFLOW_TRACKING_URI;
  if (!uri) {
    return {
      async read() {
        throw new ToolError(
          'not_configured',
          'sweeps read trial metrics from MLflow: set MLFLOW_TRACKING_URI.',
        );
      },
    };
  }
  // The MLflow client loads on the first read, not at server start (cold start stays small).
  let source: Promise<MetricSource> | undefined;
  const load = async () => {
    const { MlflowClient } = await import('@nightshift/mlflow-client');
    const client = new MlflowClient({
      trackingUri: uri,
      username: options.env.MLFLOW_TRACKING_USERNAME,
      password: options.env.MLFLOW_TRACKING_PASSWORD,
      token: options.env.MLFLOW_TRACKING_TOKEN,
      timeoutMs: options.timeoutMs,
    });
    return mlflowMetricSource(client as unknown as MlflowMetricsApi);
  };
  return {
    async read(query) {
      source ??= load();
      return (await source).read(query);
    },
  };
}

/**
 * Adds the sweep controller to the server's deps when MLflow is configured (sweeps read trial
 * metrics from it); without it the sweep tools answer with how to turn sweeps on.
 */
export async function withSweeps<Deps extends { jobs: JobService; timeoutMs: number }>(
  deps: Deps,
  config: {
    NIGHTSHIFT_AIQU_STATE_DIR: string;
    NIGHTSHIFT_EVENTS_URL?: string | undefined;
    NIGHTSHIFT_EVENTS_SECRET?: string | undefined;
  } & SweepSetupOptions['env'],
  file: AiquFile,
  logger?: Logger,
): Promise<Deps & { sweeps?: SweepController }> {
  if (!config.MLFLOW_TRACKING_URI) return deps;
  const sweeps = await createSweepController({
    stateDir: config.NIGHTSHIFT_AIQU_STATE_DIR,
    jobs: deps.jobs,
    file,
    env: config,
    timeoutMs: deps.timeoutMs,
    logger,
    ...(config.NIGHTSHIFT_EVENTS_URL && config.NIGHTSHIFT_EVENTS_SECRET
      ? {
          onChange: sweepEventReporter({
            url: config.NIGHTSHIFT_EVENTS_URL,
            secret: config.NIGHTSHIFT_EVENTS_SECRET,
            spoolDir: `${config.NIGHTSHIFT_AIQU_STATE_DIR}/sweeps/spool`,
          }),
        }
      : {}),
  });
  return { ...deps, sweeps };
}
