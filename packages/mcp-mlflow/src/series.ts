/**
 * Pure analysis of one metric series: summary statistics, trend, plateau and health flags,
 * and a downsampling that keeps what a reader must not lose (first, last, exact extremes).
 * No I/O here, so every rule is testable on plain arrays.
 */

export interface Point {
  step: number;
  value: number;
  timestamp: number;
}

export type Goal = 'minimize' | 'maximize';

export interface PointRef {
  step: number;
  value: number | null;
}

export interface SeriesSummary {
  goal: Goal;
  /** True when the goal was guessed from the metric's name. */
  goalInferred: boolean;
  first: PointRef | null;
  last: PointRef | null;
  min: PointRef | null;
  max: PointRef | null;
  best: PointRef | null;
  /** NaN and ±Inf values (MLflow stores +Inf as the largest double; counted here too). */
  nonFiniteCount: number;
  firstNonFiniteStep: number | null;
  trend: {
    direction: 'improving' | 'worsening' | 'flat' | 'unknown';
    /** Change of the window's mean between its first and second half, relative to its scale. */
    relativeChange: number | null;
    windowSteps: number;
  };
  plateau: {
    flag: boolean;
    /** How much the best value improved over the last `windowSteps` steps, relative to the earlier best. */
    relativeImprovement: number | null;
    windowSteps: number;
    threshold: number;
  };
  /** The series got worse than where it started after having improved, or ended non-finite. */
  diverging: boolean;
  divergenceReason: string | null;
}

export interface SummaryOptions {
  goal?: Goal | undefined;
  /** Steps at the end of the series the plateau and trend look at (default: a fifth of the range, ≥ 5). */
  windowSteps?: number | undefined;
  /** Relative improvement below which the series counts as plateaued (default 0.01). */
  plateauThreshold?: number | undefined;
}

const maximizeWords =
  /(acc|accuracy|f1|auc|precision|recall|map|iou|dice|bleu|rouge|r2|score|reward|return|psnr|ssim|throughput)/i;
const minimizeWords = /(loss|error|err|mse|mae|rmse|perplexity|ppl|wer|cer|fid|latency|nll)/i;

/** Guesses whether lower or higher is better from the metric's name (loss → lower, acc → higher). */
export function inferGoal(key: string): { goal: Goal; inferred: boolean } {
  if (minimizeWords.test(key)) return { goal: 'minimize', inferred: true };
  if (maximizeWords.test(key)) return { goal: 'maximize', inferred: true };
  return { goal: 'minimize', inferred: true };
}

/** MLflow's SQL stores clamp +/-Infinity to ±Number.MAX_VALUE; treat those as non-finite. */
export function isUsable(value: number): boolean {
  return Number.isFinite(value) && Math.abs(value) < Number.MAX_VALUE;
}

/** Sorts by step, then by timestamp, so repeated steps keep their logging order. */
export function sortPoints(points: Point[]): Point[] {
  return points.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
}

const ref = (p: Point | undefined): PointRef | null =>
  p ? { step: p.step, value: isUsable(p.value) ? p.value : null } : null;

