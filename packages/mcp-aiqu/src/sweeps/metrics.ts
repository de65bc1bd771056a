import type { MetricPoint } from './pruners.ts';

export interface MetricQuery {
  /** The trial's job; runs are found by their `nightshift.job_id` tag when no run id is known. */
  jobId: string;
  runId?: string | undefined;
  metric: string;
  /** MLflow experiment name to look in; every experiment when absent. */
  experiment?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface MetricReading {
  /** The run the points came from, once found. */
  runId?: string;
  /** The metric's history, ordered by step (one point per step: the latest logged). */
  points: MetricPoint[];
}

/** Where the sweep controller reads trials' intermediate metrics from. */
export interface MetricSource {
  read(query: MetricQuery): Promise<MetricReading>;
}

/**
 * The subset of `@nightshift/mlflow-client`'s MlflowClient the sweep reads with; typed
 * structurally so tests and the server pass the real client.
 */
export interface MlflowMetricsApi {
  getExperimentByName(
    name: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<{ experiment_id: string }>;
  searchExperiments(params: {
    maxResults?: number | undefined;
    pageToken?: string | undefined;
    signal?: AbortSignal | undefined;
  }): Promise<{ items: Array<{ experiment_id: string }>; nextPageToken?: string | undefined }>;
  searchRuns(params: {
    experimentIds: string[];
    filter?: string | undefined;
    orderBy?: string[] | undefined;
    maxResults?: number | undefined;
    signal?: AbortSignal | undefined;
  }): Promise<{ items: Array<{ info: { run_id: string } }> }>;
  getMetricHistory(params: {
    runId: string;
    key: string;
    maxResults?: number | undefined;
    pageToken?: string | undefined;
    signal?: AbortSignal | undefined;
  }): Promise<{
    items: Array<{ step: number; value: number; timestamp: number }>;
    nextPageToken?: string | undefined;
  }>;
}

/** Reads trial metrics from an MLflow tracking server. */
export function mlflowMetricSource(client: MlflowMetricsApi): MetricSource {
  return {
    async read(query) {
      const runId = query.runId ?? (await findRun(client, query));
      if (!runId) return { points: [] };
      const history: Array<{ step: number; value: number; timestamp: number }> = [];
      let pageToken: string | undefined;
      do {
        const page = await client.getMetricHistory({
          runId,
          key: query.metric,
          pageToken,
          signal: query.signal,
        });
        history.push(...page.items);
        pageToken = page.nextPageToken;
      } while (pageToken && history.length < 100_000);
      return { runId, points: latestPerStep(history) };
    },
  };
}

async function findRun(client: MlflowMetricsApi, query: MetricQuery): Promise<string | undefined> {
  const experimentIds: string[] = [];
  if (query.experiment) {
    try {
      experimentIds.push(
        (await client.getExperimentByName(query.experiment, { signal: query.signal })).experiment_id,
      );
    } catch {
      // The experiment appears when the first trial logs to it.
      return undefined;
    }
  } else {
    let pageToken: string | undefined;
    do {
      const page = await client.searchExperiments({ maxResults: 1000, pageToken, signal: query.signal });
      experimentIds.push(...page.items.map((e) => e.experiment_id));
      pageToken = page.nextPageToken;
    } while (pageToken && experimentIds.length < 10_000);
  }
  if (experimentIds.length === 0) return undefined;
  const runs = await client.searchRuns({
    experimentIds,
    filter: `tags."nightshift.job_id" = '${query.jobId.replaceAll("'", '')}'`,
    orderBy: ['attributes.start_time DESC'],
    maxResults: 1,
    signal: query.signal,
  });
  return runs.items[0]?.info.run_id;
}

/** MLflow allows several values per step; the latest logged one stands for the step. */
export function latestPerStep(
  history: ReadonlyArray<{ step: number; value: number; timestamp: number }>,
): MetricPoint[] {
  const byStep = new Map<number, { value: number; timestamp: number }>();
  for (const point of history) {
    const seen = byStep.get(point.step);
    if (!seen || point.timestamp >= seen.timestamp) byStep.set(point.step, point);
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, p]) => ({ step, value: p.value }));
}
