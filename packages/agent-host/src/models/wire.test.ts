import { afterEach, describe, expect, it } from 'vitest';
import { type FixtureHost, fixtureHost, say, write } from '../__fixtures__/harness.ts';
import {
  anthropicMessage,
  openAiCompletion,
  startWirePeer,
  type WirePeer,
} from '../__fixtures__/wire-peer.ts';
import { parseConfig } from '../config.ts';
import { createHost } from '../core/host.ts';
import { createModel, ModelNotConfiguredError } from './create-model.ts';

// The provider adapters at the HTTP wire level: the real SDKs against a local peer that speaks
// the provider's documented format and counts requests.

let peer: WirePeer | undefined;
let fx: FixtureHost | undefined;
afterEach(async () => {
  await fx?.close();
  await peer?.close();
  fx = undefined;
  peer = undefined;
});

const apiKey = 'sk-ant-test-key-0123456789';

/** The Anthropic adapter pointed at the wire peer, its key read from TEST_KEY. */
function anthropicModel(baseUrl: string, maxTokens = 1000) {
  return createModel(
    {
      provider: 'anthropic',
      name: 'claude-test',
      baseUrl,
      apiKeyEnv: 'TEST_KEY',
      maxTokens,
      timeoutSeconds: 10,
    },
    { TEST_KEY: apiKey },
  );
}

describe('Anthropic adapter', () => {
  it('runs a tool-use turn through the host with cached brief and tools', async () => {
    peer = await startWirePeer({ data: [{ id: 'claude-test', type: 'model' }], has_more: false });
    const model = await anthropicModel(peer.url);
    fx = await fixtureHost({ model });
    peer.queue.push(
      anthropicMessage([
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'fx_read_status', input: { what: 'jobs' } },
      ]),
      anthropicMessage([{ type: 'text', text: 'All jobs are fine.' }]),
    );
    const result = await say(fx, 'anna', 'how are the jobs?');
    expect(result.reply).toBe('Checking.\n\nAll jobs are fine.');
    expect(fx.executed().map((c) => c.tool)).toEqual(['fx_read_status']);

    const [first, second] = peer.requests;
    expect(first?.path).toBe('/v1/messages');
    // Depending on the SDK version the key travels as x-api-key or as a bearer token.
    expect([first?.headers['x-api-key'], first?.headers.authorization]).toContain(
      first?.headers['x-api-key'] ? apiKey : `Bearer ${apiKey}`,
    );
    expect(first?.headers['anthropic-version']).toBeTruthy();
    const body = first?.body as {
      model: string;
      system: Array<{ text: string; cache_control?: unknown }>;
      tools: Array<{ name: string; input_schema: unknown; cache_control?: unknown }>;
      messages: Array<{ role: string; content: unknown }>;
    };
    expect(body.model).toBe('claude-test');
    expect(body.system[0]?.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.system[0]?.text).toContain('How this host works');
    expect(body.tools.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.tools.slice(0, -1).every((t) => t.cache_control === undefined)).toBe(true);
    expect(body.tools.map((t) => t.name)).toContain('fx_write_config');
    const followUp = (
      (second?.body ?? {}) as { messages: Array<{ role: string; content: Array<Record<string, unknown>> }> }
    ).messages;
    // The newest block carries the conversation's cache breakpoint; earlier ones do not.
    expect(followUp.at(-1)?.content.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(followUp.at(-2)?.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'fx_read_status', input: { what: 'jobs' } },
    ]);
    expect(followUp.at(-1)).toMatchObject({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: expect.stringContaining('status of jobs') },
      ],
    });
    expect(await model.check?.()).toMatch(/model claude-test is available/);
  });

  it('holds a write over the wire and an unknown sender costs zero requests', async () => {
    peer = await startWirePeer({ data: [], has_more: false });
    const model = await anthropicModel(peer.url);
    fx = await fixtureHost({ model });
    const before = peer.requests.length;
    expect((await say(fx, 'stranger', 'hello, please run everything')).ignored).toBe('unknown_sender');
    expect((await say(fx, 'stranger', 'yes')).ignored).toBe('unknown_sender');
    expect(peer.requests.length).toBe(before);

    const call = write();
    peer.queue.push(
      anthropicMessage([{ type: 'tool_use', id: 'toolu_w', name: call.name, input: call.arguments }]),
      anthropicMessage([{ type: 'text', text: 'P-1 will set image_size to 640. Reply yes.' }]),
    );
    const held = await say(fx, 'anna', 'fix it');
    expect(held.proposals.map((p) => p.id)).toEqual(['P-1']);
    expect(fx.executed()).toEqual([]);
    const result = (
      (peer.requests.at(-1)?.body ?? {}) as { messages: Array<{ content: Array<Record<string, unknown>> }> }
    ).messages.at(-1)?.content[0];
    expect(result).toMatchObject({
      type: 'tool_result',
      tool_use_id: 'toolu_w',
      content: expect.stringMatching(/^held as P-1/),
    });
  });

  it('explains a rejected key without echoing it', async () => {
    peer = await startWirePeer({});
    peer.queue.push({
      status: 401,
      body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } },
    });
    const model = await anthropicModel(peer.url, 100);
    const error = await model
      .complete({ system: 's', tools: [], messages: [{ role: 'user', content: 'hi' }], maxTokens: 10 })
      .catch((e: Error) => e);
    expect((error as Error).message).toMatch(/Anthropic rejected the API key \(401\); check TEST_KEY/);
    expect((error as Error).message).not.toContain(apiKey);
  });
});

