import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed } from './random.ts';
import { suggestParams } from './samplers.ts';
import {
  gridPoint,
  gridSize,
  gridValues,
  type SearchSpace,
  sampleUniform,
  searchSpaceSchema,
} from './space.ts';

const space: SearchSpace = {
  lr: { type: 'loguniform', low: 1e-5, high: 1e-1 },
  dropout: { type: 'uniform', low: 0, high: 0.5 },
  batch: { type: 'int', low: 16, high: 256, log: true },
  layers: { type: 'int', low: 1, high: 4 },
  optimizer: { type: 'choice', values: ['adam', 'sgd'] },
};

describe('search space', () => {
  it('refuses inverted ranges, empty spaces and bad names with messages that name the parameter', () => {
    const inverted = searchSpaceSchema.safeParse({ lr: { type: 'uniform', low: 1, high: 0 } });
    expect(inverted.success).toBe(false);
    expect(inverted.error?.issues[0]?.message).toContain('lr: low (1) must not exceed high (0)');
    expect(searchSpaceSchema.safeParse({}).success).toBe(false);
    expect(searchSpaceSchema.safeParse({ 'bad name': { type: 'choice', values: [1] } }).success).toBe(false);
    expect(searchSpaceSchema.safeParse({ lr: { type: 'loguniform', low: 0, high: 1 } }).success).toBe(false);
    expect(searchSpaceSchema.safeParse({ b: { type: 'int', low: 0, high: 8, log: true } }).success).toBe(
      false,
    );
    expect(searchSpaceSchema.safeParse(space).success).toBe(true);
  });

  it('draws every parameter inside its range, integers as integers, log ranges evenly in log', () => {
    const rng = createRng(7);
    const logs: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const p = sampleUniform(space, rng);
      expect(p.lr).toBeGreaterThanOrEqual(1e-5);
      expect(p.lr).toBeLessThanOrEqual(1e-1);
      expect(p.dropout).toBeGreaterThanOrEqual(0);
      expect(p.dropout).toBeLessThanOrEqual(0.5);
      expect(Number.isInteger(p.batch)).toBe(true);
      expect(p.batch).toBeGreaterThanOrEqual(16);
      expect(p.batch).toBeLessThanOrEqual(256);
      expect([1, 2, 3, 4]).toContain(p.layers);
      expect(['adam', 'sgd']).toContain(p.optimizer);
      logs.push(Math.log10(p.lr as number));
    }
    // Log-uniform over 4 decades: about a quarter of the draws in each decade.
    const lowest = logs.filter((l) => l < -4).length / logs.length;
    expect(lowest).toBeGreaterThan(0.2);
    expect(lowest).toBeLessThan(0.3);
  });

  it('enumerates a grid: all choices, evenly spaced ranges with exact ends, every integer when few', () => {
    expect(gridValues({ type: 'loguniform', low: 1e-4, high: 1e-2 }, 3)).toEqual([
      1e-4,
      expect.closeTo(1e-3, 12),
      1e-2,
    ]);
    expect(gridValues({ type: 'uniform', low: 0, high: 1 }, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(gridValues({ type: 'int', low: 1, high: 3 }, 5)).toEqual([1, 2, 3]);
    expect(gridValues({ type: 'int', low: 0, high: 100 }, 3)).toEqual([0, 50, 100]);
    const small: SearchSpace = {
      a: { type: 'choice', values: ['x', 'y'] },
      b: { type: 'int', low: 1, high: 3 },
    };
    expect(gridSize(small, 5)).toBe(6);
    const points = Array.from({ length: 6 }, (_, i) => gridPoint(small, 5, i));
    expect(points).toEqual([
      { a: 'x', b: 1 },
      { a: 'x', b: 2 },
      { a: 'x', b: 3 },
      { a: 'y', b: 1 },
      { a: 'y', b: 2 },
      { a: 'y', b: 3 },
    ]);
  });

  it('suggests the same parameters for the same seed and trial index (resume after restart)', () => {
    const a = suggestParams({ type: 'random' }, space, 3, [], 42);
    const b = suggestParams({ type: 'random' }, space, 3, [], 42);
    const c = suggestParams({ type: 'random' }, space, 4, [], 42);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
  });
});
