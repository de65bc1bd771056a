import { z } from 'zod';

/** One intermediate report of the objective metric. */
export interface MetricPoint {
  step: number;
  value: number;
}

export type Direction = 'minimize' | 'maximize';

export const prunerSpecSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none').describe('Never stop a trial early.') }),
  z.object({
    type: z
      .literal('median')
      .describe(
        "Median stopping rule: stop a trial whose best value so far is worse than the completed trials' median at the same step.",
      ),
    startupTrials: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe('Completed trials needed before anything is stopped (default 5).'),
    warmupSteps: z
      .number()
      .min(0)
      .optional()
      .describe('Steps a trial may run before it can be stopped (default 0).'),
    minTrials: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Completed trials that must have reached the step to compare against (default 1).'),
  }),
  z.object({
    type: z
      .literal('asha')
      .describe('Asynchronous successive halving: at each rung only the top 1/reductionFactor continue.'),
    minResource: z.number().positive().optional().describe('Step of the first rung (default 1).'),
    reductionFactor: z
      .number()
      .int()
      .min(2)
      .max(10)
      .optional()
      .describe(
        'Rung spacing and promotion ratio (default 3: rungs at 1, 3, 9, … and the top third goes on).',
      ),
    minEarlyStoppingRate: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('Skips the first rungs: the first rung is at minResource × factor^rate (default 0).'),
  }),
  z.object({
    type: z
      .literal('plateau')
      .describe(
        'Stop a trial whose metric has flattened: its last `patience` reports improve on its earlier best by no more than minDelta.',
      ),
    patience: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('How many recent reports must show no real improvement (default 5).'),
    minDelta: z
      .number()
      .min(0)
      .optional()
      .describe('Smallest improvement that counts (default 0: any improvement counts).'),
    relative: z
      .boolean()
      .optional()
      .describe('Read minDelta as a fraction of the earlier best value instead of an absolute amount.'),
    warmupSteps: z.number().min(0).optional().describe('Steps before the rule applies (default 0).'),
  }),
]);
export type PrunerSpec = z.infer<typeof prunerSpecSchema>;

/** What a pruner knows about a trial: its reports and the ASHA rung values recorded so far. */
export interface PrunerTrial {
  id: string;
  state: string;
  reports: readonly MetricPoint[];
  rungs?: Record<string, number>;
}

export interface PruneDecision {
  prune: boolean;
  /** Why, in words a person (or the model) can relay. */
  reason?: string;
  /** ASHA: the trial's rung values after this evaluation, to be persisted with it. */
  rungs?: Record<string, number>;
}

const keep: PruneDecision = { prune: false };

/**
 * Decides whether a running trial should stop now. Pure: the caller passes every trial of the
 * sweep (`others` may include the trial itself; it is skipped) and persists returned rungs.
 */
export function evaluatePruner(
  spec: PrunerSpec,
  trial: PrunerTrial,
  others: readonly PrunerTrial[],
  direction: Direction,
): PruneDecision {
  const reports = sortedReports(trial.reports);
  const last = reports.at(-1);
  if (!last) return keep;
  if (Number.isNaN(last.value)) return { prune: true, reason: `the metric is NaN at step ${last.step}` };
  const loss = (value: number) => (direction === 'minimize' ? value : -value);
  const peers = others.filter((o) => o.id !== trial.id);
  switch (spec.type) {
    case 'none':
      return keep;
    case 'median':
      return medianRule(spec, reports, peers, loss);
    case 'asha':
      return successiveHalving(spec, trial, reports, peers, loss);
    case 'plateau':
      return plateauRule(spec, reports, loss);
  }
}

