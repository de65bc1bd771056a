import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSameProcessAlive, parseNvidiaSmiList, processStartTime, readTail } from './processes.ts';

describe('readTail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiqu-tail-'));

  it('numbers the last lines of a small file', () => {
    const path = join(dir, 'small.log');
    writeFileSync(path, 'one\ntwo\nthree\nfour\n');
    expect(readTail(path, 2)).toEqual({ lines: ['three', 'four'], firstLineNumber: 3, totalLines: 4 });
    expect(readTail(path, 10)).toEqual({
      lines: ['one', 'two', 'three', 'four'],
      firstLineNumber: 1,
      totalLines: 4,
    });
  });

  it('reads a large file from the end and still numbers lines exactly', () => {
    const path = join(dir, 'large.log');
    const count = 800_000;
    // ~45 bytes a line: well over the size read whole.
    const body = Array.from(
      { length: count },
      (_, i) => `line ${String(i + 1).padStart(8, '0')} ${'x'.repeat(30)}`,
    ).join('\n');
    writeFileSync(path, `${body}\n`);
    const tail = readTail(path, 3);
    expect(tail.totalLines).toBe(count);
    expect(tail.firstLineNumber).toBe(count - 2);
    expect(tail.lines[0]).toMatch(new RegExp(`^line ${String(count - 2).padStart(8, '0')} `));
    expect(tail.lines).toHaveLength(3);
  });

  it('returns nothing for a missing file', () => {
    expect(readTail(join(dir, 'missing.log'), 5)).toEqual({ lines: [], firstLineNumber: 1, totalLines: 0 });
  });
});

describe('process identity', () => {
  it('recognises this process and rejects a different start time', () => {
    const start = processStartTime(process.pid);
    expect(start).toBeTypeOf('number');
    expect(isSameProcessAlive(process.pid, start)).toBe(true);
    expect(isSameProcessAlive(process.pid, (start as number) + 1)).toBe(false);
  });
});

describe('parseNvidiaSmiList', () => {
  it('reads GPU indices and names', () => {
    const text = 'GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-2)\n';
    expect(parseNvidiaSmiList(text)).toEqual([
      { index: 0, name: 'NVIDIA A100-SXM4-40GB' },
      { index: 1, name: 'NVIDIA A100-SXM4-40GB' },
    ]);
    expect(parseNvidiaSmiList('NVIDIA-SMI has failed')).toEqual([]);
  });
});
