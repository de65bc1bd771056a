import { decodeCursor, paginate, ToolError, toolDefiner } from '@nightshift/mcp-kit';
import { z } from 'zod';
import type { AiquDeps } from '../deps.ts';
import { bestTrial, type SweepController, sweepUsage } from '../sweeps/controller.ts';
import {
  type SweepState,
  sweepSpecSchema,
  sweepStatuses,
  type TrialRecord,
  trialStates,
} from '../sweeps/spec.ts';

/** The aiqu deps plus the sweep controller (absent when sweeps are not configured). */
export interface SweepDeps extends AiquDeps {
  sweeps?: SweepController | undefined;
}

const defineSweepTool = toolDefiner<SweepDeps>();

const paramValue = z.union([z.string(), z.number(), z.boolean()]);

const trialSummarySchema = z.object({
  id: z.string(),
  index: z.number().int(),
  state: z.enum(trialStates),
  params: z.record(z.string(), paramValue),
  value: z.number().optional().describe("The trial's objective value (its last report when pruned)"),
  lastStep: z.number().optional(),
  reports: z.number().int().describe('Metric reports read so far'),
  prunedBy: z.string().optional(),
  reason: z.string().optional(),
  jobId: z.string().optional(),
  runId: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
});

const sweepSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(sweepStatuses),
  statusReason: z.string().optional(),
  template: z.string(),
  objective: z.object({ metric: z.string(), direction: z.enum(['minimize', 'maximize']) }),
  sampler: z.string(),
  pruner: z.string(),
  budget: z.object({
    maxTrials: z.number().int(),
    maxParallel: z.number().int(),
    maxGpuHours: z.number().optional(),
  }),
  counts: z.object({
    total: z.number().int(),
    pending: z.number().int(),
    running: z.number().int(),
    completed: z.number().int(),
    pruned: z.number().int(),
    failed: z.number().int(),
    stopped: z.number().int(),
  }),
  best: z
    .object({
      trialId: z.string(),
      value: z.number(),
      params: z.record(z.string(), paramValue),
      jobId: z.string().optional(),
      runId: z.string().optional(),
    })
    .optional()
    .describe('Best completed trial so far'),
  gpuHours: z.number().describe('GPU-hours used so far'),
  gpuHoursSavedByPruning: z.number().describe('Estimated GPU-hours pruned trials would still have used'),
  trialHours: z.number().describe('Wall-clock hours of all trials summed'),
  createdAt: z.string(),
  updatedAt: z.string().describe('When the controller last advanced the sweep'),
  endedAt: z.string().optional(),
  resumedAt: z.array(z.string()).optional().describe('When the sweep was resumed, oldest first'),
});
type SweepSummary = z.infer<typeof sweepSummarySchema>;

