import { toolContract, toolListProblems } from '@nightshift/mcp-kit/testing';
import { describe, expect, it } from 'vitest';
import { datasetsTools } from './server.ts';

describe('datasets tool list', () => {
  it('matches the reviewed contract', async () => {
    await expect(JSON.stringify(toolContract(datasetsTools as never), null, 2)).toMatchFileSnapshot(
      './__snapshots__/datasets.contract.json',
    );
  });

  it('is fit to ship: hints stated, inputs described, names unique and prefixed', () => {
    expect(toolListProblems(datasetsTools as never)).toEqual([]);
    for (const tool of datasetsTools) {
      expect(tool.name).toMatch(/^datasets_[a-z]+_[a-z]+$/);
      expect(tool.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
  });
});