function medianRule(
  spec: Extract<PrunerSpec, { type: 'median' }>,
  reports: MetricPoint[],
  peers: readonly PrunerTrial[],
  loss: (value: number) => number,
): PruneDecision {
  const completed = peers.filter((p) => p.state === 'completed');
  if (completed.length === 0 || completed.length < (spec.startupTrials ?? 5)) return keep;
  const last = reports.at(-1) as MetricPoint;
  if (last.step < (spec.warmupSteps ?? 0)) return keep;
  const best = Math.min(...reports.map((r) => loss(r.value)));
  const atStep = completed
    .map((p) => valueAtStep(p.reports, last.step))
    .filter((v): v is number => v !== undefined && !Number.isNaN(v))
    .map(loss);
  if (atStep.length < (spec.minTrials ?? 1)) return keep;
  const median = percentile(atStep, 50);
  if (best > median) {
    return {
      prune: true,
      reason: `best value so far is worse than the median of ${atStep.length} completed trials at step ${last.step}`,
    };
  }
  return keep;
}

function successiveHalving(
  spec: Extract<PrunerSpec, { type: 'asha' }>,
  trial: PrunerTrial,
  reports: MetricPoint[],
  peers: readonly PrunerTrial[],
  loss: (value: number) => number,
): PruneDecision {
  const minResource = spec.minResource ?? 1;
  const eta = spec.reductionFactor ?? 3;
  const rate = spec.minEarlyStoppingRate ?? 0;
  const last = reports.at(-1) as MetricPoint;
  const rungs = { ...(trial.rungs ?? {}) };
  const value = loss(last.value);
  let changed = false;
  for (let rung = Object.keys(rungs).length; ; rung++) {
    const promotionStep = minResource * eta ** (rate + rung);
    if (last.step < promotionStep) break;
    rungs[String(rung)] = last.value;
    changed = true;
    const competing = [
      value,
      ...peers
        .map((p) => p.rungs?.[String(rung)])
        .filter((v): v is number => v !== undefined)
        .map(loss),
    ].sort((a, b) => a - b);
    // Like Optuna: while fewer than eta trials reached the rung, only the best one goes on.
    const index = Math.max(0, Math.floor(competing.length / eta) - 1);
    if (value > (competing[index] as number)) {
      return {
        prune: true,
        reason: `not in the top 1/${eta} of ${competing.length} trials at rung ${rung} (step ${promotionStep})`,
        rungs,
      };
    }
  }
  return changed ? { prune: false, rungs } : keep;
}

function plateauRule(
  spec: Extract<PrunerSpec, { type: 'plateau' }>,
  reports: MetricPoint[],
  loss: (value: number) => number,
): PruneDecision {
  const patience = spec.patience ?? 5;
  const warm = reports.filter((r) => r.step >= (spec.warmupSteps ?? 0));
  if (warm.length <= patience) return keep;
  const before = Math.min(...warm.slice(0, warm.length - patience).map((r) => loss(r.value)));
  const recent = Math.min(...warm.slice(warm.length - patience).map((r) => loss(r.value)));
  const minDelta = spec.minDelta ?? 0;
  const threshold = spec.relative ? minDelta * Math.abs(before) : minDelta;
  const improvement = before - recent;
  if (improvement <= threshold) {
    return {
      prune: true,
      reason: `flat: the last ${patience} reports improved the best value by ${formatNumber(improvement)} (≤ ${formatNumber(threshold)})`,
    };
  }
  return keep;
}

/** The value reported at the largest step not after `step`, if any. */
export function valueAtStep(reports: readonly MetricPoint[], step: number): number | undefined {
  let found: MetricPoint | undefined;
  for (const report of reports) {
    if (report.step <= step && (!found || report.step >= found.step)) found = report;
  }
  return found?.value;
}

/** Linear-interpolated percentile, as numpy's default. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const a = sorted[lower] as number;
  const b = sorted[upper] as number;
  return a + (b - a) * (rank - lower);
}

function sortedReports(reports: readonly MetricPoint[]): MetricPoint[] {
  return [...reports].sort((a, b) => a.step - b.step);
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(3);
}
