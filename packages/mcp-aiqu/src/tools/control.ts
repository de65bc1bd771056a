import { z } from 'zod';
import { jobSchema } from '../backends/types.ts';
import { backendCall, defineAiquTool } from '../deps.ts';

const configRefOverride = z
  .object({
    repo: z.string().min(1).optional().describe('Config repository'),
    path: z.string().min(1).optional().describe('Config file path in the repository'),
    commit: z.string().min(1).optional().describe('Commit or ref to train from'),
  })
  .optional()
  .describe('Config reference; fields given replace the template’s');

const resourcesOverride = z
  .object({
    gpus: z.number().int().min(0).max(64).optional().describe('GPUs'),
    cpus: z.number().min(0).max(512).optional().describe('CPU cores'),
    memoryMiB: z.number().int().min(0).optional().describe('Memory, MiB'),
  })
  .optional()
  .describe('Resources; fields given replace the template’s');

const paramsInput = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(1000))
  .optional()
  .describe('Training parameters (strings), merged over the template’s; the job sees NIGHTSHIFT_PARAM_<KEY>');

// Reversible: a stopped job can be requeued and a submitted one stopped; no code or data changes.
const reversible = { readOnlyHint: false, destructiveHint: false, openWorldHint: true } as const;

function describeJob(verb: string, job: z.infer<typeof jobSchema>): string {
  return `${verb} ${job.id} (${job.name}, attempt ${job.attempt}) on ${job.backend}/${job.cluster}: ${job.status}${
    job.reason && job.reason !== 'completed' ? ` (${job.reason})` : ''
  }`;
}

const submitJob = defineAiquTool({
  name: 'aiqu_submit_job',
  title: 'Submit a job',
  description:
    'Submits a training job from a named template (see aiqu_list_templates) with optional overrides: config reference, params, resources, labels, priority. Returns the new job; it starts when resources are free. Refuses resources the backend can never provide.',
  toolset: 'control',
  input: z.object({
    template: z.string().min(1).describe('Template name from aiqu_list_templates'),
    name: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Job name; defaults to the config path’s folder or the template'),
    configRef: configRefOverride,
    params: paramsInput,
    resources: resourcesOverride,
    labels: z.record(z.string(), z.string()).optional().describe('Labels to add'),
    priority: z.number().int().min(-100).max(100).optional().describe('Higher runs first among queued jobs'),
    backend: z
      .string()
      .optional()
      .describe('Backend to submit to; the template’s or the default when absent'),
    cluster: z.string().optional().describe('Cluster (Kubernetes context) for multi-cluster backends'),
  }),
  output: z.object({ job: jobSchema }),
  annotations: { ...reversible, idempotentHint: false },
  async handler(input, deps, ctx) {
    const job = await backendCall(deps, 'submitting the job', ctx.signal, (signal) =>
      deps.jobs.submit(input, signal),
    );
    return { structured: { job }, text: describeJob('Submitted', job) };
  },
});

const stopJob = defineAiquTool({
  name: 'aiqu_stop_job',
  title: 'Stop a job',
  description:
    'Stops a queued or running job (SIGTERM, then SIGKILL after the grace period; on Kubernetes the Job is suspended and its pods deleted). Stopping an ended job changes nothing. Undo with aiqu_requeue_job.',
  toolset: 'control',
  input: z.object({ id: z.string().min(1).describe('Job id (from aiqu_list_jobs)') }),
  output: z.object({ job: jobSchema }),
  annotations: { ...reversible, idempotentHint: true },
  async handler(input, deps, ctx) {
    const backend = deps.jobs.owner(input.id);
    const job = await backendCall(deps, `stopping ${input.id}`, ctx.signal, (signal) =>
      backend.stop(input.id, signal),
    );
    const verb = job.status === 'running' ? 'Stopping (still running after the wait)' : 'Stopped';
    return { structured: { job }, text: describeJob(verb, job) };
  },
});

const requeueJob = defineAiquTool({
  name: 'aiqu_requeue_job',
  title: 'Requeue a job',
  description:
    'Runs a job again as a new attempt with the same spec, optionally with overrides (params, resources, config reference, priority, cluster). The previous attempt is kept; the new job records it in previousAttemptId.',
  toolset: 'control',
  input: z.object({
    id: z.string().min(1).describe('Job id to run again'),
    params: paramsInput,
    resources: resourcesOverride,
    configRef: configRefOverride,
    priority: z.number().int().min(-100).max(100).optional().describe('Priority of the new attempt'),
    cluster: z.string().optional().describe('Run the new attempt on this cluster'),
  }),
  output: z.object({ job: jobSchema, previousJobId: z.string() }),
  annotations: { ...reversible, idempotentHint: false },
  async handler(input, deps, ctx) {
    const { id, ...overrides } = input;
    const job = await backendCall(deps, `requeueing ${id}`, ctx.signal, (signal) =>
      deps.jobs.requeue(id, stripUndefined(overrides), signal),
    );
    return {
      structured: { job, previousJobId: id },
      text: `${describeJob('Requeued as', job)} (previous: ${id})`,
    };
  },
});

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}

export const controlTools = [submitJob, stopJob, requeueJob];