/** Summarizes a series already sorted by step. */
export function summarize(
  key: string,
  points: readonly Point[],
  options: SummaryOptions = {},
): SeriesSummary {
  const inferred = inferGoal(key);
  const goal = options.goal ?? inferred.goal;
  const better = (a: number, b: number) => (goal === 'minimize' ? a < b : a > b);
  const threshold = options.plateauThreshold ?? 0.01;

  let min: Point | undefined;
  let max: Point | undefined;
  let nonFiniteCount = 0;
  let firstNonFiniteStep: number | null = null;
  for (const p of points) {
    if (!isUsable(p.value)) {
      nonFiniteCount++;
      firstNonFiniteStep ??= p.step;
      continue;
    }
    if (!min || p.value < min.value) min = p;
    if (!max || p.value > max.value) max = p;
  }
  const best = goal === 'minimize' ? min : max;
  const finite = points.filter((p) => isUsable(p.value));
  const firstStep = points[0]?.step ?? 0;
  const lastStep = points.at(-1)?.step ?? 0;
  const windowSteps = Math.max(options.windowSteps ?? Math.ceil((lastStep - firstStep) / 5), 1);
  const windowStart = lastStep - windowSteps;

  // Trend: the window's later half against its earlier half.
  const window = finite.filter((p) => p.step > windowStart);
  let direction: SeriesSummary['trend']['direction'] = 'unknown';
  let relativeChange: number | null = null;
  if (window.length >= 4) {
    const half = Math.floor(window.length / 2);
    const mean = (xs: readonly Point[]) => xs.reduce((s, p) => s + p.value, 0) / xs.length;
    const early = mean(window.slice(0, half));
    const late = mean(window.slice(half));
    const scale = Math.max(Math.abs(early), Math.abs(late), Number.EPSILON);
    relativeChange = (late - early) / scale;
    if (Math.abs(relativeChange) < threshold / 2) direction = 'flat';
    else direction = better(late, early) ? 'improving' : 'worsening';
  }

  // Plateau: the best before the window against the best inside it.
  const before = finite.filter((p) => p.step <= windowStart);
  let relativeImprovement: number | null = null;
  let plateau = false;
  if (before.length > 0 && window.length > 0) {
    const bestOf = (xs: readonly Point[]) =>
      xs.reduce((b, p) => (better(p.value, b) ? p.value : b), xs[0]?.value ?? 0);
    const earlier = bestOf(before);
    const recent = bestOf(window);
    const gain = goal === 'minimize' ? earlier - recent : recent - earlier;
    relativeImprovement = gain / Math.max(Math.abs(earlier), Number.EPSILON);
    plateau = relativeImprovement < threshold;
  }

  // Divergence: ended non-finite, or now worse than the start after having improved past it.
  const lastPoint = points.at(-1);
  const firstFinite = finite[0];
  const lastFinite = finite.at(-1);
  let divergenceReason: string | null = null;
  if (lastPoint && !isUsable(lastPoint.value)) {
    divergenceReason = `the last value (step ${lastPoint.step}) is NaN or infinite`;
  } else if (firstFinite && lastFinite && best && best !== firstFinite && finite.length >= 3) {
    const span = Math.abs(firstFinite.value - best.value);
    if (span > 0 && better(firstFinite.value, lastFinite.value)) {
      divergenceReason = `the last value ${lastFinite.value} is worse than the first ${firstFinite.value}, after reaching ${best.value} at step ${best.step}`;
    }
  }

  return {
    goal,
    goalInferred: options.goal === undefined,
    first: ref(points[0]),
    last: ref(lastPoint),
    min: ref(min),
    max: ref(max),
    best: ref(best),
    nonFiniteCount,
    firstNonFiniteStep,
    trend: { direction, relativeChange, windowSteps },
    plateau: { flag: plateau, relativeImprovement, windowSteps, threshold },
    diverging: divergenceReason !== null,
    divergenceReason,
  };
}

/**
 * At most `maxPoints` points, in step order, always keeping the first and last point, the
 * exact minimum and maximum and the first non-finite point; the rest of the budget goes to a
 * per-bucket min/max (M4-style), which preserves the shape of spikes.
 */
export function downsample(points: readonly Point[], maxPoints: number): Point[] {
  if (points.length <= maxPoints) return [...points];
  const keep = new Set<number>([0, points.length - 1]);
  let minI = -1;
  let maxI = -1;
  let nonFiniteI = -1;
  points.forEach((p, i) => {
    if (!isUsable(p.value)) {
      if (nonFiniteI < 0) nonFiniteI = i;
      return;
    }
    if (minI < 0 || p.value < (points[minI] as Point).value) minI = i;
    if (maxI < 0 || p.value > (points[maxI] as Point).value) maxI = i;
  });
  for (const i of [minI, maxI, nonFiniteI]) if (i >= 0) keep.add(i);
  const budget = Math.max(0, maxPoints - keep.size);
  const buckets = Math.floor(budget / 2);
  if (buckets > 0) {
    const size = points.length / buckets;
    for (let b = 0; b < buckets; b++) {
      const from = Math.floor(b * size);
      const to = Math.min(points.length, Math.floor((b + 1) * size));
      let lo = -1;
      let hi = -1;
      for (let i = from; i < to; i++) {
        const v = (points[i] as Point).value;
        if (!isUsable(v)) continue;
        if (lo < 0 || v < (points[lo] as Point).value) lo = i;
        if (hi < 0 || v > (points[hi] as Point).value) hi = i;
      }
      if (lo >= 0) keep.add(lo);
      if (hi >= 0) keep.add(hi);
    }
  }
  const indices = [...keep].sort((a, b) => a - b);
  // Bucket picks can overlap the fixed ones; trim bucket picks, never the fixed ones.
  const fixed = new Set([0, points.length - 1, minI, maxI, nonFiniteI]);
  while (indices.length > maxPoints) {
    const drop = indices.findIndex((i) => !fixed.has(i));
    if (drop < 0) break;
    indices.splice(drop, 1);
  }
  return indices.map((i) => points[i] as Point);
}

/** The training twin of a validation metric name, among keys that exist: val_loss → train_loss or loss. */
export function trainingTwin(key: string, existing: readonly string[]): string | undefined {
  const match = /^(val|valid|validation|eval|test)([_/.-])(.+)$/i.exec(key);
  if (!match) return undefined;
  const [, , sep, rest] = match;
  const candidates = [
    `train${sep}${rest}`,
    `training${sep}${rest}`,
    `train_${rest}`,
    `train/${rest}`,
    `${rest}`,
  ];
  return candidates.find((c) => c !== key && existing.includes(c));
}

/**
 * Overfitting: over the same recent window, the training metric keeps improving while its
 * validation twin gets worse.
 */
export function overfitting(train: SeriesSummary, validation: SeriesSummary): boolean {
  return train.trend.direction === 'improving' && validation.trend.direction === 'worsening';
}
