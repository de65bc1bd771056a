import { randomBytes } from 'node:crypto';
import type { Logger } from '@nightshift/mcp-kit';
import { notFound, ToolError } from '@nightshift/mcp-kit';
import { isTerminal, type Job, type JobBackend, type JobSpec } from '../backends/types.ts';
import type { MetricSource } from './metrics.ts';
import { type Direction, evaluatePruner, type MetricPoint } from './pruners.ts';
import { samplerCapacity, suggestParams } from './samplers.ts';
import {
  type SweepSpec,
  type SweepSpecInput,
  type SweepState,
  sweepSpecSchema,
  type TrialRecord,
} from './spec.ts';
import type { SweepStore } from './store.ts';
import type { Observation } from './tpe.ts';

/** Labels every trial job carries, so jobs list by sweep and trial on any backend. */
export const sweepLabel = 'nightshift.dev/sweep';
export const trialLabel = 'nightshift.dev/trial';

/** What a trial asks of the job layer; the server turns it into a JobSpec from a template. */
export interface TrialJobRequest {
  template: string;
  name: string;
  params: Record<string, string>;
  labels: Record<string, string>;
  env: Record<string, string>;
  gpus?: number | undefined;
}

export interface SweepControllerOptions {
  store: SweepStore;
  /**
   * The backend a sweep's trials run on: the named one, else the template's, else the default.
   * Throws ToolError `not_found` for an unknown name.
   */
  backend(name: string | undefined, template: string): JobBackend;
  /** Resolves a template into a job spec; throws ToolError `not_found` for an unknown template. */
  buildTrialSpec(request: TrialJobRequest): JobSpec | Promise<JobSpec>;
  metrics: MetricSource;
  log?: Pick<Logger, 'info' | 'warn'> | undefined;
  now?: () => Date;
  /** How often running sweeps advance when the loop runs (default 30 s). */
  pollIntervalMs?: number;
  /** Failed trials after which a sweep with no completed trial gives up (default 3). */
  maxFailuresBeforeSuccess?: number;
  /**
   * Told what a tick changed, after the state is saved: a trial ended, the best trial changed,
   * the sweep ended. The server turns these into signed events for the agent; the controller
   * decides nothing about whether anyone hears of them.
   */
  onChange?: (change: SweepChange) => void;
}

/** What one tick changed, for whoever reports on sweeps. */
export type SweepChange =
  | { kind: 'trial_ended'; state: SweepState; trial: TrialRecord }
  | { kind: 'new_best'; state: SweepState; trial: TrialRecord; previous?: TrialRecord | undefined }
  | { kind: 'sweep_ended'; state: SweepState };

const maxReportsKept = 2000;

/**
 * Runs sweeps: suggests parameters, submits trials as jobs, reads their metrics, prunes, and
 * keeps every decision on disk so a restarted server carries on where it stopped. Each call to
 * `tick` advances one sweep by one step; `startLoop` ticks every running sweep periodically.
 */
export class SweepController {
  readonly #options: SweepControllerOptions;
  readonly #locks = new Map<string, Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #looping: Promise<void> | undefined;

