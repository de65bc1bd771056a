import { describe, expect, it } from 'vitest';
import { evaluatePruner, type MetricPoint, type PrunerTrial, percentile, valueAtStep } from './pruners.ts';

const curve = (values: number[]): MetricPoint[] => values.map((value, step) => ({ step, value }));
const done = (id: string, values: number[]): PrunerTrial => ({
  id,
  state: 'completed',
  reports: curve(values),
});

describe('median stopping rule', () => {
  const peers = [
    done('a', [1.0, 0.8, 0.6, 0.5]),
    done('b', [1.0, 0.7, 0.5, 0.4]),
    done('c', [1.0, 0.9, 0.8, 0.7]),
  ];
  const spec = { type: 'median', startupTrials: 3 } as const;

  it('stops a trial whose best so far is worse than the completed median at its step', () => {
    const slow: PrunerTrial = { id: 't', state: 'running', reports: curve([1.2, 1.1, 1.0]) };
    const decision = evaluatePruner(spec, slow, peers, 'minimize');
    expect(decision.prune).toBe(true);
    expect(decision.reason).toContain('median of 3 completed trials at step 2');
  });

  it('keeps a trial at or better than the median, and waits for the startup trials', () => {
    const fast: PrunerTrial = { id: 't', state: 'running', reports: curve([1.0, 0.75, 0.55]) };
    expect(evaluatePruner(spec, fast, peers, 'minimize').prune).toBe(false);
    const slow: PrunerTrial = { id: 't', state: 'running', reports: curve([1.2, 1.1, 1.0]) };
    expect(evaluatePruner({ type: 'median', startupTrials: 4 }, slow, peers, 'minimize').prune).toBe(false);
    expect(evaluatePruner({ ...spec, warmupSteps: 3 }, slow, peers, 'minimize').prune).toBe(false);
  });

  it('reads maximised metrics the other way round', () => {
    const accPeers = [done('a', [0.1, 0.5, 0.7]), done('b', [0.1, 0.6, 0.8]), done('c', [0.1, 0.4, 0.6])];
    const low: PrunerTrial = { id: 't', state: 'running', reports: curve([0.1, 0.2, 0.3]) };
    const high: PrunerTrial = { id: 'u', state: 'running', reports: curve([0.1, 0.5, 0.75]) };
    expect(evaluatePruner(spec, low, accPeers, 'maximize').prune).toBe(true);
    expect(evaluatePruner(spec, high, accPeers, 'maximize').prune).toBe(false);
  });

  it('stops a diverged trial (NaN) whatever the rule', () => {
    const nan: PrunerTrial = { id: 't', state: 'running', reports: curve([1, Number.NaN]) };
    expect(evaluatePruner({ type: 'none' }, nan, [], 'minimize')).toMatchObject({ prune: true });
  });
});

describe('ASHA', () => {
  const spec = { type: 'asha', minResource: 1, reductionFactor: 3 } as const;

  it('records rung values and promotes only the top 1/eta at each rung', () => {
    // Rung 0 is at step 1; three trials already reached it with losses 0.5, 0.6, 0.7.
    const peers: PrunerTrial[] = [
      { id: 'a', state: 'running', reports: curve([1, 0.5]), rungs: { '0': 0.5 } },
      { id: 'b', state: 'running', reports: curve([1, 0.6]), rungs: { '0': 0.6 } },
      { id: 'c', state: 'pruned', reports: curve([1, 0.7]), rungs: { '0': 0.7 } },
    ];
    const good = evaluatePruner(
      spec,
      { id: 't', state: 'running', reports: curve([1, 0.4]) },
      peers,
      'minimize',
    );
    expect(good).toEqual({ prune: false, rungs: { '0': 0.4 } });
    const bad = evaluatePruner(
      spec,
      { id: 'u', state: 'running', reports: curve([1, 0.55]) },
      peers,
      'minimize',
    );
    expect(bad.prune).toBe(true);
    expect(bad.rungs).toEqual({ '0': 0.55 });
    expect(bad.reason).toContain('top 1/3 of 4 trials at rung 0');
  });

  it('does nothing before the first rung and resumes at the next rung from persisted values', () => {
    expect(evaluatePruner(spec, { id: 't', state: 'running', reports: curve([1]) }, [], 'minimize')).toEqual({
      prune: false,
    });
    // Already promoted past rung 0; at step 3 it meets rung 1 alone and goes on.
    const trial: PrunerTrial = {
      id: 't',
      state: 'running',
      reports: curve([1, 0.5, 0.4, 0.3]),
      rungs: { '0': 0.5 },
    };
    expect(evaluatePruner(spec, trial, [], 'minimize')).toEqual({
      prune: false,
      rungs: { '0': 0.5, '1': 0.3 },
    });
  });
});

describe('plateau rule', () => {
  it('stops a trial whose last k reports improved its best by no more than minDelta', () => {
    const flat: PrunerTrial = {
      id: 't',
      state: 'running',
      reports: curve([1, 0.5, 0.3, 0.3, 0.3001, 0.2999]),
    };
    const decision = evaluatePruner({ type: 'plateau', patience: 3, minDelta: 0.001 }, flat, [], 'minimize');
    expect(decision.prune).toBe(true);
    expect(decision.reason).toContain('last 3 reports');
  });

  it('keeps a trial still improving, and one with too few reports', () => {
    const improving: PrunerTrial = {
      id: 't',
      state: 'running',
      reports: curve([1, 0.5, 0.3, 0.2, 0.15, 0.1]),
    };
    expect(
      evaluatePruner({ type: 'plateau', patience: 3, minDelta: 0.001 }, improving, [], 'minimize').prune,
    ).toBe(false);
    const short: PrunerTrial = { id: 't', state: 'running', reports: curve([1, 1, 1]) };
    expect(evaluatePruner({ type: 'plateau', patience: 3 }, short, [], 'minimize').prune).toBe(false);
  });

  it('reads minDelta relative to the earlier best when asked', () => {
    const acc: PrunerTrial = { id: 't', state: 'running', reports: curve([0.5, 0.9, 0.905, 0.906]) };
    expect(
      evaluatePruner({ type: 'plateau', patience: 2, minDelta: 0.01, relative: true }, acc, [], 'maximize')
        .prune,
    ).toBe(true);
    expect(
      evaluatePruner({ type: 'plateau', patience: 2, minDelta: 0.001, relative: true }, acc, [], 'maximize')
        .prune,
    ).toBe(false);
  });
});

describe('helpers', () => {
  it('finds the value at or before a step and interpolates percentiles like numpy', () => {
    const reports = [
      { step: 0, value: 3 },
      { step: 5, value: 2 },
      { step: 10, value: 1 },
    ];
    expect(valueAtStep(reports, 7)).toBe(2);
    expect(valueAtStep(reports, -1)).toBeUndefined();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([5], 50)).toBe(5);
  });
});
