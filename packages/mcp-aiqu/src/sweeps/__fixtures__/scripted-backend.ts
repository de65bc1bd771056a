import { notFound } from '@nightshift/mcp-kit';
import {
  applyOverrides,
  compareJobs,
  type Job,
  type JobBackend,
  type JobLogs,
  type JobSpec,
  type ListQuery,
  type ListResult,
  matchesFilter,
  type QueueStatus,
  specOf,
} from '../../backends/types.ts';
import type { MetricQuery, MetricReading, MetricSource } from '../metrics.ts';
import type { MetricPoint } from '../pruners.ts';

/**
 * An in-memory queue the controller's unit tests drive step by step: jobs start at once and end
 * when the test says so; metrics are whatever the test reports. The controller's real-backend
 * path is tested against Slurm in controller.slurm.test.ts.
 */
export class ScriptedBackend implements JobBackend {
  readonly name = 'scripted';
  readonly kind = 'local' as const;
  readonly clusters = ['here'];
  readonly jobs = new Map<string, Job>();
  readonly stopped: string[] = [];
  #sequence = 0;
  readonly #now: () => Date;

  constructor(now: () => Date) {
    this.#now = now;
  }

  owns(id: string): boolean {
    return id.startsWith('scripted-');
  }

  async submit(spec: JobSpec): Promise<Job> {
    const id = `scripted-${++this.#sequence}`;
    const now = this.#now().toISOString();
    const job: Job = {
      ...spec,
      id,
      backend: this.name,
      cluster: 'here',
      status: 'running',
      createdAt: now,
      startedAt: now,
      attempt: 1,
    };
    this.jobs.set(id, job);
    return job;
  }

  async list(query: ListQuery): Promise<ListResult> {
    const jobs = [...this.jobs.values()].filter((j) => matchesFilter(j, query.filter)).sort(compareJobs);
    return { jobs: jobs.slice(0, query.limit), total: jobs.length };
  }

  async get(id: string): Promise<Job> {
    const job = this.jobs.get(id);
    if (!job) throw notFound(`job ${id}`, [...this.jobs.keys()]);
    return job;
  }

  async logs(id: string): Promise<JobLogs> {
    await this.get(id);
    return { lines: [], firstLineNumber: 1, source: 'memory' };
  }

  async stop(id: string): Promise<Job> {
    const job = await this.get(id);
    if (job.status === 'running' || job.status === 'queued') {
      this.stopped.push(id);
      this.finish(id, 'stopped');
    }
    return this.get(id);
  }

  async requeue(id: string): Promise<Job> {
    return this.submit(applyOverrides(specOf(await this.get(id))));
  }

  async queueStatus(): Promise<QueueStatus[]> {
    return [];
  }

  async close(): Promise<void> {}

  finish(id: string, status: 'succeeded' | 'failed' | 'stopped', reason?: Job['reason']): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    this.jobs.set(id, {
      ...job,
      status,
      endedAt: this.#now().toISOString(),
      reason:
        reason ??
        (status === 'succeeded' ? 'completed' : status === 'stopped' ? 'cancelled' : 'nonzero_exit'),
    });
  }

  running(): Job[] {
    return [...this.jobs.values()].filter((j) => j.status === 'running');
  }
}

/** Metrics the test reports per job id, read back like MLflow would serve them. */
export class ScriptedMetrics implements MetricSource {
  readonly points = new Map<string, MetricPoint[]>();
  reads = 0;

  report(jobId: string, ...values: number[]): void {
    const list = this.points.get(jobId) ?? [];
    for (const value of values) list.push({ step: list.length, value });
    this.points.set(jobId, list);
  }

  async read(query: MetricQuery): Promise<MetricReading> {
    this.reads++;
    return { runId: `run-${query.jobId}`, points: [...(this.points.get(query.jobId) ?? [])] };
  }
}