  constructor(options: SweepControllerOptions) {
    this.#options = options;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  /** Validates and records a sweep, then launches its first trials. */
  async start(input: SweepSpecInput): Promise<SweepState> {
    const parsed = sweepSpecSchema.safeParse(input);
    if (!parsed.success) {
      throw new ToolError(
        'invalid_input',
        `invalid sweep: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ')}`,
      );
    }
    const spec = parsed.data;
    // Refuse what can never run before anything is stored: unknown backend or template.
    this.#options.backend(spec.backend, spec.template);
    await this.#options.buildTrialSpec(this.#trialRequest(spec, 'sw-check', 'sw-check-t0', {}));
    const now = this.#now().toISOString();
    const id = `sw-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const state: SweepState = {
      version: 1,
      id,
      spec,
      seed: spec.seed ?? randomBytes(4).readUInt32BE(0) % 2 ** 31,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      trials: [],
    };
    await this.#options.store.save(state);
    return this.tick(id);
  }

  async get(id: string): Promise<SweepState> {
    const state = await this.#options.store.load(id);
    if (!state) {
      const known = (await this.#options.store.list()).map((s) => s.id);
      throw notFound(`sweep ${id}`, known, 'List sweeps with aiqu_sweep_status without an id.');
    }
    return state;
  }

  list(): Promise<SweepState[]> {
    return this.#options.store.list();
  }

  /** Stops a sweep: its running trials' jobs are stopped and no new trial starts. */
  async stop(id: string, reason = 'stopped on request'): Promise<SweepState> {
    return this.#locked(id, async () => {
      const state = await this.get(id);
      if (state.status !== 'running') return state;
      const backend = this.#options.backend(state.spec.backend, state.spec.template);
      const now = this.#now().toISOString();
      for (const trial of state.trials.filter(isActive)) {
        if (trial.jobId) await this.#stopJob(backend, trial.jobId);
        Object.assign(trial, { state: 'stopped', reason, endedAt: now });
      }
      Object.assign(state, { status: 'stopped', statusReason: reason, endedAt: now, updatedAt: now });
      await this.#options.store.save(state);
      return state;
    });
  }

  /**
   * Carries on with a stopped or completed sweep, optionally with a larger budget: new trials
   * are suggested from everything learnt so far (trials stopped with the sweep are not rerun).
   * A failed sweep is refused: its trials could not run, and a new sweep with a fixed template
   * is the clearer record.
   */
  async resume(id: string, budget: { maxTrials?: number; maxGpuHours?: number } = {}): Promise<SweepState> {
    const resumed = await this.#locked(id, async () => {
      const state = await this.get(id);
      if (state.status === 'running') return undefined;
      if (state.status === 'failed') {
        throw new ToolError(
          'conflict',
          `sweep ${id} failed (${state.statusReason ?? 'no reason recorded'}); fix the cause and start a new sweep with aiqu_start_sweep.`,
        );
      }
      const next = { ...state.spec.budget, ...budget };
      const limit = Math.min(next.maxTrials, samplerCapacity(state.spec.sampler, state.spec.space));
      if (state.trials.length >= limit) {
        throw new ToolError(
          'invalid_input',
          limit < next.maxTrials
            ? `sweep ${id} has run every grid point (${state.trials.length}); there is nothing left to try.`
            : `sweep ${id} has run ${state.trials.length} of maxTrials ${next.maxTrials}; pass a larger maxTrials to go on.`,
        );
      }
      const used = sweepUsage(state, this.#now()).gpuHours;
      if (next.maxGpuHours !== undefined && used >= next.maxGpuHours) {
        throw new ToolError(
          'invalid_input',
          `sweep ${id} has used ${used.toFixed(2)} of maxGpuHours ${next.maxGpuHours}; pass a larger maxGpuHours to go on.`,
        );
      }
      const now = this.#now().toISOString();
      state.spec.budget = next;
      state.status = 'running';
      delete state.statusReason;
      delete state.endedAt;
      state.resumedAt = [...(state.resumedAt ?? []), now];
      state.updatedAt = now;
      await this.#options.store.save(state);
      return state;
    });
    // Launching is a tick's work: the new trials start now, not at the next poll.
    return resumed ? this.tick(id) : this.get(id);
  }

  /** Advances one sweep: refresh trials, prune, enforce the budget, launch, finish. */
  tick(id: string): Promise<SweepState> {
    return this.#locked(id, async () => {
      const state = await this.get(id);
      if (state.status !== 'running') return state;
      const endedBefore = new Set(state.trials.filter((t) => !isActive(t)).map((t) => t.id));
      const bestBefore = bestTrial(state);
      const backend = this.#options.backend(state.spec.backend, state.spec.template);
      await this.#refresh(state, backend);
      const budgetReason = this.#budgetExhausted(state);
      if (budgetReason) await this.#stopActive(state, backend, budgetReason);
      else await this.#launch(state, backend);
      this.#finishIfDone(state, budgetReason);
      state.updatedAt = this.#now().toISOString();
      await this.#options.store.save(state);
      this.#report(state, endedBefore, bestBefore);
      return state;
    });
  }

  #report(state: SweepState, endedBefore: Set<string>, bestBefore: TrialRecord | undefined): void {
    const onChange = this.#options.onChange;
    if (!onChange) return;
    try {
      for (const trial of state.trials) {
        if (!isActive(trial) && !endedBefore.has(trial.id)) onChange({ kind: 'trial_ended', state, trial });
      }
      const best = bestTrial(state);
      if (best && best.id !== bestBefore?.id)
        onChange({ kind: 'new_best', state, trial: best, previous: bestBefore });
      if (state.status !== 'running') onChange({ kind: 'sweep_ended', state });
    } catch (error) {
      // Reporting never stops a sweep.
      this.#options.log?.warn(`sweep ${state.id}: reporting failed: ${(error as Error).message}`);
    }
  }

  /** Ticks every running sweep once; one sweep's failure does not hold up the others. */
  async tickAll(): Promise<void> {
    for (const state of await this.#options.store.list()) {
      if (state.status !== 'running') continue;
      try {
        await this.tick(state.id);
      } catch (error) {
        this.#options.log?.warn(`sweep ${state.id}: ${(error as Error).message}`);
      }
    }
  }

  /** Ticks running sweeps now and every pollIntervalMs; what was running before a restart resumes. */
  startLoop(): void {
    if (this.#timer) return;
    const run = () => {
      if (this.#looping) return;
      this.#looping = this.tickAll().finally(() => {
        this.#looping = undefined;
      });
    };
    this.#timer = setInterval(run, this.#options.pollIntervalMs ?? 30_000);
    this.#timer.unref();
    run();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#looping;
  }

  async #refresh(state: SweepState, backend: JobBackend): Promise<void> {
    const { spec } = state;
    for (const trial of state.trials.filter(isActive)) {
      if (!trial.jobId) {
        await this.#submitTrial(state, trial, backend);
        continue;
      }
      let job: Job;
      try {
        job = await backend.get(trial.jobId);
      } catch (error) {
        if (ToolError.isInstance(error) && error.code === 'not_found') {
          Object.assign(trial, {
            state: 'failed',
            reason: `job ${trial.jobId} is gone from backend ${backend.name}`,
            endedAt: this.#now().toISOString(),
          });
          continue;
        }
        // An unreachable backend is not the trial's fault: try again next tick.
        this.#options.log?.warn(`sweep ${state.id}: ${trial.id}: ${(error as Error).message}`);
        continue;
      }
      if (job.startedAt) trial.startedAt ??= job.startedAt;
      if (job.status === 'queued') trial.state = 'pending';
      if (job.status === 'running' || isTerminal(job.status)) await this.#readMetrics(state, trial, job);
      if (isTerminal(job.status)) {
        this.#settle(state, trial, job);
        continue;
      }
      if (job.status !== 'running') continue;
      trial.state = 'running';
      const decision = evaluatePruner(spec.pruner, trial, state.trials, spec.objective.direction);
      if (decision.rungs) trial.rungs = decision.rungs;
      if (decision.prune) {
        await this.#stopJob(backend, trial.jobId);
        const last = trial.reports.at(-1);
        Object.assign(trial, {
          state: 'pruned',
          prunedBy: last && Number.isNaN(last.value) ? 'nan' : (spec.pruner.type as TrialRecord['prunedBy']),
          reason: decision.reason,
          endedAt: this.#now().toISOString(),
          // A plateau means converged: its value reads like a completed trial's; other rules stop
          // a trial midway, where only its latest report says where it stands.
          ...(last
            ? {
                value: summarize(
                  trial.reports,
                  spec.objective.direction,
                  spec.pruner.type === 'plateau' ? spec.objective.summary : 'last',
                ),
              }
            : {}),
        });
        this.#options.log?.info(`sweep ${state.id}: pruned ${trial.id} (${decision.reason})`);
      }
    }
  }

  async #readMetrics(state: SweepState, trial: TrialRecord, job: Job): Promise<void> {
    try {
      const reading = await this.#options.metrics.read({
        jobId: job.id,
        runId: trial.runId ?? job.mlflowRunId,
        metric: state.spec.objective.metric,
        experiment: state.spec.objective.experiment,
      });
      if (reading.runId) trial.runId = reading.runId;
      if (reading.points.length > 0) trial.reports = boundReports(reading.points);
    } catch (error) {
      // A metrics store hiccup delays pruning; it never fails a trial.
      this.#options.log?.warn(`sweep ${state.id}: metrics for ${trial.id}: ${(error as Error).message}`);
    }
  }

  #settle(state: SweepState, trial: TrialRecord, job: Job): void {
    const { objective } = state.spec;
    trial.endedAt = job.endedAt ?? this.#now().toISOString();
    if (job.status === 'succeeded') {
      if (trial.reports.length === 0) {
        Object.assign(trial, {
          state: 'failed',
          reason: `the job succeeded but no "${objective.metric}" metric was found in MLflow`,
        });
      } else {
        Object.assign(trial, {
          state: 'completed',
          value: summarize(trial.reports, objective.direction, objective.summary),
        });
      }
    } else if (job.status === 'failed') {
      Object.assign(trial, {
        state: 'failed',
        reason: [job.reason, job.reasonDetail].filter(Boolean).join(': ') || 'the job failed',
      });
    } else {
      Object.assign(trial, { state: 'stopped', reason: 'the job was stopped outside the sweep' });
    }
  }

  #budgetExhausted(state: SweepState): string | undefined {
    const { maxGpuHours } = state.spec.budget;
    if (maxGpuHours === undefined) return undefined;
    const used = sweepUsage(state, this.#now()).gpuHours;
    return used >= maxGpuHours ? `GPU-hour budget reached (${used.toFixed(2)} of ${maxGpuHours})` : undefined;
  }

  async #stopActive(state: SweepState, backend: JobBackend, reason: string): Promise<void> {
    const now = this.#now().toISOString();
    for (const trial of state.trials.filter(isActive)) {
      if (trial.jobId) await this.#stopJob(backend, trial.jobId);
      Object.assign(trial, { state: 'stopped', reason, endedAt: now });
    }
  }

  async #launch(state: SweepState, backend: JobBackend): Promise<void> {
    const { spec } = state;
    const limit = Math.min(spec.budget.maxTrials, samplerCapacity(spec.sampler, spec.space));
    while (
      state.status === 'running' &&
      state.trials.filter(isActive).length < spec.budget.maxParallel &&
      state.trials.length < limit &&
      !this.#tooManyFailures(state)
    ) {
      const index = state.trials.length;
      const params = suggestParams(spec.sampler, spec.space, index, observationsOf(state), state.seed);
      const trial: TrialRecord = {
        id: `${state.id}-t${index}`,
        index,
        params,
        state: 'pending',
        reports: [],
        gpus: spec.gpusPerTrial ?? 0,
        createdAt: this.#now().toISOString(),
      };
      state.trials.push(trial);
      // Recorded before submitting: after a crash the trial is found by its label, not submitted twice.
      await this.#options.store.save(state);
      await this.#submitTrial(state, trial, backend);
    }
  }

  async #submitTrial(state: SweepState, trial: TrialRecord, backend: JobBackend): Promise<void> {
    try {
      const existing = await backend.list({ filter: { labels: { [trialLabel]: trial.id } }, limit: 1 });
      const job =
        existing.jobs[0] ??
        (await backend.submit(
          await this.#options.buildTrialSpec(
            this.#trialRequest(state.spec, state.id, trial.id, trial.params),
          ),
        ));
      trial.jobId = job.id;
      delete trial.reason;
      trial.gpus = job.resources.gpus;
      trial.state = job.status === 'running' ? 'running' : 'pending';
      if (job.startedAt) trial.startedAt = job.startedAt;
      await this.#options.store.save(state);
    } catch (error) {
      const message = (error as Error).message;
      if (ToolError.isInstance(error) && (error.code === 'unavailable' || error.code === 'timeout')) {
        // The queue did not answer: the trial waits and is submitted again on the next tick.
        trial.reason = `waiting for backend: ${message}`;
        return;
      }
      Object.assign(trial, {
        state: 'failed',
        reason: `submit failed: ${message}`,
        endedAt: this.#now().toISOString(),
      });
      if (ToolError.isInstance(error) && ['not_found', 'refused', 'invalid_input'].includes(error.code)) {
        // The same spec will be refused every time: end the sweep instead of burning its budget.
        Object.assign(state, {
          status: 'failed',
          statusReason: `a trial could not be submitted: ${message}`,
        });
        state.endedAt = this.#now().toISOString();
      }
    }
  }

  #trialRequest(
    spec: SweepSpec,
    sweepId: string,
    trialId: string,
    params: Record<string, unknown>,
  ): TrialJobRequest {
    const searched = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
    return {
      template: spec.template,
      name: `${spec.name}/${trialId}`,
      params: { ...spec.params, ...searched },
      labels: { [sweepLabel]: sweepId, [trialLabel]: trialId },
      env: { NIGHTSHIFT_SWEEP_ID: sweepId, NIGHTSHIFT_TRIAL_ID: trialId },
      gpus: spec.gpusPerTrial,
    };
  }

  #tooManyFailures(state: SweepState): boolean {
    const failed = state.trials.filter((t) => t.state === 'failed').length;
    const completed = state.trials.filter((t) => t.state === 'completed' || t.state === 'pruned').length;
    return completed === 0 && failed >= (this.#options.maxFailuresBeforeSuccess ?? 3);
  }

  #finishIfDone(state: SweepState, budgetReason: string | undefined): void {
    if (state.status !== 'running' || state.trials.some(isActive)) return;
    const { spec } = state;
    const limit = Math.min(spec.budget.maxTrials, samplerCapacity(spec.sampler, spec.space));
    let reason: string | undefined;
    if (this.#tooManyFailures(state)) {
      state.status = 'failed';
      state.statusReason = `${state.trials.filter((t) => t.state === 'failed').length} trials failed and none completed; see the trials' reasons`;
    } else if (budgetReason) reason = budgetReason;
    else if (state.trials.length >= limit) {
      reason = limit < spec.budget.maxTrials ? 'every grid point ran' : `all ${limit} trials ran`;
    }
    if (reason) Object.assign(state, { status: 'completed', statusReason: reason });
    if (state.status !== 'running') state.endedAt = this.#now().toISOString();
  }

