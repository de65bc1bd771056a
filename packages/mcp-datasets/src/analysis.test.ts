import { describe, expect, it } from 'vitest';
import { checkBox, jensenShannon, psi, sizeBucket } from './analysis.ts';

describe('box sizes as COCO defines them', () => {
  it('splits at 32² and 96² pixels', () => {
    expect(sizeBucket(32 * 32 - 1)).toBe('small');
    expect(sizeBucket(32 * 32)).toBe('medium');
    expect(sizeBucket(96 * 96 - 1)).toBe('medium');
    expect(sizeBucket(96 * 96)).toBe('large');
  });
});

describe('checkBox', () => {
  it('accepts a box inside the image, tolerating rounding at the edge', () => {
    expect(checkBox(0.5, 0.5, 0.2, 0.2, 100, 100)).toBe('ok');
    expect(checkBox(0.9, 0.5, 0.2 + 0.0005, 0.2, 100, 100)).toBe('ok');
  });
  it('flags boxes past an edge', () => {
    expect(checkBox(0.95, 0.5, 0.3, 0.2, 100, 100)).toBe('out_of_bounds');
    expect(checkBox(0.5, 0.02, 0.2, 0.2)).toBe('out_of_bounds');
  });
  it('flags zero, negative, non-finite and sub-pixel boxes', () => {
    expect(checkBox(0.5, 0.5, 0, 0.2)).toBe('degenerate');
    expect(checkBox(0.5, 0.5, 0.2, -0.1)).toBe('degenerate');
    expect(checkBox(0.5, Number.NaN, 0.2, 0.2)).toBe('degenerate');
    expect(checkBox(0.5, 0.5, 0.005, 0.2, 100, 100)).toBe('degenerate');
  });
});

describe('distribution shift', () => {
  it('is zero for identical distributions, whatever the totals', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 10);
    expect(jensenShannon([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 10);
  });
  it('matches hand-computed values', () => {
    // shares 0.5/0.5 → 0.8/0.2: PSI = 0.3·ln(1.6) + (−0.3)·ln(0.4)
    expect(psi([50, 50], [80, 20])).toBeCloseTo(0.3 * Math.log(1.6) - 0.3 * Math.log(0.4), 10);
    // JS of (1,0) and (0,1) is exactly one bit.
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 10);
    const m = [0.65, 0.35];
    const kl = (p: number[]) =>
      p.reduce((s, v, i) => s + (v > 0 ? v * Math.log2(v / (m[i] as number)) : 0), 0);
    expect(jensenShannon([50, 50], [80, 20])).toBeCloseTo(0.5 * kl([0.5, 0.5]) + 0.5 * kl([0.8, 0.2]), 10);
  });
  it('stays finite when a bin is empty on one side', () => {
    expect(Number.isFinite(psi([10, 0], [5, 5]))).toBe(true);
    expect(psi([10, 0], [5, 5])).toBeGreaterThan(0.25);
  });
});