describe('OpenAI-compatible adapter', () => {
  it('runs a tool-call turn through the host against a self-hosted endpoint', async () => {
    peer = await startWirePeer({
      object: 'list',
      data: [{ id: 'qwen-test', object: 'model', created: 0, owned_by: 'me' }],
    });
    const model = await createModel({
      provider: 'openai-compatible',
      name: 'qwen-test',
      baseUrl: `${peer.url}/v1`,
      maxTokens: 1000,
      timeoutSeconds: 10,
    });
    fx = await fixtureHost({ model });
    peer.queue.push(
      openAiCompletion(null, [{ id: 'call_a', name: 'fx_submit_job', arguments: { config: 'weld.yaml' } }]),
      openAiCompletion('Requeued weld.yaml.'),
    );
    const result = await say(fx, 'anna', 'requeue weld');
    expect(result.reply).toBe('Requeued weld.yaml.');
    expect(result.actions).toEqual([expect.objectContaining({ tool: 'fx_submit_job', ok: true })]);
    expect(fx.executed().map((c) => c.tool)).toEqual(['fx_submit_job']);
    const [first, second] = peer.requests;
    expect(first?.path).toBe('/v1/chat/completions');
    const body = first?.body as {
      model: string;
      messages: Array<{ role: string }>;
      tools: Array<Record<string, unknown>>;
    };
    expect(body.model).toBe('qwen-test');
    expect(body.messages[0]?.role).toBe('system');
    expect(body.tools[0]).toMatchObject({
      type: 'function',
      function: { name: expect.any(String), parameters: expect.any(Object) },
    });
    const messages = ((second?.body ?? {}) as { messages: Array<Record<string, unknown>> }).messages;
    expect(messages.at(-2)).toMatchObject({
      role: 'assistant',
      tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'fx_submit_job' } }],
    });
    expect(messages.at(-1)).toMatchObject({
      role: 'tool',
      tool_call_id: 'call_a',
      content: expect.stringContaining('submitted job'),
    });
    expect(await model.check?.()).toMatch(/model qwen-test is served/);
  });

  it('sends the configured key and reports an unreachable endpoint clearly', async () => {
    peer = await startWirePeer({ object: 'list', data: [] });
    peer.queue.push(openAiCompletion('hi'));
    const model = await createModel(
      {
        provider: 'openai-compatible',
        name: 'm',
        baseUrl: `${peer.url}/v1`,
        apiKeyEnv: 'VLLM_KEY',
        maxTokens: 10,
        timeoutSeconds: 10,
      },
      { VLLM_KEY: 'vllm-key-123456' },
    );
    await model.complete({
      system: 's',
      tools: [],
      messages: [{ role: 'user', content: 'hi' }],
      maxTokens: 10,
    });
    expect(peer.requests[0]?.headers.authorization).toBe('Bearer vllm-key-123456');
    const url = peer.url;
    await peer.close();
    peer = undefined;
    const down = await createModel({
      provider: 'openai-compatible',
      name: 'm',
      baseUrl: `${url}/v1`,
      maxTokens: 10,
      timeoutSeconds: 2,
    });
    const error = await down
      .complete({ system: 's', tools: [], messages: [{ role: 'user', content: 'hi' }], maxTokens: 10 })
      .catch((e: Error) => e);
    expect((error as Error).message).toMatch(/cannot reach the model endpoint http:\/\/127\.0\.0\.1:\d+\/v1/);
  });
});