function controllerOf(deps: SweepDeps): SweepController {
  if (!deps.sweeps) {
    throw new ToolError(
      'not_configured',
      'Sweeps are not configured on this server: set MLFLOW_TRACKING_URI so trial metrics can be read.',
    );
  }
  return deps.sweeps;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function summarize(state: SweepState): SweepSummary {
  const usage = sweepUsage(state, new Date());
  const count = (s: TrialRecord['state']) => state.trials.filter((t) => t.state === s).length;
  const best = bestTrial(state);
  return {
    id: state.id,
    name: state.spec.name,
    status: state.status,
    ...(state.statusReason ? { statusReason: state.statusReason } : {}),
    template: state.spec.template,
    objective: { metric: state.spec.objective.metric, direction: state.spec.objective.direction },
    sampler: state.spec.sampler.type,
    pruner: state.spec.pruner.type,
    budget: {
      maxTrials: state.spec.budget.maxTrials,
      maxParallel: state.spec.budget.maxParallel,
      ...(state.spec.budget.maxGpuHours !== undefined ? { maxGpuHours: state.spec.budget.maxGpuHours } : {}),
    },
    counts: {
      total: state.trials.length,
      pending: count('pending'),
      running: count('running'),
      completed: count('completed'),
      pruned: count('pruned'),
      failed: count('failed'),
      stopped: count('stopped'),
    },
    ...(best && best.value !== undefined
      ? {
          best: {
            trialId: best.id,
            value: best.value,
            params: best.params,
            ...(best.jobId ? { jobId: best.jobId } : {}),
            ...(best.runId ? { runId: best.runId } : {}),
          },
        }
      : {}),
    gpuHours: round(usage.gpuHours),
    gpuHoursSavedByPruning: round(usage.gpuHoursSaved),
    trialHours: round(usage.trialHours),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    ...(state.endedAt ? { endedAt: state.endedAt } : {}),
    ...(state.resumedAt ? { resumedAt: state.resumedAt } : {}),
  };
}

function trialSummary(trial: TrialRecord): z.infer<typeof trialSummarySchema> {
  const last = trial.reports.at(-1);
  return {
    id: trial.id,
    index: trial.index,
    state: trial.state,
    params: trial.params,
    ...(trial.value !== undefined && !Number.isNaN(trial.value) ? { value: trial.value } : {}),
    ...(last ? { lastStep: last.step } : {}),
    reports: trial.reports.length,
    ...(trial.prunedBy ? { prunedBy: trial.prunedBy } : {}),
    ...(trial.reason ? { reason: trial.reason } : {}),
    ...(trial.jobId ? { jobId: trial.jobId } : {}),
    ...(trial.runId ? { runId: trial.runId } : {}),
    ...(trial.startedAt ? { startedAt: trial.startedAt } : {}),
    ...(trial.endedAt ? { endedAt: trial.endedAt } : {}),
  };
}

/** Best first (by value in the objective's direction), then active trials, then the rest by index. */
function rankTrials(state: SweepState): TrialRecord[] {
  const sign = state.spec.objective.direction === 'minimize' ? 1 : -1;
  const group = (t: TrialRecord) =>
    t.state === 'completed'
      ? 0
      : t.state === 'running' || t.state === 'pending'
        ? 1
        : t.state === 'pruned'
          ? 2
          : 3;
  return [...state.trials].sort((a, b) => {
    const byGroup = group(a) - group(b);
    if (byGroup !== 0) return byGroup;
    if (group(a) === 0 || group(a) === 2) return sign * ((a.value ?? 0) - (b.value ?? 0));
    return a.index - b.index;
  });
}

function renderSummary(s: SweepSummary): string {
  const best = s.best
    ? `best ${s.objective.metric}=${s.best.value} (${s.best.trialId})`
    : 'no completed trial yet';
  return `${s.id} "${s.name}": ${s.status}${s.statusReason ? ` (${s.statusReason})` : ''}; ${s.counts.total}/${s.budget.maxTrials} trials (${s.counts.running} running, ${s.counts.completed} completed, ${s.counts.pruned} pruned, ${s.counts.failed} failed); ${best}; ${s.gpuHours} GPU-h used, ~${s.gpuHoursSavedByPruning} saved by pruning`;
}

const startSweep = defineSweepTool({
  name: 'aiqu_start_sweep',
  title: 'Start a hyperparameter sweep',
  description:
    'Starts a hyperparameter sweep: trials are jobs from a template (see aiqu_list_templates), each given the searched hyperparameters as job params (NIGHTSHIFT_PARAM_<NAME>, {{name}} in the command). The sweep reads the objective metric each trial logs to MLflow, stops unpromising trials early (pruner: median, asha, plateau), and keeps to the budget (max trials, max parallel, max GPU-hours). It runs on its own; follow it with aiqu_sweep_status and end it with aiqu_stop_sweep. Reversible: stopping ends its jobs.',
  toolset: 'sweeps',
  input: sweepSpecSchema,
  output: z.object({ sweep: sweepSummarySchema, trials: z.array(trialSummarySchema) }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(input, deps) {
    const state = await controllerOf(deps).start(input);
    const sweep = summarize(state);
    return {
      structured: { sweep, trials: state.trials.map(trialSummary) },
      text: `Started ${renderSummary(sweep)}`,
    };
  },
});

const sweepStatus = defineSweepTool({
  name: 'aiqu_sweep_status',
  title: 'Sweep status',
  description:
    'Without an id: lists sweeps, newest first, with their status and best value. With an id: the sweep’s status, best trial so far, trial counts (running, completed, pruned, failed), GPU-hours used and saved by pruning, and its trials best first (a page at a time; pass nextCursor back for more).',
  toolset: 'sweeps',
  input: z.object({
    id: z.string().min(1).optional().describe('Sweep id (sw-…); omit to list sweeps'),
    limit: z.number().int().min(1).max(50).default(10).describe('Sweeps or trials per page'),
    cursor: z.string().optional().describe('nextCursor from a previous call'),
  }),
  output: z.object({
    sweeps: z.array(sweepSummarySchema).optional().describe('Sweeps, when no id was given'),
    sweep: sweepSummarySchema.optional().describe('The sweep, when an id was given'),
    trials: z.array(trialSummarySchema).optional().describe('A page of its trials, best first'),
    total: z.number().int().describe('Sweeps or trials in all'),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ id, limit, cursor }, deps) {
    const controller = controllerOf(deps);
    if (cursor) decodeCursor(cursor);
    if (!id) {
      const all = (await controller.list())
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        .map(summarize);
      const page = paginate(all, { cursor, limit, maxBytes: 12_000 });
      return {
        structured: {
          sweeps: page.items,
          total: page.total,
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        },
        text:
          page.items.length === 0
            ? 'No sweeps yet; start one with aiqu_start_sweep.'
            : page.items.map(renderSummary).join('\n'),
      };
    }
    const state = await controller.get(id);
    const sweep = summarize(state);
    const page = paginate(rankTrials(state).map(trialSummary), { cursor, limit, maxBytes: 12_000 });
    return {
      structured: {
        sweep,
        trials: page.items,
        total: page.total,
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      },
      text: [
        renderSummary(sweep),
        ...page.items.map(
          (t) =>
            `  ${t.id} ${t.state}${t.value !== undefined ? ` ${sweep.objective.metric}=${t.value}` : ''}${t.lastStep !== undefined ? ` @step ${t.lastStep}` : ''} ${JSON.stringify(t.params)}${t.reason ? ` — ${t.reason}` : ''}`,
        ),
        ...(page.nextCursor ? [`(more trials: pass cursor ${page.nextCursor})`] : []),
      ].join('\n'),
    };
  },
});

const stopSweep = defineSweepTool({
  name: 'aiqu_stop_sweep',
  title: 'Stop a sweep',
  description:
    'Stops a running sweep: its running trials’ jobs are stopped and no new trial starts. Completed trials and their results stay. Reversible: aiqu_resume_sweep carries on from where it stopped. Stopping an ended sweep changes nothing.',
  toolset: 'sweeps',
  input: z.object({
    id: z.string().min(1).describe('Sweep id (sw-…) from aiqu_sweep_status'),
    reason: z.string().min(1).max(300).optional().describe('Why, recorded with the sweep'),
  }),
  output: z.object({ sweep: sweepSummarySchema, alreadyEnded: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ id, reason }, deps) {
    const controller = controllerOf(deps);
    const before = await controller.get(id);
    const state = await controller.stop(id, reason ?? 'stopped on request');
    const sweep = summarize(state);
    const alreadyEnded = before.status !== 'running';
    return {
      structured: { sweep, alreadyEnded },
      text: alreadyEnded
        ? `${id} had already ended (${before.status}); nothing changed.`
        : `Stopped ${renderSummary(sweep)}`,
    };
  },
});

const resumeSweep = defineSweepTool({
  name: 'aiqu_resume_sweep',
  title: 'Resume a sweep',
  description:
    'Carries on with a stopped or completed sweep, optionally with a larger budget (e.g. 20 more trials: maxTrials = trials so far + 20). New trials are suggested from every result so far; trials stopped with the sweep are not rerun. A running sweep is left as it is. A failed sweep cannot be resumed: start a new one once its cause is fixed. Reversible like the sweep itself: aiqu_stop_sweep stops it again.',
  toolset: 'sweeps',
  input: z.object({
    id: z.string().min(1).describe('Sweep id (sw-…) from aiqu_sweep_status'),
    maxTrials: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('New total trial limit, counting the trials already run; the current one when absent'),
    maxGpuHours: z
      .number()
      .positive()
      .optional()
      .describe('New total GPU-hour limit, counting the hours already used; the current one when absent'),
  }),
  output: z.object({ sweep: sweepSummarySchema, alreadyRunning: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ id, maxTrials, maxGpuHours }, deps) {
    const controller = controllerOf(deps);
    const before = await controller.get(id);
    const state = await controller.resume(id, {
      ...(maxTrials !== undefined ? { maxTrials } : {}),
      ...(maxGpuHours !== undefined ? { maxGpuHours } : {}),
    });
    const sweep = summarize(state);
    const alreadyRunning = before.status === 'running';
    return {
      structured: { sweep, alreadyRunning },
      text: alreadyRunning ? `${id} is already running; nothing changed.` : `Resumed ${renderSummary(sweep)}`,
    };
  },
});

/** The sweep tools, in the order `--list-tools` shows them. */
export const sweepTools = [startSweep, sweepStatus, stopSweep, resumeSweep];
