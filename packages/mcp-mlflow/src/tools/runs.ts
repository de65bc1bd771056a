import { notFound, ToolError } from '@nightshift/mcp-kit';
import type { Run } from '@nightshift/mlflow-client';
import { z } from 'zod';
import { defineMlflowTool } from '../mlflow.ts';
import {
  cursorFrom,
  cursorInput,
  experimentRefs,
  finiteOrNull,
  iso,
  metricsFilterHint,
  pageTokenFrom,
  resolveExperiments,
  runIdInput,
  runRow,
  runRowSchema,
  tagsToRecord,
  tagValue,
} from './shared.ts';

const statusEnum = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
const metricValues = z.record(z.string(), z.number().nullable());

const listExperiments = defineMlflowTool({
  name: 'mlflow_list_experiments',
  title: 'List experiments',
  description:
    'Lists MLflow experiments, most recently updated first: id, name, last update and user tags. ' +
    'Use it to learn experiment names for the other tools.',
  toolset: 'runs',
  input: z.object({
    name_contains: z
      .string()
      .optional()
      .describe('Only experiments whose name contains this (case-insensitive)'),
    limit: z.number().int().min(1).max(200).default(50).describe('Experiments per page (default 50)'),
    cursor: cursorInput,
  }),
  output: z.object({
    experiments: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        lastUpdate: z.string().nullable(),
        tags: z.record(z.string(), z.string()),
      }),
    ),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps, ctx) {
    const page = await deps.mlflow().searchExperiments({
      filter: input.name_contains
        ? `name ILIKE '%${input.name_contains.replaceAll("'", "\\'")}%'`
        : undefined,
      orderBy: ['last_update_time DESC'],
      maxResults: input.limit,
      pageToken: pageTokenFrom(input.cursor),
      signal: ctx.signal,
    });
    const experiments = page.items.map((e) => ({
      id: e.experiment_id,
      name: e.name,
      lastUpdate: iso(e.last_update_time),
      tags: tagsToRecord(e.tags, false, 10),
    }));
    const nextCursor = cursorFrom(page.nextPageToken);
    return {
      structured: { experiments, ...(nextCursor ? { nextCursor } : {}) },
      text:
        experiments.length === 0
          ? 'No experiments match.'
          : experiments.map((e) => `${e.id}\t${e.name}\t${e.lastUpdate ?? ''}`).join('\n') +
            (nextCursor ? `\nmore: cursor ${nextCursor}` : ''),
    };
  },
});