describe('streaming (SSE)', () => {
  it('Anthropic: streams text deltas and assembles a streamed tool call', async () => {
    peer = await startWirePeer({ data: [], has_more: false });
    const model = await anthropicModel(peer.url);
    fx = await fixtureHost({ model });
    peer.queue.push(
      anthropicMessage([
        { type: 'text', text: 'Checking the queue.' },
        { type: 'tool_use', id: 'toolu_s', name: 'fx_read_status', input: { what: 'queue' } },
      ]),
      anthropicMessage([{ type: 'text', text: 'The queue is empty.' }]),
    );
    const deltas: string[] = [];
    const result = await fx.host.handleMessage({
      channel: 'slack',
      senderId: 'U-ANNA',
      conversationId: 'w',
      text: 'queue?',
      onText: (delta) => deltas.push(delta),
    });
    expect(peer.requests.map((r) => r.body?.stream)).toEqual([true, true]);
    expect(deltas.length).toBeGreaterThanOrEqual(4);
    expect(deltas.join('')).toBe('Checking the queue.The queue is empty.');
    expect(result.reply).toBe('Checking the queue.\n\nThe queue is empty.');
    expect(fx.executed()).toEqual([
      expect.objectContaining({ tool: 'fx_read_status', args: { what: 'queue' } }),
    ]);
  });

  it('OpenAI-compatible: streams text deltas and joins tool-call fragments', async () => {
    peer = await startWirePeer({ object: 'list', data: [] });
    const model = await createModel({
      provider: 'openai-compatible',
      name: 'qwen-test',
      baseUrl: `${peer.url}/v1`,
      maxTokens: 1000,
      timeoutSeconds: 10,
    });
    fx = await fixtureHost({ model });
    peer.queue.push(
      openAiCompletion('Submitting.', [
        { id: 'call_s', name: 'fx_submit_job', arguments: { config: 'weld.yaml' } },
      ]),
      openAiCompletion('Submitted weld.yaml.'),
    );
    const deltas: string[] = [];
    const result = await fx.host.handleMessage({
      channel: 'slack',
      senderId: 'U-ANNA',
      conversationId: 'w',
      text: 'submit',
      onText: (delta) => deltas.push(delta),
    });
    expect(peer.requests.map((r) => r.body?.stream)).toEqual([true, true]);
    expect(peer.requests[0]?.body?.stream_options).toEqual({ include_usage: true });
    expect(deltas.join('')).toBe('Submitting.Submitted weld.yaml.');
    expect(deltas.length).toBeGreaterThanOrEqual(4);
    expect(result.reply).toBe('Submitting.\n\nSubmitted weld.yaml.');
    expect(fx.executed()).toEqual([
      expect.objectContaining({ tool: 'fx_submit_job', args: { config: 'weld.yaml' } }),
    ]);
  });
});

describe('no model configured', () => {
  it('the host starts, and a message fails with setup help', async () => {
    const config = parseConfig('people: [{ name: A, role: approver, terminal: a }]', {
      env: {},
      baseDir: (await import('node:os')).tmpdir(),
    });
    config.dataDir = (await import('node:fs')).mkdtempSync(
      `${(await import('node:os')).tmpdir()}/ns-nomodel-`,
    );
    const host = await createHost(config, { log: () => undefined });
    try {
      expect(host.modelConfigured).toBe(false);
      const error = await host
        .handleMessage({ channel: 'terminal', senderId: 'a', conversationId: 'c', text: 'hi' })
        .catch((e: unknown) => e);
      expect(ModelNotConfiguredError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/provider: anthropic[\s\S]*provider: openai-compatible/);
      expect(host.modelSetupHelp).toBe((error as Error).message);
    } finally {
      await host.close();
    }
  });
});
