import { z } from 'zod';
import { type MetricPoint, prunerSpecSchema } from './pruners.ts';
import { samplerSpecSchema } from './samplers.ts';
import { type Params, searchSpaceSchema } from './space.ts';

/** What a sweep is asked to do; stored verbatim with its state. */
export const sweepSpecSchema = z.object({
  name: z.string().min(1).max(200).describe('Human name of the sweep, e.g. weld-defect-v4 lr sweep'),
  template: z
    .string()
    .min(1)
    .describe('Job template every trial is submitted from (see aiqu_list_templates)'),
  backend: z
    .string()
    .min(1)
    .optional()
    .describe('Backend the trials run on; the default backend when absent'),
  space: searchSpaceSchema.describe(
    'Hyperparameters to search: name → {type: choice|uniform|loguniform|int, ...}. Each trial gets them as job params.',
  ),
  sampler: samplerSpecSchema
    .default({ type: 'tpe' })
    .describe('How trial parameters are chosen (default tpe)'),
  objective: z
    .object({
      metric: z.string().min(1).describe('MLflow metric key the trials log, e.g. val_loss'),
      direction: z.enum(['minimize', 'maximize']).describe('Whether smaller or larger is better'),
      summary: z
        .enum(['last', 'best'])
        .default('last')
        .describe(
          "A finished trial's value: its last report (default) or its best one, for trainers that keep their best checkpoint (what a run stopped on a plateau has to offer)",
        ),
      experiment: z
        .string()
        .min(1)
        .optional()
        .describe('MLflow experiment the trials log to; narrows the run lookup (all experiments otherwise)'),
    })
    .describe('The metric the sweep optimises'),
  budget: z
    .object({
      maxTrials: z.number().int().min(1).max(1000).describe('Trials to run at most (failed ones count)'),
      maxParallel: z.number().int().min(1).max(64).default(1).describe('Trials running at the same time'),
      maxGpuHours: z
        .number()
        .positive()
        .optional()
        .describe('GPU-hours to spend at most; when reached, running trials are stopped'),
    })
    .describe('Limits on the sweep'),
  pruner: prunerSpecSchema.default({ type: 'none' }).describe('When to stop unpromising trials early'),
  params: z
    .record(z.string(), z.string())
    .default({})
    .describe('Fixed job params every trial gets on top of the searched ones'),
  gpusPerTrial: z
    .number()
    .int()
    .min(0)
    .max(64)
    .optional()
    .describe("GPUs per trial; the template's when absent"),
  maxSteps: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("A full trial's length in metric steps; sharpens the estimate of compute saved by pruning"),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .optional()
    .describe('Seed for reproducible suggestions'),
});
export type SweepSpec = z.output<typeof sweepSpecSchema>;
export type SweepSpecInput = z.input<typeof sweepSpecSchema>;

export const trialStates = ['pending', 'running', 'completed', 'pruned', 'failed', 'stopped'] as const;
export type TrialState = (typeof trialStates)[number];

export const sweepStatuses = ['running', 'completed', 'stopped', 'failed'] as const;
export type SweepStatus = (typeof sweepStatuses)[number];

/** One trial: a parameter set, the job that runs it and what it reported. */
export interface TrialRecord {
  id: string;
  index: number;
  params: Params;
  state: TrialState;
  jobId?: string;
  runId?: string;
  /** Objective reports read from the metrics store, by step (bounded). */
  reports: MetricPoint[];
  /** The trial's objective value: for completed trials per `objective.summary`, else its last report. */
  value?: number;
  /** Which rule stopped it, when pruned. */
  prunedBy?: 'median' | 'asha' | 'plateau' | 'nan';
  /** Why it ended the way it did (prune rule, job failure reason, budget). */
  reason?: string;
  /** ASHA rung values, persisted so decisions survive a restart. */
  rungs?: Record<string, number>;
  gpus: number;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
}

/** A sweep as stored on disk. */
export interface SweepState {
  version: 1;
  id: string;
  spec: SweepSpec;
  seed: number;
  status: SweepStatus;
  statusReason?: string;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  /** When a stopped or completed sweep was resumed (aiqu_resume_sweep), oldest first. */
  resumedAt?: string[];
  trials: TrialRecord[];
}
