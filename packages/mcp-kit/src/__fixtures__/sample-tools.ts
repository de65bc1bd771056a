import { z } from 'zod';
import { paginate } from '../cursor.ts';
import { toolDefiner } from '../define-tool.ts';
import { ToolError } from '../errors.ts';

/** A small tool set the kit's tests drive through every path: success, expected and unexpected failures. */
export interface SampleDeps {
  words: string[];
  calls: string[];
}

const defineTool = toolDefiner<SampleDeps>();

export const sampleTools = [
  defineTool({
    name: 'sample_list_words',
    title: 'List words',
    description: 'Lists the words the sample server knows, a page at a time. Pass nextCursor back for more.',
    toolset: 'words',
    input: z.object({
      limit: z.number().int().min(1).max(100).default(10).describe('How many words per page.'),
      cursor: z.string().optional().describe('The nextCursor of a previous call.'),
    }),
    output: z.object({
      words: z.array(z.string()),
      total: z.number(),
      nextCursor: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    async handler(input, deps) {
      const page = paginate(deps.words, { cursor: input.cursor, limit: input.limit });
      return {
        structured: {
          words: page.items,
          total: page.total,
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        },
        text: page.items.join(' '),
      };
    },
  }),
  defineTool({
    name: 'sample_get_word',
    title: 'Get a word',
    description: 'Returns one word by its index; fails with a clear message when the index is unknown.',
    toolset: 'words',
    input: z.object({ index: z.number().int().describe('Zero-based index of the word.') }),
    output: z.object({ index: z.number(), word: z.string() }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    async handler({ index }, deps) {
      const word = deps.words[index];
      if (word === undefined) {
        throw new ToolError(
          'not_found',
          `word ${index} not found; valid indexes are 0..${deps.words.length - 1}.`,
        );
      }
      return { structured: { index, word } };
    },
  }),
  defineTool({
    name: 'sample_add_word',
    title: 'Add a word',
    description: 'Adds a word to the list. Reversible (remove it again), so not destructive.',
    toolset: 'edit',
    input: z.object({ word: z.string().min(1).max(40).describe('The word to add.') }),
    output: z.object({ added: z.string(), total: z.number() }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    async handler({ word }, deps) {
      deps.words.push(word);
      deps.calls.push(`add:${word}`);
      return { structured: { added: word, total: deps.words.length } };
    },
  }),
  defineTool({
    name: 'sample_count_slowly',
    title: 'Count slowly',
    description: 'Counts to n, reporting progress on the way; used to exercise progress notifications.',
    toolset: 'words',
    input: z.object({ n: z.number().int().min(1).max(50).describe('Where to count to.') }),
    output: z.object({ counted: z.number() }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    async handler({ n }, _deps, context) {
      for (let i = 1; i <= n; i++) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        await context.progress({ progress: i, total: n, message: `counted ${i}` });
      }
      return { structured: { counted: n } };
    },
  }),
  defineTool({
    name: 'sample_explode',
    title: 'Explode',
    description: 'Always fails with an unexpected error, to prove the server survives bugs in a handler.',
    toolset: 'edit',
    input: z.object({ secret: z.string().optional().describe('Ignored.') }),
    output: z.object({ never: z.boolean() }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
    async handler() {
      throw new TypeError('internal detail: cannot read property of undefined at /srv/secret/path.ts:12');
    },
  }),
];
