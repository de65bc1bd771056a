import { describe, expect, it } from 'vitest';
import { downsample, inferGoal, overfitting, type Point, summarize, trainingTwin } from './series.ts';

const series = (values: number[]): Point[] => values.map((value, step) => ({ step, value, timestamp: step }));

describe('summarize', () => {
  it('finds first, last, min, max and best with their steps', () => {
    const s = summarize('val_loss', series([3, 1, 2, 0.5, 0.7]));
    expect(s.goal).toBe('minimize');
    expect(s.first).toEqual({ step: 0, value: 3 });
    expect(s.last).toEqual({ step: 4, value: 0.7 });
    expect(s.min).toEqual({ step: 3, value: 0.5 });
    expect(s.max).toEqual({ step: 0, value: 3 });
    expect(s.best).toEqual(s.min);
    expect(summarize('val_acc', series([0.1, 0.9, 0.8])).best).toEqual({ step: 1, value: 0.9 });
  });

  it('flags a plateau when the last window barely improves on the best before it', () => {
    const flat = series(
      Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 - i / 100 : 0.5 - (i - 50) * 1e-6)),
    );
    const s = summarize('loss', flat, { windowSteps: 30 });
    expect(s.plateau.flag).toBe(true);
    expect(s.plateau.relativeImprovement).toBeLessThan(0.01);
    const improving = summarize('loss', series(Array.from({ length: 100 }, (_, i) => 1 / (i + 1))), {
      windowSteps: 30,
    });
    expect(improving.plateau.flag).toBe(false);
    expect(improving.trend.direction).toBe('improving');
  });

  it('counts NaN and infinite values (including MLflow’s clamped +Inf) and calls a NaN ending divergence', () => {
    const s = summarize('loss', series([1, 0.5, Number.NaN, Number.MAX_VALUE, Number.NaN]));
    expect(s.nonFiniteCount).toBe(3);
    expect(s.firstNonFiniteStep).toBe(2);
    expect(s.diverging).toBe(true);
    expect(s.last).toEqual({ step: 4, value: null });
    expect(s.min).toEqual({ step: 1, value: 0.5 });
  });

  it('calls divergence when a loss climbs back above where it started', () => {
    expect(summarize('loss', series([1, 0.5, 0.4, 2, 5])).diverging).toBe(true);
    expect(summarize('loss', series([1, 0.5, 0.4, 0.45])).diverging).toBe(false);
  });
});

describe('downsample', () => {
  it('keeps at most N points including first, last and the exact extremes', () => {
    const values = Array.from(
      { length: 100_000 },
      (_, i) => Math.sin(i / 500) + (i === 31_337 ? -7 : 0) + (i === 77_777 ? 9 : 0),
    );
    const out = downsample(series(values), 200);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out[0]?.step).toBe(0);
    expect(out.at(-1)?.step).toBe(99_999);
    expect(out.map((p) => p.step)).toEqual(expect.arrayContaining([31_337, 77_777]));
    expect(Math.min(...out.map((p) => p.value))).toBe(Math.min(...values));
    expect(Math.max(...out.map((p) => p.value))).toBe(Math.max(...values));
    const steps = out.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  });

  it('returns short series unchanged and keeps the first non-finite point', () => {
    expect(downsample(series([1, 2, 3]), 10)).toHaveLength(3);
    const withNaN = series(Array.from({ length: 1000 }, (_, i) => (i === 500 ? Number.NaN : i)));
    expect(downsample(withNaN, 10).map((p) => p.step)).toContain(500);
  });
});

describe('metric names', () => {
  it('infers the goal and finds training twins', () => {
    expect(inferGoal('val/accuracy').goal).toBe('maximize');
    expect(inferGoal('train_loss').goal).toBe('minimize');
    expect(trainingTwin('val_loss', ['train_loss', 'val_loss'])).toBe('train_loss');
    expect(trainingTwin('val/loss', ['train/loss'])).toBe('train/loss');
    expect(trainingTwin('val_loss', ['loss'])).toBe('loss');
    expect(trainingTwin('train_loss', ['loss'])).toBeUndefined();
  });

  it('flags overfitting when training improves while validation worsens', () => {
    const train = summarize('train_loss', series(Array.from({ length: 50 }, (_, i) => 1 / (i + 1))), {
      windowSteps: 20,
    });
    const val = summarize(
      'val_loss',
      series(Array.from({ length: 50 }, (_, i) => (i < 25 ? 1 - i / 50 : 0.5 + (i - 25) / 50))),
      { windowSteps: 20 },
    );
    expect(overfitting(train, val)).toBe(true);
    expect(overfitting(train, train)).toBe(false);
  });
});
