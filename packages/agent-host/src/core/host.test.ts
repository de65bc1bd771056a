import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type FixtureHost, fixtureHost, say, write } from '../__fixtures__/harness.ts';
import type { ModelAdapter } from '../models/types.ts';
import type { HostEvent } from './types.ts';

let fx: FixtureHost | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

const event = (id: string, payload: unknown): HostEvent => ({
  id,
  runKey: 'customer-a/weld-defect-v4#r-1',
  type: 'epoch',
  payload,
  receivedAt: '2026-01-10T10:00:00Z',
});

describe('event turns', () => {
  it('treats [silent] and an empty answer as silence, anything else as a message', async () => {
    fx = await fixtureHost({
      turns: [{ text: '[silent]' }, { text: '' }, { text: 'weld-defect-v4 — epoch 15/60 · mAP 0.874 ↑' }],
    });
    const quiet = await fx.host.runEventTurn({ conversationId: 'ops', events: [event('e1', { epoch: 3 })] });
    expect(quiet).toEqual({ text: '', silent: true, eventIds: ['e1'], proposals: [] });
    expect((await fx.host.runEventTurn({ conversationId: 'ops', events: [event('e2', {})] })).silent).toBe(
      true,
    );
    const loud = await fx.host.runEventTurn({
      conversationId: 'ops',
      events: [event('e3', { epoch: 15 }), event('e4', { epoch: 16 })],
    });
    expect(loud).toMatchObject({
      silent: false,
      text: 'weld-defect-v4 — epoch 15/60 · mAP 0.874 ↑',
      eventIds: ['e3', 'e4'],
    });
    const opening = fx.model.requests[2]?.messages.at(-1);
    expect(opening).toMatchObject({
      role: 'user',
      content: expect.stringMatching(/^\[events\] 2 training event/),
    });
    expect(JSON.stringify(opening)).toContain('customer-a/weld-defect-v4#r-1');
  });

  it('a write proposed in an event turn waits for an approver in that conversation', async () => {
    fx = await fixtureHost({
      turns: [
        { text: 'OOM; proposing a fix.', toolCalls: [write()] },
        { text: 'P-1 sets image_size to 640.' },
        { text: 'Fixed.' },
      ],
    });
    const turn = await fx.host.runEventTurn({
      conversationId: 'ops',
      events: [event('e1', { error: 'CUDA OOM' })],
    });
    expect(turn.silent).toBe(false);
    expect(turn.proposals.map((p) => p.id)).toEqual(['P-1']);
    expect(fx.executed()).toEqual([]);
    const confirmed = await say(fx, 'U-ANNA', 'kör på', 'ops', 'slack');
    expect(confirmed.reply).toMatch(/✔ P-1/);
    expect(fx.executed().map((c) => c.tool)).toEqual(['fx_write_config']);
    expect(fx.host.audit.list().find((r) => r.kind === 'proposal_confirmed')?.data.channel).toBe('slack');
  });
});

describe('turns', () => {
  it('re-reads the brief when the file changes', async () => {
    fx = await fixtureHost({ turns: [{ text: 'a' }, { text: 'b' }] });
    writeFileSync(fx.config.brief, 'You are brief version one.');
    await say(fx, 'anna', 'hi');
    writeFileSync(fx.config.brief, 'You are brief version two, a little longer.');
    await say(fx, 'anna', 'hi again');
    expect(fx.model.requests[0]?.system).toMatch(/^You are brief version one\./);
    expect(fx.model.requests[1]?.system).toMatch(/^You are brief version two/);
  });

  it('carries the conversation history into the next turn', async () => {
    fx = await fixtureHost({ turns: [{ text: 'first answer' }, { text: 'second answer' }] });
    await say(fx, 'anna', 'first question');
    await say(fx, 'anna', 'second question');
    const seen = fx.model.requests[1]?.messages ?? [];
    expect(seen.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(seen)).toContain('first answer');
    expect(JSON.stringify(fx.model.requests[0]?.messages)).not.toContain('second');
  });

  it('stops a turn at the step limit', async () => {
    const loop = { text: '', toolCalls: [{ name: 'fx_read_status', arguments: {} }] };
    fx = await fixtureHost({ turns: [loop, loop, loop, loop], config: { policy: { maxSteps: 3 } } });
    const result = await say(fx, 'anna', 'loop');
    expect(fx.model.requests).toHaveLength(3);
    expect(result.reply).toMatch(/limit of 3 model steps/);
  });

  it('returns tool errors to the model as error results and goes on', async () => {
    fx = await fixtureHost({
      turns: [
        {
          text: '',
          toolCalls: [
            { name: 'fx_read_status', arguments: { what: 42 } },
            { name: 'nope', arguments: {} },
          ],
        },
        { text: 'ok' },
      ],
    });
    await say(fx, 'anna', 'x');
    const results = fx.model.requests[1]?.messages.at(-1);
    expect(results).toMatchObject({
      role: 'tool',
      results: [{ isError: true }, { isError: true, content: 'no tool named "nope" is available' }],
    });
  });

  it('cancels a running turn through its signal', async () => {
    let started: () => void = () => undefined;
    const began = new Promise<void>((resolve) => {
      started = resolve;
    });
    const slow: ModelAdapter = {
      id: 'slow',
      complete: (request) =>
        new Promise((_, reject) => {
          started();
          request.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    };
    fx = await fixtureHost({ model: slow });
    const controller = new AbortController();
    const pending = fx.host.handleMessage({
      channel: 'terminal',
      senderId: 'anna',
      conversationId: 'c1',
      text: 'take your time',
      signal: controller.signal,
    });
    await began;
    controller.abort();
    expect((await pending).reply).toBe('(cancelled)');
  });

  it('cancels a tool call in flight, audits the attempt, and keeps the history usable', async () => {
    fx = await fixtureHost({
      turns: [
        {
          text: '',
          toolCalls: [
            { name: 'fx_slow', arguments: { ms: 20_000 } },
            { name: 'fx_read_status', arguments: {} },
          ],
        },
        { text: 'next turn answer' },
      ],
    });
    const controller = new AbortController();
    const pending = fx.host.handleMessage({
      channel: 'terminal',
      senderId: 'anna',
      conversationId: 'c1',
      text: 'slow please',
      signal: controller.signal,
    });
    await expect.poll(() => fx?.executed().length).toBe(1);
    controller.abort();
    expect((await pending).reply).toBe('(cancelled)');
    expect(fx.executed().map((c) => c.tool)).toEqual(['fx_slow']);
    expect(fx.host.audit.list().find((r) => r.kind === 'tool_call')?.data).toMatchObject({
      tool: 'fx_slow',
      cancelled: true,
    });
    expect((await say(fx, 'anna', 'and now?')).reply).toBe('next turn answer');
    const history = fx.model.requests[1]?.messages ?? [];
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'user']);
    expect(history[2]).toMatchObject({
      results: [{ isError: true }, { content: 'not run: the turn was cancelled' }],
    });
  });
});