  async #stopJob(backend: JobBackend, jobId: string): Promise<void> {
    try {
      await backend.stop(jobId);
    } catch (error) {
      this.#options.log?.warn(`stopping job ${jobId}: ${(error as Error).message}`);
    }
  }

  async #locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#locks.set(id, settled);
    try {
      return await next;
    } finally {
      if (this.#locks.get(id) === settled) this.#locks.delete(id);
    }
  }
}

function isActive(trial: TrialRecord): boolean {
  return trial.state === 'pending' || trial.state === 'running';
}

function boundReports(points: readonly MetricPoint[]): MetricPoint[] {
  if (points.length <= maxReportsKept) return [...points];
  // Keep the newest reports in full and thin the older ones evenly.
  const recent = points.slice(-maxReportsKept / 2);
  const older = points.slice(0, -maxReportsKept / 2);
  const stride = Math.ceil(older.length / (maxReportsKept / 2));
  return [...older.filter((_, i) => i % stride === 0), ...recent];
}

/** A trial's value from its reports: the last one, or the best for the direction. */
export function summarize(
  reports: readonly MetricPoint[],
  direction: Direction,
  how: 'last' | 'best',
): number {
  if (how === 'last') return (reports.at(-1) as MetricPoint).value;
  const values = reports.map((r) => r.value).filter((v) => !Number.isNaN(v));
  if (values.length === 0) return Number.NaN;
  return direction === 'minimize' ? Math.min(...values) : Math.max(...values);
}

