import { decodeCursor, encodeCursor, notFound, ToolError } from '@nightshift/mcp-kit';
import {
  type Experiment,
  type KeyValue,
  type MlflowClient,
  MlflowError,
  type Run,
} from '@nightshift/mlflow-client';
import { z } from 'zod';

/** Shared shapes and helpers for the MLflow tools. */

export const iso = (ms: number | undefined): string | null =>
  ms === undefined || ms <= 0 ? null : new Date(ms).toISOString();

/** A finite number or null: JSON (and so structured content) has no NaN or Infinity. */
export const finiteOrNull = (value: number): number | null =>
  Number.isFinite(value) && Math.abs(value) < Number.MAX_VALUE ? value : null;

export const cursorInput = z
  .string()
  .optional()
  .describe('The nextCursor of a previous answer, to continue; omit for the first page');

export const runIdInput = z
  .string()
  .min(1)
  .describe('The MLflow run id (32 hex characters); find one with mlflow_find_run or mlflow_search_runs');

export const experimentRefs = z
  .array(z.string().min(1))
  .max(50)
  .optional()
  .describe('Experiment names or ids to look in; omit for every active experiment');

/** Carries MLflow's page token inside our opaque cursor. */
export function pageTokenFrom(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  const { pageToken } = decodeCursor<{ pageToken?: unknown }>(cursor);
  if (typeof pageToken !== 'string') {
    throw new ToolError(
      'invalid_input',
      'The cursor is not one this server issued; repeat the call without a cursor.',
    );
  }
  return pageToken;
}

export const cursorFrom = (pageToken: string | undefined) =>
  pageToken ? encodeCursor({ pageToken }) : undefined;

/** Resolves names or ids to experiments; an unknown one lists what exists. */
export async function resolveExperiments(
  client: MlflowClient,
  refs: readonly string[] | undefined,
  signal: AbortSignal,
  cap = 200,
): Promise<Experiment[]> {
  if (!refs || refs.length === 0) {
    const all: Experiment[] = [];
    for await (const experiment of client.iterateExperiments({
      signal,
      orderBy: ['last_update_time DESC'],
    })) {
      all.push(experiment);
      if (all.length >= cap) break;
    }
    return all;
  }
  const found: Experiment[] = [];
  for (const ref of refs) {
    try {
      found.push(
        /^\d+$/.test(ref)
          ? await client.getExperiment(ref, { signal })
          : await client.getExperimentByName(ref, { signal }),
      );
    } catch (error) {
      if (MlflowError.isInstance(error) && error.kind === 'not_found') {
        const known = (await client.searchExperiments({ maxResults: 50, signal })).items.map(
          (e) => `${e.name} (${e.experiment_id})`,
        );
        throw notFound(`experiment "${ref}"`, known, 'List them with mlflow_list_experiments.');
      }
      throw error;
    }
  }
  return found;
}

export const tagsToRecord = (tags: readonly KeyValue[], includeSystem = false, cap = 30) => {
  const out: Record<string, string> = {};
  let n = 0;
  for (const { key, value } of tags) {
    if (!includeSystem && key.startsWith('mlflow.')) continue;
    if (n++ >= cap) break;
    out[key] = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  }
  return out;
};

export const tagValue = (run: Run, key: string) => run.data.tags.find((t) => t.key === key)?.value;

export const runRowSchema = z.object({
  runId: z.string(),
  runName: z.string().nullable(),
  experimentId: z.string(),
  status: z.string(),
  start: z.string().nullable(),
  durationSeconds: z.number().nullable(),
});

/** The compact identity of a run every run listing starts with. */
export function runRow(run: Run, now: number) {
  const start = run.info.start_time;
  const end = run.info.end_time && run.info.end_time > 0 ? run.info.end_time : undefined;
  return {
    runId: run.info.run_id,
    runName: run.info.run_name ?? tagValue(run, 'mlflow.runName') ?? null,
    experimentId: run.info.experiment_id,
    status: run.info.status,
    start: iso(start),
    durationSeconds: start ? Math.round(((end ?? now) - start) / 1000) : null,
  };
}

export const metricsFilterHint =
  "MLflow's filter grammar: metrics.acc > 0.9 and params.lr = '0.01' and tags.team = 'vision' and " +
  "attributes.status = 'FAILED' (strings in single quotes; combine with 'and' only).";
