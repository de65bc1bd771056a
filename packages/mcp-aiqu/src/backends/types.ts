/**
 * The job model and the backend contract every queue implements (local machine, Kubernetes,
 * Slurm). Tools, the sweep controller and the state store speak only these types, so a backend
 * is one file that maps them onto its engine.
 *
 * Backends throw `ToolError` (from @nightshift/mcp-kit) for expected failures: `not_found` for an
 * unknown job, `refused` for resources beyond capacity, `unavailable`/`timeout` when the engine
 * does not answer, `permission_denied` when credentials are not enough.
 */
import { z } from 'zod';

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'stopped'] as const;
export const jobStatusSchema = z.enum(jobStatuses).describe('Lifecycle state of a job');
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** States a job does not leave. */
export const terminalStatuses: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'stopped']);

export function isTerminal(status: JobStatus): boolean {
  return terminalStatuses.has(status);
}

/**
 * Why a job ended (or is stuck), normalised across engines. `reasonDetail` keeps the engine's own
 * words (e.g. Kubernetes `ImagePullBackOff`, Slurm `OUT_OF_MEMORY`).
 */
export const jobReasons = [
  'completed',
  'nonzero_exit',
  'oom_killed',
  'cuda_oom',
  'evicted',
  'image_pull_failure',
  'timeout',
  'node_failure',
  'cancelled',
  'preempted',
  'start_failure',
  'lost',
  'unschedulable',
  'unknown',
] as const;
export const jobReasonSchema = z
  .enum(jobReasons)
  .describe(
    'Normalised reason: completed, nonzero_exit, oom_killed (host/kernel OOM kill), cuda_oom (GPU out of memory), evicted, image_pull_failure, timeout, node_failure, cancelled (stopped on request), preempted, start_failure, lost (tracking lost), unschedulable, unknown',
  );
export type JobReason = z.infer<typeof jobReasonSchema>;

export const configRefSchema = z
  .object({
    repo: z.string().min(1).describe('Training-config repository (name or URL)'),
    path: z.string().min(1).describe('Path of the config file inside the repository'),
    commit: z.string().min(1).optional().describe('Commit (or ref) the job trains from'),
  })
  .describe('Which training config a job runs');
export type ConfigRef = z.infer<typeof configRefSchema>;

export const resourcesSchema = z
  .object({
    gpus: z.number().int().min(0).describe('GPUs requested'),
    cpus: z.number().min(0).describe('CPU cores requested'),
    memoryMiB: z.number().int().min(0).optional().describe('Memory requested, MiB'),
  })
  .describe('Resources a job requests');
export type Resources = z.infer<typeof resourcesSchema>;

const labelsSchema = z.record(z.string(), z.string()).describe('Free-form key/value labels');

/**
 * What to run: everything needed to run the job again (requeue submits the same spec as a new
 * attempt). Exactly one of `command` (local, Slurm) or `image` (+ optional `command`, Kubernetes)
 * is what a backend needs; a backend refuses a spec it cannot run.
 */
export const jobSpecSchema = z.object({
  name: z.string().min(1).max(200).describe('Human name, e.g. customer-a/weld-defect-v4'),
  template: z.string().optional().describe('Template the job was submitted from'),
  command: z.array(z.string()).optional().describe('argv to run (first element is the program)'),
  image: z.string().optional().describe('Container image (container backends)'),
  workingDir: z.string().optional().describe('Working directory of the command'),
  env: z.record(z.string(), z.string()).default({}).describe('Extra environment (no secrets)'),
  params: z
    .record(z.string(), z.string())
    .default({})
    .describe(
      'Training parameters; exported as NIGHTSHIFT_PARAM_<KEY> and substituted for {{key}} in command',
    ),
  configRef: configRefSchema.optional(),
  resources: resourcesSchema,
  priority: z.number().int().default(0).describe('Higher runs first among queued jobs'),
  labels: labelsSchema.default({}),
  timeoutSeconds: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Wall-clock limit; exceeding it stops the job'),
});
export type JobSpec = z.infer<typeof jobSpecSchema>;
export type JobSpecInput = z.input<typeof jobSpecSchema>;

