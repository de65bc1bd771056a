import { z } from 'zod';
import {
  jobReasonSchema,
  jobSchema,
  jobStatuses,
  type QueueStatus,
  queueStatusSchema,
  unreachableStatus,
} from '../backends/types.ts';
import { type AiquDeps, backendCall, defineAiquTool } from '../deps.ts';
import { extractErrors, grepLines } from '../log-analysis.ts';

const jobSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(jobStatuses),
  backend: z.string(),
  cluster: z.string(),
  attempt: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  exitCode: z.number().int().optional(),
  reason: jobReasonSchema.optional(),
  reasonDetail: z.string().optional(),
  resources: z.object({ gpus: z.number(), cpus: z.number(), memoryMiB: z.number().optional() }),
  labels: z.record(z.string(), z.string()),
  mlflowRunId: z.string().optional(),
});

type JobSummary = z.infer<typeof jobSummarySchema>;

/** The summary's fields, read from its schema so the two cannot drift apart. */
const summaryFields = Object.keys(jobSummarySchema.shape) as Array<keyof JobSummary>;

function summarize(job: z.infer<typeof jobSchema>): JobSummary {
  return Object.fromEntries(
    summaryFields.filter((field) => job[field] !== undefined).map((field) => [field, job[field]]),
  ) as JobSummary;
}

function oneLine(job: JobSummary): string {
  const reason =
    job.reason && job.reason !== 'completed'
      ? ` (${job.reason}${job.exitCode !== undefined ? `, exit ${job.exitCode}` : ''})`
      : '';
  return `${job.id}  ${job.status}${reason}  ${job.name}  attempt ${job.attempt}  ${job.backend}/${job.cluster}  created ${job.createdAt}`;
}

function durationSeconds(job: {
  startedAt?: string | undefined;
  endedAt?: string | undefined;
}): number | undefined {
  if (!job.startedAt) return undefined;
  const end = job.endedAt ? Date.parse(job.endedAt) : Date.now();
  return Math.max(0, Math.round((end - Date.parse(job.startedAt)) / 1000));
}

