import { z } from 'zod';
import { type Rng, randomIndex } from './random.ts';

/** A value a trial receives for one hyperparameter. */
export type ParamValue = string | number | boolean;
export type Params = Record<string, ParamValue>;

const choiceSchema = z.object({
  type: z.literal('choice').describe('Pick one of a fixed list of values.'),
  values: z
    .array(z.union([z.string(), z.number(), z.boolean()]))
    .min(1)
    .max(100)
    .describe('The values to choose from (strings, numbers or booleans).'),
});
const uniformSchema = z.object({
  type: z.literal('uniform').describe('A real number drawn evenly between low and high.'),
  low: z.number().describe('Smallest value (inclusive).'),
  high: z.number().describe('Largest value (inclusive).'),
});
const logUniformSchema = z.object({
  type: z
    .literal('loguniform')
    .describe('A positive real number drawn evenly on a log scale (learning rates, weight decay).'),
  low: z.number().positive().describe('Smallest value (inclusive), > 0.'),
  high: z.number().positive().describe('Largest value (inclusive).'),
});
const intSchema = z.object({
  type: z.literal('int').describe('An integer between low and high.'),
  low: z.number().int().describe('Smallest value (inclusive).'),
  high: z.number().int().describe('Largest value (inclusive).'),
  log: z.boolean().optional().describe('Draw on a log scale (batch sizes, layer widths); needs low >= 1.'),
});

export const paramSpecSchema = z.discriminatedUnion('type', [
  choiceSchema,
  uniformSchema,
  logUniformSchema,
  intSchema,
]);
export type ParamSpec = z.infer<typeof paramSpecSchema>;

const paramNamePattern = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** A search space: hyperparameter name → how to draw it. Checked for empty and inverted ranges. */
export const searchSpaceSchema = z.record(z.string(), paramSpecSchema).superRefine((space, ctx) => {
  const names = Object.keys(space);
  if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'the search space has no parameters' });
  if (names.length > 32) ctx.addIssue({ code: 'custom', message: 'at most 32 parameters per search space' });
  for (const [name, spec] of Object.entries(space)) {
    if (!paramNamePattern.test(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `parameter name "${name}" must match ${paramNamePattern}`,
      });
    }
    const problem = rangeProblem(spec);
    if (problem) ctx.addIssue({ code: 'custom', path: [name], message: `${name}: ${problem}` });
  }
});
export type SearchSpace = z.infer<typeof searchSpaceSchema>;

function rangeProblem(spec: ParamSpec): string | undefined {
  if (spec.type === 'choice') return undefined;
  if (!(spec.low <= spec.high)) return `low (${spec.low}) must not exceed high (${spec.high})`;
  if (spec.type === 'int' && spec.log && spec.low < 1) return 'a log-scale int range needs low >= 1';
  return undefined;
}

/**
 * Numeric parameters are modelled in an internal coordinate: the log for log scales, and a
 * widened interval for integers so each integer owns an equal share of it.
 */
export interface NumericBounds {
  low: number;
  high: number;
}

export function internalBounds(spec: Exclude<ParamSpec, { type: 'choice' }>): NumericBounds {
  switch (spec.type) {
    case 'uniform':
      return { low: spec.low, high: spec.high };
    case 'loguniform':
      return { low: Math.log(spec.low), high: Math.log(spec.high) };
    case 'int':
      return spec.log
        ? { low: Math.log(spec.low - 0.5 > 0 ? spec.low - 0.5 : spec.low), high: Math.log(spec.high + 0.5) }
        : { low: spec.low - 0.5, high: spec.high + 0.5 };
  }
}

/** Internal coordinate → the value a trial receives, clamped into the declared range. */
export function fromInternal(spec: Exclude<ParamSpec, { type: 'choice' }>, x: number): number {
  switch (spec.type) {
    case 'uniform':
      return clamp(x, spec.low, spec.high);
    case 'loguniform':
      return clamp(Math.exp(x), spec.low, spec.high);
    case 'int':
      return clamp(Math.round(spec.log ? Math.exp(x) : x), spec.low, spec.high);
  }
}

/** A value → the internal coordinate (inverse of fromInternal up to rounding). */
export function toInternal(spec: Exclude<ParamSpec, { type: 'choice' }>, value: number): number {
  return spec.type === 'loguniform' || (spec.type === 'int' && spec.log) ? Math.log(value) : value;
}

function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}

/** One independent uniform draw from the whole space. */
export function sampleUniform(space: SearchSpace, rng: Rng): Params {
  const params: Params = {};
  for (const [name, spec] of Object.entries(space)) {
    if (spec.type === 'choice') {
      params[name] = spec.values[randomIndex(rng, spec.values.length)] as ParamValue;
    } else {
      const { low, high } = internalBounds(spec);
      params[name] = fromInternal(spec, low + rng.next() * (high - low));
    }
  }
  return params;
}

/** The grid values of one parameter: every choice; `points` evenly spaced values of a range. */
export function gridValues(spec: ParamSpec, points: number): ParamValue[] {
  if (spec.type === 'choice') return [...spec.values];
  if (spec.low === spec.high || points <= 1) return [spec.low];
  if (spec.type === 'int' && !spec.log && spec.high - spec.low + 1 <= points) {
    return Array.from({ length: spec.high - spec.low + 1 }, (_, i) => spec.low + i);
  }
  const log = spec.type === 'loguniform' || (spec.type === 'int' && spec.log === true);
  const low = log ? Math.log(spec.low) : spec.low;
  const high = log ? Math.log(spec.high) : spec.high;
  const values: number[] = [];
  for (let i = 0; i < points; i++) {
    const x = low + ((high - low) * i) / (points - 1);
    let value = log ? Math.exp(x) : x;
    // exp(log(x)) drifts in the last digits; keep the declared ends exact.
    if (i === 0) value = spec.low;
    if (i === points - 1) value = spec.high;
    if (spec.type === 'int') value = Math.round(value);
    if (!values.includes(value)) values.push(value);
  }
  return values;
}

/** How many points a full grid over the space has. */
export function gridSize(space: SearchSpace, points: number): number {
  return Object.values(space).reduce((n, spec) => n * gridValues(spec, points).length, 1);
}

/** The i-th point of the grid (row-major, the last parameter varying fastest). */
export function gridPoint(space: SearchSpace, points: number, index: number): Params {
  const entries = Object.entries(space);
  const params: Params = {};
  let rest = index;
  for (let i = entries.length - 1; i >= 0; i--) {
    const [name, spec] = entries[i] as [string, ParamSpec];
    const values = gridValues(spec, points);
    params[name] = values[rest % values.length] as ParamValue;
    rest = Math.floor(rest / values.length);
  }
  // Keep the declared parameter order in the result.
  return Object.fromEntries(entries.map(([name]) => [name, params[name] as ParamValue]));
}
