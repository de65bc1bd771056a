import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sampleTools } from './__fixtures__/sample-tools.ts';
import { defineTool } from './define-tool.ts';
import { selectTools } from './register.ts';
import { toolContract, toolListProblems } from './testing.ts';

const base = {
  title: 'T',
  description: 'A tool that exists for this test only.',
  toolset: 'x',
  input: z.object({}),
  output: z.object({}),
  handler: async () => ({ structured: {} }),
};

describe('defineTool', () => {
  it('rejects names the protocol does not allow', () => {
    expect(() =>
      defineTool({
        ...base,
        name: 'has space',
        annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
      }),
    ).toThrow(/must match/);
  });

  it('rejects a tool that leaves a hint unstated', () => {
    const annotations = { readOnlyHint: true, destructiveHint: false } as never;
    expect(() => defineTool({ ...base, name: 'x_y', annotations })).toThrow(/idempotentHint/);
  });

  it('rejects read-only and destructive at once', () => {
    expect(() =>
      defineTool({
        ...base,
        name: 'x_y',
        annotations: { readOnlyHint: true, destructiveHint: true, idempotentHint: true },
      }),
    ).toThrow(/both read-only and destructive/);
  });
});

describe('selectTools', () => {
  it('read-only mode keeps exactly the read-only tools', () => {
    const names = selectTools(sampleTools, { readOnly: true }).map((t) => t.name);
    expect(names).toEqual(sampleTools.filter((t) => t.annotations.readOnlyHint).map((t) => t.name));
    expect(names).not.toContain('sample_add_word');
  });

  it('filters by toolset and refuses unknown toolsets', () => {
    expect(selectTools(sampleTools, { toolsets: ['edit'] }).map((t) => t.name)).toEqual([
      'sample_add_word',
      'sample_explode',
    ]);
    expect(() => selectTools(sampleTools, { toolsets: ['nope'] })).toThrow(
      /unknown toolset.*nope.*known: words, edit/,
    );
  });
});

describe('tool list checks', () => {
  it('the sample tools are fit to ship', () => {
    expect(toolListProblems(sampleTools)).toEqual([]);
  });

  it('flags undescribed input fields and duplicate names', () => {
    const bad = defineTool({
      ...base,
      name: 'x_bad',
      input: z.object({ q: z.string() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    });
    expect(toolListProblems([bad, bad])).toEqual([
      'x_bad: input field "q" has no .describe()',
      'x_bad: duplicate name',
      'x_bad: input field "q" has no .describe()',
    ]);
  });

  it('the contract snapshot covers names, schemas and hints', async () => {
    await expect(JSON.stringify(toolContract(sampleTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/sample-tools.contract.json',
    );
  });
});
