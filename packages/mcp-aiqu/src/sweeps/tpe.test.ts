import { describe, expect, it } from 'vitest';
import { createRng } from './random.ts';
import type { SearchSpace } from './space.ts';
import {
  categoryWeights,
  fitParzen,
  logPdfParzen,
  normalCdf,
  type Observation,
  sampleParzen,
  splitObservations,
  suggestTpe,
} from './tpe.ts';

describe('TPE', () => {
  it('splits completed trials by loss and ranks pruned ones below them, deepest first', () => {
    const obs: Observation[] = [
      { params: { x: 1 }, loss: 5, state: 'completed' },
      { params: { x: 2 }, loss: 1, state: 'completed' },
      { params: { x: 3 }, loss: 0.1, state: 'pruned', step: 2 },
      { params: { x: 4 }, loss: 0.5, state: 'pruned', step: 8 },
    ];
    const { below, above } = splitObservations(obs, 3);
    expect(below.map((o) => o.params.x)).toEqual([2, 1, 4]);
    expect(above.map((o) => o.params.x)).toEqual([3]);
  });

  it('fits a Parzen estimator that integrates to one over the range and peaks near the data', () => {
    const est = fitParzen([0.2, 0.25, 0.3], 0, 1, 1);
    let integral = 0;
    for (let x = 0.0005; x < 1; x += 0.001) integral += Math.exp(logPdfParzen(est, x)) * 0.001;
    expect(integral).toBeCloseTo(1, 2);
    expect(logPdfParzen(est, 0.25)).toBeGreaterThan(logPdfParzen(est, 0.9));
    const rng = createRng(3);
    for (let i = 0; i < 500; i++) {
      const x = sampleParzen(est, rng);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
    }
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
  });

  it('smooths category weights with the prior and counts observations', () => {
    const weights = categoryWeights(['a', 'b', 'c'], ['a', 'a', 'b'], 1);
    expect(weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 10);
    expect(weights[0]).toBeGreaterThan(weights[1] as number);
    expect(weights[2]).toBeGreaterThan(0);
  });

  it('draws randomly until the startup trials are in, then concentrates near the optimum', () => {
    const space: SearchSpace = {
      x: { type: 'uniform', low: -5, high: 5 },
      kind: { type: 'choice', values: ['good', 'bad', 'worse'] },
    };
    const objective = (p: Record<string, unknown>) =>
      ((p.x as number) - 2) ** 2 + (p.kind === 'good' ? 0 : p.kind === 'bad' ? 3 : 6);
    const run = (useTpe: boolean, seed: number) => {
      const history: Observation[] = [];
      for (let i = 0; i < 60; i++) {
        const rng = createRng(seed * 1000 + i);
        const params = useTpe
          ? suggestTpe(space, history, rng, { startupTrials: 10 })
          : suggestTpe(space, history, rng, { startupTrials: 1000 });
        history.push({ params, loss: objective(params), state: 'completed' });
      }
      return history;
    };
    let tpeBetter = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const tpe = run(true, seed);
      const random = run(false, seed);
      const late = (h: Observation[]) => h.slice(30).reduce((s, o) => s + o.loss, 0) / 30;
      if (late(tpe) < late(random)) tpeBetter++;
      const lateGood = tpe.slice(30).filter((o) => o.params.kind === 'good').length;
      expect(lateGood).toBeGreaterThan(15);
    }
    expect(tpeBetter).toBeGreaterThanOrEqual(9);
  });
});