/** Trials the samplers learn from: completed ones, and pruned ones ranked below them. */
export function observationsOf(state: SweepState): Observation[] {
  const sign = state.spec.objective.direction === 'minimize' ? 1 : -1;
  const observations: Observation[] = [];
  for (const trial of state.trials) {
    if (trial.value === undefined || Number.isNaN(trial.value)) continue;
    if (trial.state === 'completed' || (trial.state === 'pruned' && trial.prunedBy === 'plateau')) {
      // A trial stopped on a plateau had converged: its value is as good as a completed one's.
      observations.push({ params: trial.params, loss: sign * trial.value, state: 'completed' });
    } else if (trial.state === 'pruned') {
      observations.push({
        params: trial.params,
        loss: sign * trial.value,
        state: 'pruned',
        step: trial.reports.at(-1)?.step ?? 0,
      });
    }
  }
  return observations;
}

export interface SweepUsage {
  /** GPU-hours held by trials so far (running ones up to now). */
  gpuHours: number;
  /** Wall-clock hours of all trials summed (CPU-only trials count here too). */
  trialHours: number;
  /** Estimated GPU-hours the pruned trials would still have used had they run to the end. */
  gpuHoursSaved: number;
  trialHoursSaved: number;
}

/**
 * Compute used and saved. A pruned trial's full length is estimated from its progress
 * (last step / maxSteps) when maxSteps is known, else from the mean of completed trials.
 */