/** A job as every backend reports it. Timestamps are ISO 8601 strings (UTC). */
export const jobSchema = jobSpecSchema.extend({
  id: z.string().describe('Job id, unique across backends'),
  backend: z.string().describe('Backend instance running it (e.g. local, kubernetes, slurm)'),
  cluster: z.string().describe('Cluster / machine the job ran on (kube context, Slurm cluster, host)'),
  status: jobStatusSchema,
  createdAt: z.string().describe('When the job was submitted'),
  startedAt: z.string().optional().describe('When it started running'),
  endedAt: z.string().optional().describe('When it ended'),
  exitCode: z.number().int().optional().describe('Process exit code (128+N for signal N)'),
  reason: jobReasonSchema.optional(),
  reasonDetail: z.string().optional().describe("The engine's own words about the reason"),
  attempt: z.number().int().min(1).describe('1 for the first run; requeue adds one'),
  previousAttemptId: z.string().optional().describe('Job id of the attempt this one requeued'),
  mlflowRunId: z.string().optional().describe('MLflow run id, when the job reported one'),
  nativeId: z.string().optional().describe("The engine's id (pid, Kubernetes Job name, Slurm job id)"),
});
export type Job = z.infer<typeof jobSchema>;

/** Filters for listing jobs; every field narrows (AND). */
export interface JobFilter {
  status?: readonly JobStatus[];
  /** Case-insensitive substring of the name; a trailing `*` makes it a prefix match. */
  name?: string;
  /** Every pair must match exactly. */
  labels?: Readonly<Record<string, string>>;
  cluster?: string;
}

/** A keyset position: jobs are listed newest first by (createdAt, id). */
export interface ListPosition {
  createdAt: string;
  id: string;
}

export interface ListQuery {
  filter: JobFilter;
  limit: number;
  /** Return only jobs strictly after this position in (createdAt desc, id desc) order. */
  after?: ListPosition;
  signal?: AbortSignal;
}

export interface ListResult {
  jobs: Job[];
  /** How many jobs match the filter in total (ignoring `after` and `limit`), when cheap to know. */
  total?: number;
}

export interface LogQuery {
  /** Only the last N lines (the tool greps and extracts errors on top of what comes back). */
  tailLines: number;
  signal?: AbortSignal;
}

export interface JobLogs {
  lines: string[];
  /**
   * 1-based line number of `lines[0]` in the whole log. When the backend cannot know it (a pod log
   * longer than the tail), lines are numbered from the tail's start and `totalLines` is absent.
   */
  firstLineNumber: number;
  /** Lines in the whole log, when known. */
  totalLines?: number;
  /** Where the lines came from (a file path, a pod name). */
  source: string;
}

export interface SubmitOptions {
  attempt?: number;
  previousAttemptId?: string;
  /** Target cluster for multi-cluster backends; the backend's default when absent. */
  cluster?: string;
  signal?: AbortSignal;
}

/** Overrides a requeue may apply to the previous attempt's spec. */
export interface SpecOverrides {
  params?: Record<string, string>;
  resources?: Partial<Resources>;
  configRef?: Partial<ConfigRef>;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  priority?: number;
  image?: string;
  cluster?: string;
}

export const gpuUseSchema = z.object({
  index: z.number().int().describe('GPU index (or slot number)'),
  name: z.string().optional().describe('Model name, when known'),
  jobId: z.string().optional().describe('Job holding it'),
});

export const queueStatusSchema = z.object({
  backend: z.string().describe('Backend instance'),
  cluster: z.string().describe('Cluster / machine'),
  reachable: z.boolean().describe('False when the engine did not answer'),
  error: z.string().optional().describe('Why it is unreachable'),
  capacity: z
    .object({
      gpus: z.number().int().describe('GPUs (or GPU slots) in total'),
      cpus: z.number().describe('CPU slots in total'),
      memoryMiB: z.number().int().optional().describe('Memory in total, when known'),
    })
    .describe('What the queue can run at once'),
  inUse: z.object({
    gpus: z.number().int().describe('GPUs held by running jobs'),
    cpus: z.number().describe('CPUs held by running jobs'),
  }),
  running: z.number().int().describe('Running jobs'),
  queued: z.number().int().describe('Queued jobs'),
  gpus: z.array(gpuUseSchema).describe('Per-GPU use, when the backend knows it'),
  queue: z.string().optional().describe('Admission queue (e.g. Kueue LocalQueue), when configured'),
  note: z.string().optional().describe('What could not be determined, and why'),
});
export type QueueStatus = z.infer<typeof queueStatusSchema>;

