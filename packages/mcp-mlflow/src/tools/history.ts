import type { MlflowClient } from '@nightshift/mlflow-client';
import { type Point, sortPoints } from '../series.ts';

export interface HistoryRead {
  points: Point[];
  /** False when the read stopped at `maxPoints` with more pages left. */
  complete: boolean;
  pages: number;
}

/**
 * Reads a metric's full history page by page (MLflow 3.x cuts an unpaged answer short), up to
 * `maxPoints`, reporting progress. Returns points sorted by step.
 */
export async function readFullHistory(
  client: MlflowClient,
  runId: string,
  key: string,
  options: {
    maxPoints: number;
    signal: AbortSignal;
    onPage?: (read: number) => Promise<void> | void;
  },
): Promise<HistoryRead> {
  const points: Point[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const page = await client.getMetricHistory({
      runId,
      key,
      maxResults: Math.min(25_000, Math.max(1, options.maxPoints - points.length)),
      pageToken,
      signal: options.signal,
    });
    pages++;
    for (const m of page.items) points.push({ step: m.step, value: m.value, timestamp: m.timestamp });
    pageToken = page.nextPageToken;
    await options.onPage?.(points.length);
  } while (pageToken && points.length < options.maxPoints);
  return { points: sortPoints(points), complete: pageToken === undefined, pages };
}
