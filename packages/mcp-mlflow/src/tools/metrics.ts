import { notFound, ToolError } from '@nightshift/mcp-kit';
import type { MlflowClient, Run } from '@nightshift/mlflow-client';
import { z } from 'zod';
import { defineMlflowTool } from '../mlflow.ts';
import { colorName, encodePng } from '../plot.ts';
import {
  downsample,
  type Goal,
  inferGoal,
  isUsable,
  overfitting,
  type Point,
  type SeriesSummary,
  sortPoints,
  summarize,
  trainingTwin,
} from '../series.ts';
import { readFullHistory } from './history.ts';
import { finiteOrNull, runIdInput, runRow, runRowSchema } from './shared.ts';

const goalEnum = z.enum(['minimize', 'maximize']);
const pointRef = z.object({ step: z.number(), value: z.number().nullable() }).nullable();

const summarySchema = z.object({
  key: z.string(),
  goal: goalEnum,
  goalInferred: z.boolean(),
  pointsExisting: z
    .number()
    .nullable()
    .describe('How many points the run has for this key (null when not counted)'),
  pointsRead: z.number(),
  pointsReturned: z.number(),
  exact: z.boolean().describe('True when every point was read (statistics are exact)'),
  first: pointRef,
  last: pointRef,
  min: pointRef,
  max: pointRef,
  best: pointRef,
  nonFiniteCount: z.number(),
  firstNonFiniteStep: z.number().nullable(),
  trend: z.object({
    direction: z.enum(['improving', 'worsening', 'flat', 'unknown']),
    relativeChange: z.number().nullable(),
    windowSteps: z.number(),
  }),
  plateau: z.object({
    flag: z.boolean(),
    relativeImprovement: z.number().nullable(),
    windowSteps: z.number(),
    threshold: z.number(),
  }),
  diverging: z.boolean(),
  divergenceReason: z.string().nullable(),
  overfitting: z
    .object({ flag: z.boolean(), trainKey: z.string(), trainTrend: z.string() })
    .nullable()
    .describe('Set for a validation metric whose training twin exists'),
  series: z.array(z.tuple([z.number(), z.number().nullable()])).describe('[step, value] pairs, downsampled'),
});

type KeySummary = z.input<typeof summarySchema>;

const fmt = (v: number | null | undefined) =>
  v === null || v === undefined
    ? 'n/a'
    : Number.isInteger(v)
      ? String(v)
      : Number(v.toPrecision(5)).toString();

async function readSeries(
  client: MlflowClient,
  runId: string,
  key: string,
  mode: 'exact' | 'sampled',
  maxRead: number,
  sampledPoints: number,
  signal: AbortSignal,
  onPage?: (read: number) => Promise<void>,
): Promise<{ points: Point[]; complete: boolean }> {
  if (mode === 'sampled') {
    const sampled = await client.getSampledMetricHistory({
      runIds: [runId],
      key,
      maxResults: sampledPoints,
      signal,
    });
    return {
      points: sortPoints(sampled.map((m) => ({ step: m.step, value: m.value, timestamp: m.timestamp }))),
      complete: false,
    };
  }
  const read = await readFullHistory(client, runId, key, {
    maxPoints: maxRead,
    signal,
    ...(onPage ? { onPage } : {}),
  });
  return { points: read.points, complete: read.complete };
}