/** The status of a queue whose engine did not answer: nothing known but why. */
export function unreachableStatus(backend: string, cluster: string, error: unknown): QueueStatus {
  return {
    backend,
    cluster,
    reachable: false,
    error: error instanceof Error ? error.message : String(error),
    capacity: { gpus: 0, cpus: 0 },
    inUse: { gpus: 0, cpus: 0 },
    running: 0,
    queued: 0,
    gpus: [],
  };
}

/**
 * One queue engine. Implementations: `local` (embedded), `kubernetes`, `slurm`. A backend
 * instance may serve several clusters (Kubernetes contexts); each job records its `cluster`.
 */
export interface JobBackend {
  /** Instance name from config (usually the kind: `local`, `kubernetes`, `slurm`). */
  readonly name: string;
  readonly kind: 'local' | 'kubernetes' | 'slurm';
  /** Clusters this backend submits to; the first is the default. */
  readonly clusters: readonly string[];
  /** Whether `id` is one of this backend's job ids (ids carry a backend-specific shape). */
  owns(id: string): boolean;
  /** Starts or enqueues a job; refuses (ToolError `refused`) what can never fit. */
  submit(spec: JobSpec, options?: SubmitOptions): Promise<Job>;
  list(query: ListQuery): Promise<ListResult>;
  /** Throws ToolError `not_found` for an unknown id. */
  get(id: string, signal?: AbortSignal): Promise<Job>;
  logs(id: string, query: LogQuery): Promise<JobLogs>;
  /** Stops a queued or running job (status `stopped`, reason `cancelled`); a no-op on an ended job. */
  stop(id: string, signal?: AbortSignal): Promise<Job>;
  /** Submits the job's spec again as attempt + 1, with overrides applied. */
  requeue(id: string, overrides?: SpecOverrides, signal?: AbortSignal): Promise<Job>;
  queueStatus(signal?: AbortSignal): Promise<QueueStatus[]>;
  close(): Promise<void>;
}

/** Applies requeue overrides to a spec; shared by every backend's `requeue`. */
export function applyOverrides(spec: JobSpec, overrides: SpecOverrides = {}): JobSpec {
  const next: JobSpec = {
    ...spec,
    params: { ...spec.params, ...overrides.params },
    env: { ...spec.env, ...overrides.env },
    labels: { ...spec.labels, ...overrides.labels },
    resources: { ...spec.resources, ...stripUndefined(overrides.resources ?? {}) },
  };
  if (overrides.configRef) {
    const merged = { ...spec.configRef, ...stripUndefined(overrides.configRef) };
    if (merged.repo && merged.path) next.configRef = merged as ConfigRef;
  }
  if (overrides.priority !== undefined) next.priority = overrides.priority;
  if (overrides.image !== undefined) next.image = overrides.image;
  return next;
}

/** Extracts the spec part of a job (what requeue resubmits). */
export function specOf(job: Job): JobSpec {
  const spec: JobSpec = {
    name: job.name,
    env: job.env,
    params: job.params,
    resources: job.resources,
    priority: job.priority,
    labels: job.labels,
  };
  if (job.template !== undefined) spec.template = job.template;
  if (job.command !== undefined) spec.command = job.command;
  if (job.image !== undefined) spec.image = job.image;
  if (job.workingDir !== undefined) spec.workingDir = job.workingDir;
  if (job.configRef !== undefined) spec.configRef = job.configRef;
  if (job.timeoutSeconds !== undefined) spec.timeoutSeconds = job.timeoutSeconds;
  return spec;
}

/** Does a job pass a filter? Backends that filter in memory share this. */
export function matchesFilter(job: Job, filter: JobFilter): boolean {
  if (filter.status && filter.status.length > 0 && !filter.status.includes(job.status)) return false;
  if (filter.cluster && job.cluster !== filter.cluster) return false;
  if (filter.name) {
    const wanted = filter.name.toLowerCase();
    const name = job.name.toLowerCase();
    if (wanted.endsWith('*') ? !name.startsWith(wanted.slice(0, -1)) : !name.includes(wanted)) return false;
  }
  if (filter.labels) {
    for (const [key, value] of Object.entries(filter.labels)) if (job.labels[key] !== value) return false;
  }
  return true;
}

/** Newest first by (createdAt, id): the order every `list` returns. */
export function compareJobs(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** True when `job` comes strictly after `position` in list order. */
export function isAfter(job: ListPosition, position: ListPosition): boolean {
  return compareJobs(job, position) > 0;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