const searchRuns = defineMlflowTool({
  name: 'mlflow_search_runs',
  title: 'Search runs',
  description:
    "Searches runs with MLflow's filter grammar and order-by, returning compact rows (id, name, status, " +
    'start, duration, chosen metrics and params) and a cursor. Without `metrics`, the first five metric ' +
    'keys seen are shown and the rest are counted.',
  toolset: 'runs',
  input: z.object({
    experiments: experimentRefs,
    filter: z
      .string()
      .optional()
      .describe(
        "MLflow filter, e.g. \"metrics.val_acc > 0.9 and params.lr = '0.01' and attributes.status = 'FINISHED'\"",
      ),
    order_by: z
      .array(z.string())
      .max(3)
      .optional()
      .describe("Sort keys, e.g. ['metrics.val_acc DESC']; default newest first"),
    metrics: z.array(z.string()).max(20).optional().describe('Metric keys to show per run (latest value)'),
    params: z.array(z.string()).max(20).optional().describe('Param keys to show per run'),
    limit: z.number().int().min(1).max(100).default(10).describe('Runs per page (default 10)'),
    cursor: cursorInput,
  }),
  output: z.object({
    runs: z.array(
      runRowSchema.extend({ metrics: metricValues, params: z.record(z.string(), z.string().nullable()) }),
    ),
    metricColumns: z.array(z.string()),
    otherMetricKeys: z.number().describe('Metric keys present but not shown'),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { invalid: metricsFilterHint, notFound: 'List experiments with mlflow_list_experiments.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const experiments = await resolveExperiments(client, input.experiments, ctx.signal);
    if (experiments.length === 0) throw notFound('any experiment', [], 'Log a run to MLflow first.');
    const page = await client.searchRuns({
      experimentIds: experiments.map((e) => e.experiment_id),
      filter: input.filter,
      orderBy: input.order_by ?? ['attributes.start_time DESC'],
      maxResults: input.limit,
      pageToken: pageTokenFrom(input.cursor),
      signal: ctx.signal,
    });
    const allKeys = [...new Set(page.items.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
    const metricColumns = input.metrics ?? allKeys.slice(0, 5);
    const paramColumns = input.params ?? [];
    const now = deps.now();
    const runs = page.items.map((run) => ({
      ...runRow(run, now),
      metrics: Object.fromEntries(
        metricColumns.map((k) => {
          const m = run.data.metrics.find((x) => x.key === k);
          return [k, m ? finiteOrNull(m.value) : null];
        }),
      ),
      params: Object.fromEntries(
        paramColumns.map((k) => [k, run.data.params.find((p) => p.key === k)?.value ?? null]),
      ),
    }));
    const nextCursor = cursorFrom(page.nextPageToken);
    const otherMetricKeys = allKeys.filter((k) => !metricColumns.includes(k)).length;
    const header = ['run_id', 'name', 'status', 'start', 'dur_s', ...metricColumns, ...paramColumns].join(
      '\t',
    );
    const lines = runs.map((r) =>
      [
        r.runId,
        r.runName ?? '',
        r.status,
        r.start ?? '',
        r.durationSeconds ?? '',
        ...metricColumns.map((k) => formatNumber(r.metrics[k])),
        ...paramColumns.map((k) => r.params[k] ?? ''),
      ].join('\t'),
    );
    return {
      structured: { runs, metricColumns, otherMetricKeys, ...(nextCursor ? { nextCursor } : {}) },
      text:
        runs.length === 0
          ? 'No runs match.'
          : [header, ...lines].join('\n') +
            (otherMetricKeys ? `\n(${otherMetricKeys} more metric keys; name them in \`metrics\`)` : '') +
            (nextCursor ? `\nmore: cursor ${nextCursor}` : ''),
    };
  },
});

const getRun = defineMlflowTool({
  name: 'mlflow_get_run',
  title: 'Get a run',
  description:
    'One run in detail: status and timing, params, latest metrics (value and step), user tags, source and ' +
    'note, dataset inputs, parent and child runs, and the top-level artifacts.',
  toolset: 'runs',
  input: z.object({ run_id: runIdInput }),
  output: z.object({
    run: runRowSchema.extend({ user: z.string().nullable(), artifactUri: z.string().nullable() }),
    params: z.record(z.string(), z.string()),
    paramsOmitted: z.number(),
    latestMetrics: z.record(z.string(), z.object({ value: z.number().nullable(), step: z.number() })),
    metricsOmitted: z.number(),
    tags: z.record(z.string(), z.string()),
    source: z.object({ name: z.string().nullable(), gitCommit: z.string().nullable() }),
    note: z.string().nullable(),
    datasets: z.array(
      z.object({
        name: z.string(),
        digest: z.string(),
        context: z.string().nullable(),
        sourceType: z.string(),
      }),
    ),
    parentRunId: z.string().nullable(),
    childRuns: z.array(runRowSchema),
    moreChildRuns: z.boolean(),
    artifacts: z.array(z.object({ path: z.string(), isDir: z.boolean(), size: z.number().nullable() })),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'Find the run with mlflow_find_run (accepts a partial id or a run name).' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const run = await client.getRun(input.run_id, { signal: ctx.signal });
    const now = deps.now();
    const [children, artifacts] = await Promise.all([
      client.searchRuns({
        experimentIds: [run.info.experiment_id],
        filter: `tags.mlflow.parentRunId = '${run.info.run_id}'`,
        maxResults: 20,
        orderBy: ['attributes.start_time ASC'],
        signal: ctx.signal,
      }),
      client.listArtifacts({ runId: run.info.run_id, signal: ctx.signal }).catch(() => ({ items: [] })),
    ]);
    const params = [...run.data.params].sort((a, b) => a.key.localeCompare(b.key));
    const metrics = [...run.data.metrics].sort((a, b) => a.key.localeCompare(b.key));
    const note = tagValue(run, 'mlflow.note.content');
    return {
      structured: {
        run: {
          ...runRow(run, now),
          user: run.info.user_id ?? tagValue(run, 'mlflow.user') ?? null,
          artifactUri: run.info.artifact_uri ?? null,
        },
        params: Object.fromEntries(params.slice(0, 100).map((p) => [p.key, p.value.slice(0, 500)])),
        paramsOmitted: Math.max(0, params.length - 100),
        latestMetrics: Object.fromEntries(
          metrics.slice(0, 100).map((m) => [m.key, { value: finiteOrNull(m.value), step: m.step }]),
        ),
        metricsOmitted: Math.max(0, metrics.length - 100),
        tags: tagsToRecord(run.data.tags),
        source: {
          name: tagValue(run, 'mlflow.source.name') ?? null,
          gitCommit: tagValue(run, 'mlflow.source.git.commit') ?? null,
        },
        note: note ? note.slice(0, 1000) : null,
        datasets: run.inputs.dataset_inputs.slice(0, 20).map((d) => ({
          name: d.dataset.name,
          digest: d.dataset.digest,
          context: d.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? null,
          sourceType: d.dataset.source_type,
        })),
        parentRunId: tagValue(run, 'mlflow.parentRunId') ?? null,
        childRuns: children.items.map((c) => runRow(c, now)),
        moreChildRuns: children.nextPageToken !== undefined,
        artifacts: artifacts.items
          .slice(0, 50)
          .map((f) => ({ path: f.path, isDir: f.is_dir, size: f.file_size ?? null })),
      },
    };
  },
});

/** Params that say how long a run will be, and the metric that says how far it got. */
const totalParams: Array<{ key: string; unit: 'epoch' | 'step' }> = [
  { key: 'epochs', unit: 'epoch' },
  { key: 'num_epochs', unit: 'epoch' },
  { key: 'max_epochs', unit: 'epoch' },
  { key: 'num_train_epochs', unit: 'epoch' },
  { key: 'max_steps', unit: 'step' },
  { key: 'total_steps', unit: 'step' },
  { key: 'num_steps', unit: 'step' },
];

function progressOf(run: Run) {
  for (const { key, unit } of totalParams) {
    const total = Number(run.data.params.find((p) => p.key === key)?.value);
    if (!Number.isFinite(total) || total <= 0) continue;
    const current =
      unit === 'epoch'
        ? (run.data.metrics.find((m) => m.key === 'epoch')?.value ??
          Math.max(-1, ...run.data.metrics.map((m) => m.step)) + 1)
        : Math.max(0, ...run.data.metrics.map((m) => m.step));
    if (!Number.isFinite(current) || current < 0) continue;
    return { current, total, unit, fraction: Math.min(1, Math.round((current / total) * 1000) / 1000) };
  }
  return null;
}

const listActiveRuns = defineMlflowTool({
  name: 'mlflow_list_active_runs',
  title: 'What is running now',
  description:
    'Runs in RUNNING state across experiments, with progress where known (epochs/max_steps params against ' +
    'the latest step), the age of the last logged metric, and a `quiet` flag for runs that logged nothing ' +
    'for longer than `quiet_after_minutes` (possibly hung).',
  toolset: 'runs',
  input: z.object({
    experiments: experimentRefs,
    quiet_after_minutes: z
      .number()
      .positive()
      .default(30)
      .describe('Flag a run as quiet when its last metric is older than this (default 30)'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(10)
      .describe('At most this many runs, newest first (default 10)'),
  }),
  output: z.object({
    runs: z.array(
      z.object({
        runId: z.string(),
        runName: z.string().nullable(),
        experimentName: z.string(),
        runningMinutes: z.number().nullable(),
        minutesSinceLastMetric: z.number().nullable(),
        latestStep: z.number().nullable(),
        progress: z
          .object({ current: z.number(), total: z.number(), unit: z.string(), fraction: z.number() })
          .nullable(),
        quiet: z.boolean(),
      }),
    ),
    running: z.number().describe('Running runs shown'),
    quiet: z.number().describe('Of those, how many went quiet'),
    more: z.boolean().describe('More running runs exist beyond `limit`'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'List experiments with mlflow_list_experiments.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const experiments = await resolveExperiments(client, input.experiments, ctx.signal);
    const names = new Map(experiments.map((e) => [e.experiment_id, e.name]));
    if (experiments.length === 0) return { structured: { runs: [], running: 0, quiet: 0, more: false } };
    const page = await client.searchRuns({
      experimentIds: [...names.keys()],
      filter: "attributes.status = 'RUNNING'",
      orderBy: ['attributes.start_time DESC'],
      maxResults: input.limit,
      signal: ctx.signal,
    });
    const now = deps.now();
    const quietMs = input.quiet_after_minutes * 60_000;
    const runs = page.items.map((run) => {
      const lastMetric = run.data.metrics.reduce((t, m) => Math.max(t, m.timestamp), 0);
      const sinceMs = lastMetric > 0 ? now - lastMetric : null;
      const startedMs = run.info.start_time ? now - run.info.start_time : 0;
      const quiet = sinceMs === null ? startedMs > quietMs : sinceMs > quietMs;
      return {
        runId: run.info.run_id,
        runName: run.info.run_name ?? null,
        experimentName: names.get(run.info.experiment_id) ?? run.info.experiment_id,
        runningMinutes: run.info.start_time ? Math.round(startedMs / 60_000) : null,
        minutesSinceLastMetric: sinceMs === null ? null : Math.round(sinceMs / 6000) / 10,
        latestStep: run.data.metrics.length ? Math.max(...run.data.metrics.map((m) => m.step)) : null,
        progress: progressOf(run),
        quiet,
      };
    });
    const quietCount = runs.filter((r) => r.quiet).length;
    const lines = runs.map(
      (r) =>
        `${r.quiet ? 'QUIET ' : ''}${r.runId} ${r.runName ?? ''} [${r.experimentName}] ` +
        `${r.progress ? `${r.progress.current}/${r.progress.total} ${r.progress.unit}s ` : ''}` +
        `last metric ${r.minutesSinceLastMetric === null ? 'never' : `${r.minutesSinceLastMetric} min ago`}`,
    );
    return {
      structured: { runs, running: runs.length, quiet: quietCount, more: page.nextPageToken !== undefined },
      text:
        runs.length === 0
          ? 'Nothing is running.'
          : `${runs.length} running${quietCount ? `, ${quietCount} quiet` : ''}:\n${lines.join('\n')}`,
    };
  },
});

/** MLflow cannot match run-id prefixes server-side; this bounds the client-side scan. */
const maxScan = 20_000;

const findRun = defineMlflowTool({
  name: 'mlflow_find_run',
  title: 'Find a run',
  description:
    'Finds runs in one call: by full or partial run id, by run name (exact or partial), or the latest run ' +
    "with a status (e.g. the latest FAILED run in experiment 'detector'). Best matches first.",
  toolset: 'runs',
  input: z.object({
    query: z.string().min(1).optional().describe('A full or partial run id, or a full or partial run name'),
    experiment: z.string().optional().describe('Experiment name or id to look in; omit for all'),
    status: statusEnum.optional().describe('Only runs with this status'),
    limit: z.number().int().min(1).max(20).default(5).describe('At most this many matches (default 5)'),
  }),
  output: z.object({
    matches: z.array(runRowSchema.extend({ matchedBy: z.string() })),
    runsScanned: z.number(),
    experimentsSearched: z.number(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'List experiments with mlflow_list_experiments.' },
  async handler(input, deps, ctx) {
    if (!input.query && !input.status && !input.experiment)
      throw new ToolError('invalid_input', 'Give a query (run id or name), a status, or an experiment.');
    const client = deps.mlflow();
    const now = deps.now();
    const query = input.query?.trim();
    if (query && /^[0-9a-f]{32}$/i.test(query)) {
      try {
        const run = await client.getRun(query.toLowerCase(), { signal: ctx.signal });
        return {
          structured: {
            matches: [{ ...runRow(run, now), matchedBy: 'run id' }],
            runsScanned: 1,
            experimentsSearched: 0,
          },
        };
      } catch {
        // Not a run id after all (a name that looks like one): fall through to the search.
      }
    }
    const experiments = await resolveExperiments(
      client,
      input.experiment ? [input.experiment] : undefined,
      ctx.signal,
    );
    const ids = experiments.map((e) => e.experiment_id);
    if (ids.length === 0) throw notFound('any experiment', [], 'Log a run to MLflow first.');
    const statusFilter = input.status ? `attributes.status = '${input.status}'` : undefined;
    const and = (...parts: Array<string | undefined>) => parts.filter(Boolean).join(' and ') || undefined;
    const matches = new Map<string, { run: Run; rank: number; matchedBy: string }>();
    let scanned = 0;
    const consider = (run: Run, rank: number, matchedBy: string) => {
      const known = matches.get(run.info.run_id);
      if (!known || known.rank > rank) matches.set(run.info.run_id, { run, rank, matchedBy });
    };
    if (query) {
      const escaped = query.replaceAll("'", "\\'");
      const byName = await client.searchRuns({
        experimentIds: ids,
        filter: and(`attributes.run_name ILIKE '%${escaped}%'`, statusFilter),
        orderBy: ['attributes.start_time DESC'],
        maxResults: 50,
        signal: ctx.signal,
      });
      scanned += byName.items.length;
      for (const run of byName.items) {
        const name = (run.info.run_name ?? '').toLowerCase();
        consider(
          run,
          name === query.toLowerCase() ? 1 : 3,
          name === query.toLowerCase() ? 'run name' : 'partial run name',
        );
      }
      // MLflow's grammar has no prefix match on run ids: scan recent runs (bounded).
      if (/^[0-9a-f]{4,31}$/i.test(query)) {
        const prefix = query.toLowerCase();
        for await (const run of client.iterateRuns({
          experimentIds: ids,
          filter: statusFilter,
          orderBy: ['attributes.start_time DESC'],
          maxResults: 1000,
          signal: ctx.signal,
        })) {
          scanned++;
          if (run.info.run_id.startsWith(prefix)) consider(run, 2, 'run id prefix');
          else if (run.info.run_id.includes(prefix)) consider(run, 4, 'partial run id');
          if (scanned >= maxScan) break;
        }
      }
    } else {
      const latest = await client.searchRuns({
        experimentIds: ids,
        filter: statusFilter,
        orderBy: ['attributes.start_time DESC'],
        maxResults: input.limit,
        signal: ctx.signal,
      });
      scanned += latest.items.length;
      for (const [i, run] of latest.items.entries())
        consider(run, 10 + i, input.status ? `latest ${input.status} run` : 'latest run');
    }
    const ordered = [...matches.values()]
      .sort((a, b) => a.rank - b.rank || (b.run.info.start_time ?? 0) - (a.run.info.start_time ?? 0))
      .slice(0, input.limit);
    if (ordered.length === 0) {
      const where = input.experiment ? `experiment "${input.experiment}"` : `${ids.length} experiment(s)`;
      throw new ToolError(
        'not_found',
        `No run matches ${query ? `"${query}"` : ''}${input.status ? ` with status ${input.status}` : ''} in ${where} ` +
          `(${scanned} runs checked). Try a shorter part of the name or id, drop the status, or list runs with mlflow_search_runs.`,
      );
    }
    return {
      structured: {
        matches: ordered.map((m) => ({ ...runRow(m.run, now), matchedBy: m.matchedBy })),
        runsScanned: scanned,
        experimentsSearched: ids.length,
      },
      text: ordered
        .map((m) => `${m.run.info.run_id} ${m.run.info.run_name ?? ''} ${m.run.info.status} (${m.matchedBy})`)
        .join('\n'),
    };
  },
});

const setRunTag = defineMlflowTool({
  name: 'mlflow_set_run_tag',
  title: 'Set a run tag',
  description:
    "Sets a tag on a run (e.g. a review note or 'suspect: data leak'). Reversible: setting it again " +
    "overwrites. MLflow's own mlflow.* tags are refused, except mlflow.note.content (the run's description).",
  toolset: 'runs',
  input: z.object({
    run_id: runIdInput,
    key: z.string().min(1).max(250).describe('Tag key'),
    value: z.string().max(5000).describe('Tag value'),
  }),
  output: z.object({
    runId: z.string(),
    key: z.string(),
    value: z.string(),
    previousValue: z.string().nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: {
    notFound: 'Find the run with mlflow_find_run.',
    invalid: 'Tag keys may hold letters, digits, _ - . / and spaces.',
  },
  async handler(input, deps, ctx) {
    if (input.key.startsWith('mlflow.') && input.key !== 'mlflow.note.content') {
      throw new ToolError(
        'invalid_input',
        `Tag ${input.key} is reserved by MLflow; choose a key without the "mlflow." prefix (or mlflow.note.content for the description).`,
      );
    }
    const client = deps.mlflow();
    const run = await client.getRun(input.run_id, { signal: ctx.signal });
    const previousValue = tagValue(run, input.key) ?? null;
    await client.setRunTag(input.run_id, input.key, input.value, { signal: ctx.signal });
    return {
      structured: { runId: input.run_id, key: input.key, value: input.value, previousValue },
      text: `Tagged run ${input.run_id}: ${input.key}=${input.value}${previousValue !== null ? ` (was ${previousValue})` : ''}.`,
    };
  },
});

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return Number.isInteger(value) ? String(value) : value.toPrecision(5);
}

/** Experiments and runs: listing, searching, finding, what is running, tagging. */
export const runTools = [listExperiments, searchRuns, getRun, listActiveRuns, findRun, setRunTag];