const summarizeMetricHistory = defineMlflowTool({
  name: 'mlflow_summarize_metric_history',
  title: 'Summarize metric history',
  description:
    'Summarizes the full history of one or more metrics of a run: points existing/read/returned, first, last, ' +
    'min, max and best (with steps), recent trend, a plateau flag (relative improvement below a threshold over ' +
    'the last steps), health flags (NaN/inf values, divergence, overfitting when a training twin improves while ' +
    'the validation metric worsens), plus a series downsampled to at most `max_points` that keeps the exact ' +
    'extremes and the last point. Requested keys with no data are listed, never silently dropped.',
  toolset: 'metrics',
  input: z.object({
    run_id: runIdInput,
    metric_keys: z
      .array(z.string().min(1))
      .min(1)
      .max(10)
      .describe('Metric keys, e.g. ["train_loss", "val_loss"]'),
    max_points: z
      .number()
      .int()
      .min(2)
      .max(500)
      .default(50)
      .describe('Series length cap per key (default 50)'),
    goal: goalEnum
      .optional()
      .describe('Whether lower or higher is better for all keys; inferred from names when omitted'),
    window_steps: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Steps at the end the trend and plateau look at (default a fifth of the step range)'),
    plateau_threshold: z
      .number()
      .positive()
      .max(1)
      .default(0.01)
      .describe('Relative improvement over the window below which the metric has plateaued (default 0.01)'),
    mode: z
      .enum(['exact', 'sampled'])
      .default('exact')
      .describe(
        "'exact' pages the full history; 'sampled' asks the server for a sample (fast, extremes approximate)",
      ),
    max_points_read: z
      .number()
      .int()
      .min(1000)
      .max(2_000_000)
      .default(500_000)
      .describe('Stop reading a history after this many points (default 500000)'),
  }),
  output: z.object({
    runId: z.string(),
    summaries: z.array(summarySchema),
    keysWithoutData: z.array(z.string()),
    availableKeys: z.array(z.string()).describe('Metric keys the run has (first 50)'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'Find the run with mlflow_find_run.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const run = await client.getRun(input.run_id, { signal: ctx.signal });
    const existing = run.data.metrics.map((m) => m.key).sort();
    const options = {
      goal: input.goal,
      windowSteps: input.window_steps,
      plateauThreshold: input.plateau_threshold,
    };
    const keysWithoutData: string[] = [];
    const summaries: KeySummary[] = [];
    const cache = new Map<string, SeriesSummary>();
    const total = input.metric_keys.length;
    let done = 0;
    for (const key of input.metric_keys) {
      if (!existing.includes(key)) {
        keysWithoutData.push(key);
        continue;
      }
      const { points, complete } = await readSeries(
        client,
        run.info.run_id,
        key,
        input.mode,
        input.max_points_read,
        Math.max(input.max_points, 100),
        ctx.signal,
        (read) => ctx.progress({ progress: done, total, message: `${key}: ${read} points read` }),
      );
      done++;
      if (points.length === 0) {
        keysWithoutData.push(key);
        continue;
      }
      const summary = summarize(key, points, options);
      cache.set(key, summary);
      let overfit: KeySummary['overfitting'] = null;
      const twin = trainingTwin(key, existing);
      if (twin) {
        let trainSummary = cache.get(twin);
        if (!trainSummary) {
          const twinRead = await readSeries(
            client,
            run.info.run_id,
            twin,
            input.mode,
            input.max_points_read,
            Math.max(input.max_points, 100),
            ctx.signal,
          );
          // The twin is compared over the validation metric's window, in steps.
          trainSummary = summarize(twin, twinRead.points, {
            ...options,
            windowSteps: summary.trend.windowSteps,
          });
        }
        overfit = {
          flag: overfitting(trainSummary, summary),
          trainKey: twin,
          trainTrend: trainSummary.trend.direction,
        };
      }
      const series = downsample(points, input.max_points);
      summaries.push({
        key,
        ...summary,
        pointsExisting: complete ? points.length : null,
        pointsRead: points.length,
        pointsReturned: series.length,
        exact: complete,
        overfitting: overfit,
        series: series.map((p) => [p.step, isUsable(p.value) ? p.value : null]),
      });
    }
    if (summaries.length === 0) {
      throw new ToolError(
        'not_found',
        `Run ${run.info.run_id} has no data for ${input.metric_keys.join(', ')}. Its metric keys: ${
          existing.length ? existing.slice(0, 50).join(', ') : 'none (nothing logged yet)'
        }.`,
      );
    }
    const text = summaries
      .map((s) => {
        const flags = [
          s.plateau.flag
            ? `PLATEAU (improved ${fmt((s.plateau.relativeImprovement ?? 0) * 100)}% over last ${s.plateau.windowSteps} steps)`
            : '',
          s.nonFiniteCount ? `NON-FINITE x${s.nonFiniteCount} (first at step ${s.firstNonFiniteStep})` : '',
          s.diverging ? `DIVERGING: ${s.divergenceReason}` : '',
          s.overfitting?.flag
            ? `OVERFITTING (${s.overfitting.trainKey} ${s.overfitting.trainTrend}, ${s.key} worsening)`
            : '',
        ].filter(Boolean);
        const counts = `${s.pointsExisting ?? `≥${s.pointsRead}`} points, ${s.pointsRead} read, ${s.pointsReturned} returned${s.exact ? '' : ' (not exact)'}`;
        const at = (r: { step: number; value: number | null } | null | undefined) =>
          r ? `${fmt(r.value)}@${r.step}` : 'n/a';
        return [
          `${s.key} (${s.goal}${s.goalInferred ? ', inferred' : ''}): ${counts}`,
          `  first ${at(s.first)} last ${at(s.last)} min ${at(s.min)} max ${at(s.max)} best ${at(s.best)}; trend ${s.trend.direction}`,
          flags.length ? `  flags: ${flags.join('; ')}` : '  flags: none',
          `  series: ${s.series.map(([x, y]) => `${x}:${fmt(y)}`).join(' ')}`,
        ].join('\n');
      })
      .join('\n');
    return {
      structured: {
        runId: run.info.run_id,
        summaries,
        keysWithoutData,
        availableKeys: existing.slice(0, 50),
      },
      text: keysWithoutData.length
        ? `${text}\nno data for: ${keysWithoutData.join(', ')} (run has: ${existing.slice(0, 30).join(', ')})`
        : text,
    };
  },
});

async function getRuns(client: MlflowClient, runIds: readonly string[], signal: AbortSignal): Promise<Run[]> {
  return Promise.all(runIds.map((id) => client.getRun(id, { signal })));
}

const compareRuns = defineMlflowTool({
  name: 'mlflow_compare_runs',
  title: 'Compare runs',
  description:
    'Compares 2–10 runs: only the params that differ (identical ones are counted), a metric table with the ' +
    'final and the best value (and its step) per run, and the best run per metric.',
  toolset: 'metrics',
  input: z.object({
    run_ids: z.array(z.string().min(1)).min(2).max(10).describe('Run ids to compare'),
    metric_keys: z
      .array(z.string())
      .max(20)
      .optional()
      .describe('Metrics to compare; default the keys most runs share (up to 8)'),
    maximize: z
      .array(z.string())
      .optional()
      .describe('Metric keys where higher is better; others are inferred from their names (loss → lower)'),
  }),
  output: z.object({
    runs: z.array(runRowSchema),
    differingParams: z.array(
      z.object({ key: z.string(), values: z.record(z.string(), z.string().nullable()) }),
    ),
    identicalParamCount: z.number(),
    metrics: z.array(
      z.object({
        key: z.string(),
        goal: goalEnum,
        values: z.record(
          z.string(),
          z
            .object({
              final: z.number().nullable(),
              best: z.number().nullable(),
              bestStep: z.number().nullable(),
            })
            .nullable(),
        ),
        bestRunId: z.string().nullable(),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'Check the ids with mlflow_find_run.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const ids = [...new Set(input.run_ids)];
    const runs = await getRuns(client, ids, ctx.signal);
    const now = deps.now();

    const paramKeys = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].sort();
    const differingParams: Array<{ key: string; values: Record<string, string | null> }> = [];
    for (const key of paramKeys) {
      const values = Object.fromEntries(
        runs.map((r) => [r.info.run_id, r.data.params.find((p) => p.key === key)?.value ?? null]),
      );
      if (new Set(Object.values(values)).size > 1) differingParams.push({ key, values });
    }

    const counts = new Map<string, number>();
    for (const r of runs) for (const m of r.data.metrics) counts.set(m.key, (counts.get(m.key) ?? 0) + 1);
    const keys =
      input.metric_keys ??
      [...counts.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, 8)
        .map(([k]) => k);

    const metrics = [];
    for (const key of keys) {
      const goal: Goal = input.maximize?.includes(key)
        ? 'maximize'
        : input.maximize
          ? 'minimize'
          : inferGoal(key).goal;
      const values: Record<
        string,
        { final: number | null; best: number | null; bestStep: number | null } | null
      > = {};
      let bestRunId: string | null = null;
      let bestValue: number | null = null;
      for (const run of runs) {
        const latest = run.data.metrics.find((m) => m.key === key);
        if (!latest) {
          values[run.info.run_id] = null;
          continue;
        }
        const { points } = await readFullHistory(client, run.info.run_id, key, {
          maxPoints: 200_000,
          signal: ctx.signal,
        });
        const summary = summarize(key, points, { goal });
        const best = summary.best?.value ?? null;
        values[run.info.run_id] = {
          final: finiteOrNull(latest.value),
          best,
          bestStep: summary.best?.step ?? null,
        };
        if (
          best !== null &&
          (bestValue === null || (goal === 'minimize' ? best < bestValue : best > bestValue))
        ) {
          bestValue = best;
          bestRunId = run.info.run_id;
        }
      }
      metrics.push({ key, goal, values, bestRunId });
    }
    const names = new Map(runs.map((r) => [r.info.run_id, r.info.run_name ?? r.info.run_id.slice(0, 8)]));
    const text = [
      `runs: ${runs.map((r) => `${names.get(r.info.run_id)} (${r.info.run_id}, ${r.info.status})`).join(', ')}`,
      differingParams.length
        ? `params that differ: ${differingParams
            .map(
              (p) =>
                `${p.key}: ${Object.entries(p.values)
                  .map(([id, v]) => `${names.get(id)}=${v ?? '—'}`)
                  .join(', ')}`,
            )
            .join('; ')}`
        : 'params: all identical',
      ...metrics.map(
        (m) =>
          `${m.key} (${m.goal}): ${Object.entries(m.values)
            .map(
              ([id, v]) =>
                `${names.get(id)} final ${fmt(v?.final)} best ${fmt(v?.best)}@${v?.bestStep ?? '-'}`,
            )
            .join('; ')} → best ${m.bestRunId ? names.get(m.bestRunId) : 'n/a'}`,
      ),
    ].join('\n');
    return {
      structured: {
        runs: runs.map((r) => runRow(r, now)),
        differingParams,
        identicalParamCount: paramKeys.length - differingParams.length,
        metrics,
      },
      text,
    };
  },
});

const plotMetrics = defineMlflowTool({
  name: 'mlflow_plot_metrics',
  title: 'Plot metrics',
  description:
    'Draws a PNG line chart (MCP image content) of chosen metrics across runs, against step, from the ' +
    "server's sampled history (at most `max_points` per line). For people who would rather look than read.",
  toolset: 'metrics',
  input: z.object({
    run_ids: z.array(z.string().min(1)).min(1).max(10).describe('Runs to plot'),
    metric_keys: z
      .array(z.string().min(1))
      .min(1)
      .max(4)
      .describe('Metrics to plot, one line per run and metric'),
    max_points: z.number().int().min(10).max(1000).default(300).describe('Points per line (default 300)'),
    log_y: z.boolean().default(false).describe('Logarithmic y axis (positive values only)'),
    width: z.number().int().min(320).max(1600).default(800).describe('Image width in pixels'),
    height: z.number().int().min(240).max(1200).default(450).describe('Image height in pixels'),
  }),
  output: z.object({
    lines: z.array(
      z.object({
        runId: z.string(),
        runName: z.string().nullable(),
        key: z.string(),
        color: z.string(),
        points: z.number(),
        last: pointRef,
      }),
    ),
    missing: z
      .array(z.object({ runId: z.string(), key: z.string() }))
      .describe('Run/metric pairs with no data'),
    width: z.number(),
    height: z.number(),
    bytes: z.number(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'Check the ids with mlflow_find_run.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const ids = [...new Set(input.run_ids)];
    const runs = await getRuns(client, ids, ctx.signal);
    const names = new Map(runs.map((r) => [r.info.run_id, r.info.run_name ?? null]));
    const lines: Array<{ runId: string; key: string; points: Point[] }> = [];
    const missing: Array<{ runId: string; key: string }> = [];
    for (const key of input.metric_keys) {
      const sampled = await client.getSampledMetricHistory({
        runIds: ids,
        key,
        maxResults: input.max_points,
        signal: ctx.signal,
      });
      for (const id of ids) {
        const points = sortPoints(
          sampled
            .filter((m) => m.run_id === id)
            .map((m) => ({ step: m.step, value: m.value, timestamp: m.timestamp })),
        );
        if (points.length === 0) missing.push({ runId: id, key });
        else lines.push({ runId: id, key, points: downsample(points, input.max_points) });
      }
    }
    if (lines.length === 0) {
      const known = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
      throw notFound(
        `data for ${input.metric_keys.join(', ')} in these runs`,
        known,
        'Those are the metric keys they have.',
      );
    }
    const label = (l: { runId: string; key: string }) =>
      `${names.get(l.runId) ?? l.runId.slice(0, 8)}${input.metric_keys.length > 1 ? ` ${l.key}` : ''}`;
    const png = await encodePng(
      lines.map((l) => ({
        label: label(l),
        points: l.points.filter((p) => isUsable(p.value)).map((p) => ({ x: p.step, y: p.value })),
      })),
      {
        width: input.width,
        height: input.height,
        title: input.metric_keys.join(', '),
        xLabel: 'step',
        logY: input.log_y,
      },
    );
    const structuredLines = lines.map((l, i) => {
      const last = l.points.at(-1);
      return {
        runId: l.runId,
        runName: names.get(l.runId) ?? null,
        key: l.key,
        color: colorName(i),
        points: l.points.length,
        last: last ? { step: last.step, value: finiteOrNull(last.value) } : null,
      };
    });
    return {
      structured: {
        lines: structuredLines,
        missing,
        width: input.width,
        height: input.height,
        bytes: png.length,
      },
      text:
        `Chart of ${input.metric_keys.join(', ')} for ${lines.length} line(s): ` +
        structuredLines.map((l) => `${label(l)} ${l.color}`).join(', ') +
        (missing.length ? `; no data: ${missing.map((m) => `${m.key} in ${m.runId}`).join(', ')}` : ''),
      images: [{ data: png.toString('base64'), mimeType: 'image/png' }],
    };
  },
});

/** Metric history: summaries with health flags, run comparison, charts. */
export const metricTools = [summarizeMetricHistory, compareRuns, plotMetrics];
