import { describe, expect, it } from 'vitest';
import { defaultConfirmPhrases, defaultRejectPhrases } from '../config.ts';
import { parseDecision } from './decision.ts';
import { isNightshiftServer } from './host-impl.ts';
import { classifyTool } from './policy.ts';

const classify = (annotations: Record<string, boolean> | undefined, trusted = true, overrides = {}) =>
  classifyTool({ server: 'git', tool: 'git_commit', trusted, annotations, overrides }).policyClass;

describe('policy classes', () => {
  it('derives the class from a trusted server’s annotations', () => {
    expect(classify({ readOnlyHint: true })).toBe('read');
    expect(classify({ readOnlyHint: false, destructiveHint: false })).toBe('act');
    expect(classify({ readOnlyHint: false, destructiveHint: true })).toBe('confirm');
    expect(classify({ readOnlyHint: false })).toBe('confirm');
    expect(classify(undefined)).toBe('confirm');
  });

  it('ignores an untrusted server’s annotations', () => {
    expect(classify({ readOnlyHint: true }, false)).toBe('confirm');
    expect(classify({ readOnlyHint: false, destructiveHint: false }, false)).toBe('confirm');
  });

  it('lets explicit config win, most specific key first', () => {
    expect(classify({ readOnlyHint: true }, true, { git_commit: 'deny' })).toBe('deny');
    expect(classify({ readOnlyHint: true }, false, { 'git/*': 'read' })).toBe('read');
    expect(classify({}, true, { 'git/*': 'deny', 'git/git_commit': 'act' })).toBe('act');
  });

  it('trusts Nightshift’s own servers by default', () => {
    expect(isNightshiftServer({ command: 'nightshift-mcp-git', args: [], env: {} })).toBe(true);
    expect(isNightshiftServer({ command: 'npx', args: ['-y', '@nightshift/mcp-mlflow'], env: {} })).toBe(
      true,
    );
    expect(isNightshiftServer({ command: 'npx', args: ['-y', '@other/mcp-git'], env: {} })).toBe(false);
    expect(isNightshiftServer({ url: 'http://127.0.0.1:1/mcp', headers: {} })).toBe(false);
  });
});

describe('confirm and reject phrases', () => {
  const phrases = { confirm: defaultConfirmPhrases, reject: defaultRejectPhrases };
  it('matches whole-message phrases, case and punctuation aside', () => {
    for (const text of ['yes', 'Yes!', 'go ahead.', 'Kör på!', 'KÖR PÅ']) {
      expect(parseDecision(text, phrases)).toEqual({ kind: 'confirm', numbers: [] });
    }
    expect(parseDecision('no', phrases)).toEqual({ kind: 'reject', numbers: [] });
    expect(parseDecision('Cancel', phrases)).toEqual({ kind: 'reject', numbers: [] });
  });
  it('reads named proposals', () => {
    expect(parseDecision('confirm P-7', phrases)).toEqual({ kind: 'confirm', numbers: [7] });
    expect(parseDecision('yes p-3 and P-4', phrases)).toEqual({ kind: 'confirm', numbers: [3, 4] });
    expect(parseDecision('reject P-2', phrases)).toEqual({ kind: 'reject', numbers: [2] });
  });
  it('does not read a longer message as a decision', () => {
    expect(parseDecision('yes, but use lr 1e-4 instead', phrases)).toBeUndefined();
    expect(parseDecision('why not?', phrases)).toBeUndefined();
    expect(parseDecision('P-7', phrases)).toBeUndefined();
  });
});
