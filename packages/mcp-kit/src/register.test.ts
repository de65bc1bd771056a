import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type SampleDeps, sampleTools } from './__fixtures__/sample-tools.ts';
import { createLogger } from './logger.ts';
import { registerTools } from './register.ts';
import { type ConnectedClient, connectInMemory } from './testing.ts';

let connected: ConnectedClient | undefined;
afterEach(async () => {
  await connected?.close();
  connected = undefined;
});

async function start(options: { readOnly?: boolean } = {}) {
  const logs: string[] = [];
  const deps: SampleDeps = { words: ['alpha', 'beta', 'gamma', 'delta', 'epsilon'], calls: [] };
  const server = new McpServer({ name: 'sample', version: '0.0.0' });
  registerTools(server, sampleTools, deps, {
    ...options,
    logger: createLogger('test', { write: (l) => logs.push(l) }),
  });
  connected = await connectInMemory(server);
  return { client: connected.client, deps, logs };
}

describe('registerTools over the real protocol', () => {
  it('lists every tool with its annotations and output schema', async () => {
    const { client } = await start();
    const { tools } = await client.listTools();
    const add = tools.find((t) => t.name === 'sample_add_word');
    expect(add?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
    });
    expect(add?.outputSchema?.properties).toHaveProperty('total');
    expect(tools.map((t) => t.name)).toHaveLength(sampleTools.length);
  });

  it('read-only mode hides write tools from the client', async () => {
    const { client } = await start({ readOnly: true });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('sample_add_word');
    expect(names).not.toContain('sample_explode');
    expect(names).toContain('sample_list_words');
  });

  it('returns structured content with a text rendering and pages with a cursor', async () => {
    const { client } = await start();
    const first = await client.callTool({ name: 'sample_list_words', arguments: { limit: 2 } });
    expect(first.isError).toBeFalsy();
    const structured = first.structuredContent as { words: string[]; total: number; nextCursor?: string };
    expect(structured.words).toEqual(['alpha', 'beta']);
    expect(structured.total).toBe(5);
    expect(first.content).toEqual([{ type: 'text', text: 'alpha beta' }]);
    const second = await client.callTool({
      name: 'sample_list_words',
      arguments: { limit: 10, cursor: structured.nextCursor },
    });
    expect((second.structuredContent as { words: string[] }).words).toEqual(['gamma', 'delta', 'epsilon']);
    expect(second.structuredContent).not.toHaveProperty('nextCursor');
  });

  it('turns an expected failure into isError text the model can act on', async () => {
    const { client } = await start();
    const result = await client.callTool({ name: 'sample_get_word', arguments: { index: 99 } });
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: 'text', text: 'word 99 not found; valid indexes are 0..4.' }]);
  });

  it('answers a bug generically, logs it, and keeps serving', async () => {
    const { client, logs } = await start();
    const result = await client.callTool({ name: 'sample_explode', arguments: {} });
    expect(result.isError).toBe(true);
    const text = (result.content as Array<{ text: string }>)[0]?.text ?? '';
    expect(text).toMatch(/internal error/);
    expect(text).not.toMatch(/secret\/path|TypeError/);
    expect(logs.join('\n')).toMatch(/sample_explode failed unexpectedly.*secret\/path/);
    const after = await client.callTool({ name: 'sample_get_word', arguments: { index: 0 } });
    expect(after.structuredContent).toEqual({ index: 0, word: 'alpha' });
  });

  it('rejects malformed input with a validation message and runs nothing', async () => {
    const { client, deps } = await start();
    const result = await client.callTool({ name: 'sample_add_word', arguments: { word: 42 } });
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(/Input validation error.*word/s);
    expect(deps.calls).toEqual([]);
  });

  it('rejects a forged cursor', async () => {
    const { client } = await start();
    const result = await client.callTool({
      name: 'sample_list_words',
      arguments: { cursor: 'c1.bm90LWpzb24' },
    });
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(
      /cursor is not one this server issued/,
    );
  });

  it('sends progress notifications when the client asks for them', async () => {
    const { client } = await start();
    const seen: Array<{ progress: number; total?: number }> = [];
    const result = await client.callTool({ name: 'sample_count_slowly', arguments: { n: 20 } }, undefined, {
      onprogress: (p) => seen.push(p),
    });
    expect(result.structuredContent).toEqual({ counted: 20 });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toMatchObject({ progress: 20, total: 20 });
    // Throttled: fewer notifications than steps, and never backwards.
    expect(seen.length).toBeLessThan(20);
    expect(seen.map((p) => p.progress)).toEqual([...seen.map((p) => p.progress)].sort((a, b) => a - b));
  });
});
