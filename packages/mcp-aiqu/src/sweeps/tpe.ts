import { normal, type Rng, randomIndex } from './random.ts';
import {
  fromInternal,
  internalBounds,
  type ParamSpec,
  type Params,
  type ParamValue,
  type SearchSpace,
  sampleUniform,
  toInternal,
} from './space.ts';

/**
 * A finished trial as the samplers see it. `loss` is oriented so smaller is better (a
 * maximised metric is negated); `step` is how far a pruned trial got.
 */
export interface Observation {
  params: Params;
  loss: number;
  state: 'completed' | 'pruned';
  step?: number;
}

export interface TpeOptions {
  /** Random suggestions before the model takes over (Optuna's default is 10). */
  startupTrials?: number;
  /** Candidates drawn from the good-trials density per parameter; the best ratio wins. */
  candidates?: number;
  /** How many of n observations count as good; default min(ceil(0.1 n), 25), as in Optuna. */
  gamma?: (n: number) => number;
  /** Weight of the prior component (a wide Gaussian over the whole range). */
  priorWeight?: number;
}

const defaultGamma = (n: number) => Math.min(Math.ceil(0.1 * n), 25);

/**
 * Tree-structured Parzen Estimator (Bergstra et al., 2011), univariate as in Optuna's default:
 * split the history at the gamma quantile of the loss into good (l) and bad (g) trials, fit a
 * Parzen estimator (a mixture of truncated Gaussians, or smoothed category weights) to each per
 * parameter, draw candidates from l and keep the one maximising l(x)/g(x), which maximises
 * expected improvement under the TPE model.
 */
export function suggestTpe(
  space: SearchSpace,
  observations: readonly Observation[],
  rng: Rng,
  options: TpeOptions = {},
): Params {
  const startup = options.startupTrials ?? 10;
  const usable = observations.filter((o) => Number.isFinite(o.loss));
  if (usable.length < Math.max(startup, 2)) return sampleUniform(space, rng);

  const nBelow = Math.max(1, Math.min(usable.length - 1, (options.gamma ?? defaultGamma)(usable.length)));
  const { below, above } = splitObservations(usable, nBelow);
  const candidates = options.candidates ?? 24;
  const priorWeight = options.priorWeight ?? 1;

  const params: Params = {};
  for (const [name, spec] of Object.entries(space)) {
    const good = below.map((o) => o.params[name]).filter((v) => v !== undefined) as ParamValue[];
    const bad = above.map((o) => o.params[name]).filter((v) => v !== undefined) as ParamValue[];
    params[name] =
      spec.type === 'choice'
        ? suggestCategorical(spec.values, good, bad, rng, candidates, priorWeight)
        : suggestNumeric(spec, good as number[], bad as number[], rng, candidates, priorWeight);
  }
  return params;
}

/**
 * Completed trials rank by loss; pruned trials after them, deeper ones first (they survived
 * longer), then by their last value, as Optuna does.
 */
export function splitObservations(
  observations: readonly Observation[],
  nBelow: number,
): { below: Observation[]; above: Observation[] } {
  const completed = observations.filter((o) => o.state === 'completed').sort((a, b) => a.loss - b.loss);
  const pruned = observations
    .filter((o) => o.state === 'pruned')
    .sort((a, b) => (b.step ?? 0) - (a.step ?? 0) || a.loss - b.loss);
  const ranked = [...completed, ...pruned];
  return { below: ranked.slice(0, nBelow), above: ranked.slice(nBelow) };
}

/** A mixture of Gaussians truncated to [low, high]. */
export interface ParzenEstimator {
  weights: number[];
  mus: number[];
  sigmas: number[];
  low: number;
  high: number;
}

/**
 * Bergstra's bandwidth rule: each kernel is as wide as the larger gap to its sorted
 * neighbours, with a prior kernel at the centre as wide as the range, and the "magic clip"
 * keeping kernels from collapsing onto a point.
 */