const listJobs = defineAiquTool({
  name: 'aiqu_list_jobs',
  title: 'List jobs',
  description:
    'Lists training jobs newest first across the enabled backends, filtered by status, name and labels. Returns one summary per job (status, reason, exit code, timing) and a cursor for the next page. Use aiqu_get_job for one job in full.',
  toolset: 'jobs',
  input: z.object({
    status: z.array(z.enum(jobStatuses)).optional().describe('Only jobs in these states'),
    name: z
      .string()
      .optional()
      .describe('Case-insensitive substring of the job name; end with * for a prefix match (customer-a/*)'),
    labels: z.record(z.string(), z.string()).optional().describe('Only jobs with all of these label values'),
    backend: z.string().optional().describe('Only this backend (local, kubernetes, …)'),
    cluster: z.string().optional().describe('Only jobs on this cluster'),
    limit: z.number().int().min(1).max(100).default(20).describe('Jobs per page (1-100)'),
    cursor: z.string().optional().describe('nextCursor from a previous call, to continue'),
  }),
  output: z.object({
    jobs: z.array(jobSummarySchema),
    total: z.number().int().optional().describe('Jobs matching the filters in all pages'),
    nextCursor: z.string().optional().describe('Pass back as cursor for the next page'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps, ctx) {
    const page = await backendCall(deps, 'listing jobs', ctx.signal, (signal) =>
      deps.jobs.list(
        {
          ...(input.status ? { status: input.status } : {}),
          ...(input.name ? { name: input.name } : {}),
          ...(input.labels ? { labels: input.labels } : {}),
          ...(input.cluster ? { cluster: input.cluster } : {}),
        },
        { limit: input.limit, cursor: input.cursor, backend: input.backend, signal },
      ),
    );
    const jobs = page.jobs.map(summarize);
    const head =
      jobs.length === 0
        ? 'No jobs match.'
        : `${jobs.length} job(s)${page.total !== undefined ? ` of ${page.total}` : ''}:`;
    const more = page.nextCursor ? `\nMore: call again with cursor "${page.nextCursor}".` : '';
    return {
      structured: {
        jobs,
        ...(page.total !== undefined ? { total: page.total } : {}),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      },
      text: `${head}\n${jobs.map(oneLine).join('\n')}${more}`,
    };
  },
});

const logLineSchema = z.object({ n: z.number().int().describe('1-based line number'), text: z.string() });

const getJob = defineAiquTool({
  name: 'aiqu_get_job',
  title: 'Get a job',
  description:
    'Shows one job in full: spec (command or image, config reference, params, resources, labels), status, timing, exit code and reason, attempt, MLflow run id, and the last log lines.',
  toolset: 'jobs',
  input: z.object({
    id: z.string().min(1).describe('Job id, e.g. local-000042 (from aiqu_list_jobs)'),
    logLines: z
      .number()
      .int()
      .min(0)
      .max(200)
      .default(20)
      .describe('How many last log lines to include (0-200)'),
  }),
  output: z.object({
    job: jobSchema,
    durationSeconds: z.number().int().optional().describe('Run time so far or in total'),
    logTail: z.array(logLineSchema).describe('Last log lines'),
    logNote: z.string().optional().describe('Why the log is missing, when it is'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps, ctx) {
    const backend = deps.jobs.owner(input.id);
    const job = await backendCall(deps, `backend ${backend.name}`, ctx.signal, (signal) =>
      backend.get(input.id, signal),
    );
    let logTail: Array<{ n: number; text: string }> = [];
    let logNote: string | undefined;
    if (input.logLines > 0) {
      try {
        const logs = await backendCall(deps, `logs of ${input.id}`, ctx.signal, (signal) =>
          backend.logs(input.id, { tailLines: input.logLines, signal }),
        );
        logTail = logs.lines.map((text, i) => ({ n: logs.firstLineNumber + i, text }));
      } catch (error) {
        logNote = (error as Error).message;
      }
    }
    const duration = durationSeconds(job);
    const summary = summarize(job);
    const lines = [
      oneLine(summary),
      job.reasonDetail ? `reason: ${job.reasonDetail}` : undefined,
      job.command ? `command: ${job.command.join(' ')}` : undefined,
      job.image ? `image: ${job.image}` : undefined,
      job.configRef
        ? `config: ${job.configRef.repo}:${job.configRef.path}${job.configRef.commit ? `@${job.configRef.commit}` : ''}`
        : undefined,
      `resources: ${job.resources.gpus} GPU, ${job.resources.cpus} CPU${job.resources.memoryMiB ? `, ${job.resources.memoryMiB} MiB` : ''}`,
      duration !== undefined ? `duration: ${duration} s` : undefined,
      job.mlflowRunId ? `mlflow run: ${job.mlflowRunId}` : undefined,
      logTail.length > 0
        ? `last log lines:\n${logTail.map((l) => `${l.n}: ${l.text}`).join('\n')}`
        : undefined,
      logNote ? `log: ${logNote}` : undefined,
    ].filter(Boolean);
    return {
      structured: {
        job,
        ...(duration !== undefined ? { durationSeconds: duration } : {}),
        logTail,
        ...(logNote ? { logNote } : {}),
      },
      text: lines.join('\n'),
    };
  },
});

const errorKinds = [
  'traceback',
  'cuda_oom',
  'oom_killed',
  'nccl',
  'cuda_error',
  'crash',
  'nan',
  'error',
] as const;

const getJobLogs = defineAiquTool({
  name: 'aiqu_get_job_logs',
  title: 'Read job logs',
  description:
    "Reads a job's log: the last N lines, optionally only lines matching a pattern, or errorsOnly to extract tracebacks, CUDA out-of-memory, NCCL and CUDA errors, crashes and NaN losses with their line numbers. Start with errorsOnly for a failed job.",
  toolset: 'jobs',
  input: z.object({
    id: z.string().min(1).describe('Job id (from aiqu_list_jobs)'),
    tail: z
      .number()
      .int()
      .min(1)
      .max(2000)
      .default(100)
      .describe(
        'Last N lines to return (1-2000); with grep or errorsOnly, how many last lines to return from',
      ),
    grep: z.string().max(200).optional().describe('Case-insensitive regular expression; only matching lines'),
    errorsOnly: z
      .boolean()
      .default(false)
      .describe('Return only recognised failures (tracebacks, CUDA OOM, NCCL…)'),
  }),
  output: z.object({
    jobId: z.string(),
    source: z.string().describe('Where the log came from (file, pod)'),
    totalLines: z.number().int().optional().describe('Lines in the whole log, when known'),
    lines: z.array(logLineSchema).describe('The lines (tail, or grep matches)'),
    errors: z
      .array(z.object({ kind: z.enum(errorKinds), line: z.number().int(), text: z.string() }))
      .optional()
      .describe('Recognised failures, with the line each starts at (errorsOnly)'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps, ctx) {
    const backend = deps.jobs.owner(input.id);
    // Errors and grep look further back than what is shown, so a traceback above the tail is found.
    const scan = input.errorsOnly || input.grep ? Math.max(input.tail, 20_000) : input.tail;
    const logs = await backendCall(deps, `logs of ${input.id}`, ctx.signal, (signal) =>
      backend.logs(input.id, { tailLines: scan, signal }),
    );
    const base = {
      jobId: input.id,
      source: logs.source,
      ...(logs.totalLines !== undefined ? { totalLines: logs.totalLines } : {}),
    };
    if (input.errorsOnly) {
      const errors = extractErrors(logs.lines, logs.firstLineNumber).slice(-50);
      const text =
        errors.length === 0
          ? `No recognised errors in the last ${logs.lines.length} lines of ${input.id}.`
          : errors.map((e) => `[${e.kind}] line ${e.line}:\n${e.text}`).join('\n\n');
      return { structured: { ...base, lines: [], errors }, text };
    }
    let lines = logs.lines.map((text, i) => ({ n: logs.firstLineNumber + i, text }));
    if (input.grep) lines = grepLines(logs.lines, input.grep, logs.firstLineNumber);
    lines = lines
      .slice(-input.tail)
      .map((l) => ({ n: l.n, text: l.text.length > 2000 ? `${l.text.slice(0, 2000)}…` : l.text }));
    const text =
      lines.length === 0
        ? input.grep
          ? `No line matches /${input.grep}/i in the last ${logs.lines.length} lines.`
          : `The log of ${input.id} is empty so far.`
        : lines.map((l) => `${l.n}: ${l.text}`).join('\n');
    return { structured: { ...base, lines }, text };
  },
});

const getQueueStatus = defineAiquTool({
  name: 'aiqu_get_queue_status',
  title: 'Queue status',
  description:
    'Shows each backend and cluster: capacity (GPUs, CPUs), what is in use, running and queued job counts, which job holds which GPU, and whether the backend answered.',
  toolset: 'jobs',
  input: z.object({
    backend: z.string().optional().describe('Only this backend (local, kubernetes, …)'),
  }),
  output: z.object({ queues: z.array(queueStatusSchema) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps, ctx) {
    const backends = input.backend ? [deps.jobs.backend(input.backend)] : deps.jobs.backends;
    const queues: QueueStatus[] = (
      await Promise.all(
        backends.map(async (b) => {
          try {
            return await backendCall(deps, `backend ${b.name}`, ctx.signal, (signal) =>
              b.queueStatus(signal),
            );
          } catch (error) {
            return b.clusters.map((cluster) => unreachableStatus(b.name, cluster, error));
          }
        }),
      )
    ).flat();
    const text = queues
      .map((q) =>
        q.reachable
          ? `${q.backend}/${q.cluster}: ${q.running} running, ${q.queued} queued; GPUs ${q.inUse.gpus}/${q.capacity.gpus} in use, CPUs ${q.inUse.cpus}/${q.capacity.cpus}${q.queue ? `; queue ${q.queue}` : ''}`
          : `${q.backend}/${q.cluster}: unreachable (${q.error})`,
      )
      .join('\n');
    return { structured: { queues }, text };
  },
});

const listTemplates = defineAiquTool({
  name: 'aiqu_list_templates',
  title: 'List job templates',
  description:
    'Lists the job templates aiqu_submit_job accepts: name, backend, command or image, default config reference, params and resources.',
  toolset: 'jobs',
  input: z.object({}),
  output: z.object({
    templates: z.array(
      z.object({
        name: z.string(),
        description: z.string().optional(),
        backend: z.string(),
        command: z.array(z.string()).optional(),
        image: z.string().optional(),
        configRef: z
          .object({ repo: z.string().optional(), path: z.string().optional(), commit: z.string().optional() })
          .optional(),
        params: z.record(z.string(), z.string()),
        resources: z
          .object({
            gpus: z.number().optional(),
            cpus: z.number().optional(),
            memoryMiB: z.number().optional(),
          })
          .optional(),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_input, deps: AiquDeps) {
    const defaultBackend = deps.jobs.backend().name;
    const templates = Object.entries(deps.jobs.templates).map(([name, t]) => ({
      name,
      backend: t.backend ?? defaultBackend,
      params: t.params,
      ...(t.description ? { description: t.description } : {}),
      ...(t.command ? { command: t.command } : {}),
      ...(t.image ? { image: t.image } : {}),
      ...(t.configRef ? { configRef: t.configRef } : {}),
      ...(t.resources ? { resources: t.resources } : {}),
    }));
    const text =
      templates.length === 0
        ? 'No templates are configured; aiqu_submit_job needs one (templates: in NIGHTSHIFT_AIQU_CONFIG).'
        : templates
            .map((t) => `${t.name} (${t.backend}): ${t.command?.join(' ') ?? t.image ?? ''}`)
            .join('\n');
    return { structured: { templates }, text };
  },
});

export const jobTools = [listJobs, getJob, getJobLogs, getQueueStatus, listTemplates];