export function sweepUsage(state: SweepState, now: Date): SweepUsage {
  const hours = (trial: TrialRecord) => {
    if (!trial.startedAt) return 0;
    const end = trial.endedAt ? Date.parse(trial.endedAt) : now.getTime();
    return Math.max(0, end - Date.parse(trial.startedAt)) / 3_600_000;
  };
  const completedHours = state.trials.filter((t) => t.state === 'completed').map(hours);
  const meanCompleted =
    completedHours.length > 0 ? completedHours.reduce((a, b) => a + b, 0) / completedHours.length : undefined;
  let gpuHours = 0;
  let trialHours = 0;
  let gpuHoursSaved = 0;
  let trialHoursSaved = 0;
  for (const trial of state.trials) {
    const used = hours(trial);
    trialHours += used;
    gpuHours += used * trial.gpus;
    if (trial.state !== 'pruned') continue;
    let full: number | undefined;
    const lastStep = trial.reports.at(-1)?.step;
    if (state.spec.maxSteps && lastStep !== undefined) {
      const progress = Math.min(1, Math.max(1, lastStep) / state.spec.maxSteps);
      full = used / progress;
    } else {
      full = meanCompleted;
    }
    if (full === undefined) continue;
    const saved = Math.max(0, full - used);
    trialHoursSaved += saved;
    gpuHoursSaved += saved * trial.gpus;
  }
  return { gpuHours, trialHours, gpuHoursSaved, trialHoursSaved };
}

/** The best trial: completed (or converged on a plateau) with the best value. */
export function bestTrial(state: SweepState): TrialRecord | undefined {
  const sign = state.spec.objective.direction === 'minimize' ? 1 : -1;
  let best: TrialRecord | undefined;
  for (const trial of state.trials) {
    const counts = trial.state === 'completed' || (trial.state === 'pruned' && trial.prunedBy === 'plateau');
    if (!counts || trial.value === undefined || Number.isNaN(trial.value)) continue;
    if (!best || sign * trial.value < sign * (best.value as number)) best = trial;
  }
  return best;
}