export function fitParzen(
  values: readonly number[],
  low: number,
  high: number,
  priorWeight: number,
): ParzenEstimator {
  const range = high - low || 1;
  const priorMu = 0.5 * (low + high);
  const points = [...values.map((v) => ({ mu: v, prior: false })), { mu: priorMu, prior: true }].sort(
    (a, b) => a.mu - b.mu,
  );
  const n = points.length;
  const sigmas = points.map((point, i) => {
    if (point.prior) return range;
    const left = i === 0 ? point.mu - low : point.mu - (points[i - 1] as { mu: number }).mu;
    const right = i === n - 1 ? high - point.mu : (points[i + 1] as { mu: number }).mu - point.mu;
    return Math.max(left, right);
  });
  const minSigma = range / Math.min(100, 1 + n);
  const clipped = sigmas.map((s) => Math.min(range, Math.max(minSigma, s)));
  const raw = points.map((p) => (p.prior ? priorWeight : 1));
  const total = raw.reduce((a, b) => a + b, 0);
  return { weights: raw.map((w) => w / total), mus: points.map((p) => p.mu), sigmas: clipped, low, high };
}

export function sampleParzen(estimator: ParzenEstimator, rng: Rng): number {
  let pick = rng.next();
  let k = 0;
  for (; k < estimator.weights.length - 1; k++) {
    pick -= estimator.weights[k] as number;
    if (pick < 0) break;
  }
  const mu = estimator.mus[k] as number;
  const sigma = estimator.sigmas[k] as number;
  for (let attempt = 0; attempt < 64; attempt++) {
    const x = mu + sigma * normal(rng);
    if (x >= estimator.low && x <= estimator.high) return x;
  }
  return Math.min(estimator.high, Math.max(estimator.low, mu));
}

export function logPdfParzen(estimator: ParzenEstimator, x: number): number {
  const terms = estimator.mus.map((mu, k) => {
    const sigma = estimator.sigmas[k] as number;
    const mass = normalCdf((estimator.high - mu) / sigma) - normalCdf((estimator.low - mu) / sigma);
    const z = (x - mu) / sigma;
    return (
      Math.log(estimator.weights[k] as number) -
      0.5 * z * z -
      Math.log(sigma * Math.sqrt(2 * Math.PI)) -
      Math.log(Math.max(mass, 1e-12))
    );
  });
  return logSumExp(terms);
}

function suggestNumeric(
  spec: Exclude<ParamSpec, { type: 'choice' }>,
  good: number[],
  bad: number[],
  rng: Rng,
  candidates: number,
  priorWeight: number,
): number {
  const { low, high } = internalBounds(spec);
  if (low === high) return fromInternal(spec, low);
  const l = fitParzen(
    good.map((v) => toInternal(spec, v)),
    low,
    high,
    priorWeight,
  );
  const g = fitParzen(
    bad.map((v) => toInternal(spec, v)),
    low,
    high,
    priorWeight,
  );
  let best = sampleParzen(l, rng);
  let bestScore = logPdfParzen(l, best) - logPdfParzen(g, best);
  for (let i = 1; i < candidates; i++) {
    const x = sampleParzen(l, rng);
    const score = logPdfParzen(l, x) - logPdfParzen(g, x);
    if (score > bestScore) {
      best = x;
      bestScore = score;
    }
  }
  return fromInternal(spec, best);
}

/** Category weights: a prior spread evenly, plus one per observation (Optuna's smoothing). */
export function categoryWeights(
  values: readonly ParamValue[],
  observed: readonly ParamValue[],
  priorWeight: number,
): number[] {
  const weights = values.map(() => priorWeight / values.length);
  for (const value of observed) {
    const index = values.indexOf(value);
    if (index >= 0) weights[index] = (weights[index] as number) + 1;
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

function suggestCategorical(
  values: readonly ParamValue[],
  good: ParamValue[],
  bad: ParamValue[],
  rng: Rng,
  candidates: number,
  priorWeight: number,
): ParamValue {
  const l = categoryWeights(values, good, priorWeight);
  const g = categoryWeights(values, bad, priorWeight);
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < candidates; i++) {
    const index = drawIndex(l, rng);
    const score = Math.log(l[index] as number) - Math.log(g[index] as number);
    if (score > bestScore) {
      best = index;
      bestScore = score;
    }
  }
  return values[best < 0 ? randomIndex(rng, values.length) : best] as ParamValue;
}

function drawIndex(weights: readonly number[], rng: Rng): number {
  let pick = rng.next();
  for (let i = 0; i < weights.length; i++) {
    pick -= weights[i] as number;
    if (pick < 0) return i;
  }
  return weights.length - 1;
}

function logSumExp(terms: number[]): number {
  const max = Math.max(...terms);
  if (!Number.isFinite(max)) return max;
  return max + Math.log(terms.reduce((sum, t) => sum + Math.exp(t - max), 0));
}

/** Φ(x) through erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
