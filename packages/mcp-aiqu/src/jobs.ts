import { decodeCursor, encodeCursor, notFound, ToolError } from '@nightshift/mcp-kit';
import {
  type ConfigRef,
  compareJobs,
  type Job,
  type JobBackend,
  type JobFilter,
  type JobSpec,
  jobSpecSchema,
  type ListPosition,
  type Resources,
  type SpecOverrides,
} from './backends/types.ts';
import { type AiquFile, type Template, templateHelp } from './config.ts';

export interface SubmitRequest {
  template: string;
  name?: string | undefined;
  configRef?: Partial<ConfigRef> | undefined;
  params?: Record<string, string> | undefined;
  resources?: Partial<Resources> | undefined;
  labels?: Record<string, string> | undefined;
  priority?: number | undefined;
  backend?: string | undefined;
  cluster?: string | undefined;
}

export interface JobPage {
  jobs: Job[];
  total?: number;
  nextCursor?: string;
}

/**
 * The one place that knows several backends exist: routes a job id to its backend, merges
 * lists across backends in one order, and turns a template plus overrides into a job spec.
 */
export class JobService {
  readonly backends: readonly JobBackend[];
  private readonly file: AiquFile;

  constructor(backends: readonly JobBackend[], file: AiquFile) {
    if (backends.length === 0)
      throw new Error('no backend is enabled; enable local or kubernetes in the config');
    this.backends = backends;
    this.file = file;
  }

  get templates(): Readonly<Record<string, Template>> {
    return this.file.templates;
  }

  backend(name?: string): JobBackend {
    const wanted = name ?? this.file.defaultBackend ?? this.backends[0]?.name;
    const found = this.backends.find((b) => b.name === wanted);
    if (!found) {
      throw notFound(
        `backend ${wanted}`,
        this.backends.map((b) => b.name),
        'Enable it under backends: in NIGHTSHIFT_AIQU_CONFIG.',
      );
    }
    return found;
  }

  /** The backend that owns a job id; unknown shapes list what ids look like. */
  owner(id: string): JobBackend {
    const found = this.backends.find((b) => b.owns(id));
    if (!found) {
      throw new ToolError(
        'not_found',
        `job ${id} not found: no backend (${this.backends.map((b) => b.name).join(', ')}) has ids like it. List jobs with aiqu_list_jobs.`,
      );
    }
    return found;
  }

  /** Newest first across backends; the cursor is the (createdAt, id) of the last job returned. */
  async list(
    filter: JobFilter,
    options: {
      limit: number;
      cursor?: string | undefined;
      backend?: string | undefined;
      signal?: AbortSignal;
    },
  ): Promise<JobPage> {
    const after = options.cursor ? positionFrom(options.cursor) : undefined;
    const backends = options.backend ? [this.backend(options.backend)] : this.backends;
    const results = await Promise.all(
      backends.map((b) =>
        b.list({
          filter,
          limit: options.limit + 1,
          ...(after ? { after } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      ),
    );
    const merged = results.flatMap((r) => r.jobs).sort(compareJobs);
    const jobs = merged.slice(0, options.limit);
    const totals = results.map((r) => r.total);
    const page: JobPage = { jobs };
    if (totals.every((t) => t !== undefined)) page.total = totals.reduce((a, b) => (a ?? 0) + (b ?? 0), 0);
    const last = jobs.at(-1);
    if (merged.length > options.limit && last)
      page.nextCursor = encodeCursor({ createdAt: last.createdAt, id: last.id });
    return page;
  }

  /** Builds a spec from a template and overrides, then submits it to the template's backend. */
  async submit(request: SubmitRequest, signal?: AbortSignal): Promise<Job> {
    const names = Object.keys(this.file.templates);
    if (names.length === 0) {
      throw new ToolError('not_configured', `No job templates are configured. ${templateHelp}`);
    }
    const template = this.file.templates[request.template];
    if (!template) throw notFound(`template ${request.template}`, names, 'See aiqu_list_templates.');
    const backend = this.backend(request.backend ?? template.backend);
    const spec = buildSpec(request, template, this.file.defaults.resources);
    return backend.submit(spec, {
      ...(request.cluster ? { cluster: request.cluster } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  async requeue(id: string, overrides: SpecOverrides, signal?: AbortSignal): Promise<Job> {
    return this.owner(id).requeue(id, overrides, signal);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.backends.map((b) => b.close()));
  }
}

export function buildSpec(request: SubmitRequest, template: Template, defaults: Partial<Resources>): JobSpec {
  const configRef = { ...template.configRef, ...stripUndefined(request.configRef ?? {}) };
  if ((configRef.repo || configRef.path) && !(configRef.repo && configRef.path)) {
    throw new ToolError(
      'invalid_input',
      `A config reference needs both repo and path (got repo=${configRef.repo ?? '-'}, path=${configRef.path ?? '-'}).`,
    );
  }
  const parsed = jobSpecSchema.safeParse({
    name: request.name ?? (configRef.path ? nameFromPath(configRef.path) : request.template),
    template: request.template,
    command: template.command,
    image: template.image,
    workingDir: template.workingDir,
    env: template.env,
    params: { ...template.params, ...request.params },
    configRef: configRef.repo && configRef.path ? configRef : undefined,
    resources: {
      gpus: 0,
      cpus: 1,
      ...stripUndefined(defaults),
      ...stripUndefined(template.resources ?? {}),
      ...stripUndefined(request.resources ?? {}),
    },
    priority: request.priority ?? template.priority,
    labels: { ...template.labels, ...request.labels },
    timeoutSeconds: template.timeoutSeconds,
  });
  if (!parsed.success) {
    throw new ToolError(
      'invalid_input',
      `The job spec is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** `customer-a/weld-defect-v4/train_cfg.yaml` → `customer-a/weld-defect-v4`. */
function nameFromPath(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length > 1 ? parts.slice(0, -1).join('/') : (parts[0] ?? path);
}

function positionFrom(cursor: string): ListPosition {
  const state = decodeCursor<{ createdAt?: unknown; id?: unknown }>(cursor);
  if (typeof state.createdAt !== 'string' || typeof state.id !== 'string') {
    throw new ToolError(
      'invalid_input',
      'The cursor is not one this server issued; repeat the call without a cursor.',
    );
  }
  return { createdAt: state.createdAt, id: state.id };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
