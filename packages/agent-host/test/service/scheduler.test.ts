import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedModel } from '../../src/models/scripted.ts';
import type { ModelAdapter, ModelRequest } from '../../src/models/types.ts';
import type { RunningService } from '../../src/service/service.ts';
import {
  type HostSetup,
  jobEvent,
  makeHost,
  postEvent,
  slackBotToken,
  slackSigningSecret,
  startSlackPeer,
  startTestService,
  tempDir,
  waitFor,
} from './helpers.ts';

/** A scripted model whose every answer waits for the test to open a gate. */
function gatedModel(answers: string[]) {
  const inner = createScriptedModel(answers.map((text) => ({ text })));
  const requests: ModelRequest[] = [];
  let gates: (() => void)[] = [];
  let waiting = 0;
  const model: ModelAdapter = {
    id: 'gated',
    async complete(request) {
      requests.push(request);
      waiting++;
      try {
        await new Promise<void>((resolve, reject) => {
          gates.push(resolve);
          request.signal?.addEventListener('abort', () => reject(request.signal?.reason), { once: true });
        });
      } finally {
        waiting--;
      }
      return inner.complete(request);
    },
  };
  return {
    model,
    requests,
    waiting: () => waiting,
    open() {
      const open = gates;
      gates = [];
      for (const resolve of open) resolve();
    },
  };
}

/** The events the model saw in one turn, in the order it saw them. */
function eventsSeen(request: ModelRequest): { id: string; run: string; type: string }[] {
  const last = request.messages.filter((m) => m.role === 'user').at(-1);
  const content = last && 'content' in last ? last.content : '';
  return content
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

describe('event scheduler', { timeout: 30_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let setup: HostSetup | undefined;
  let service: RunningService | undefined;

  afterEach(async () => {
    await service?.close();
    await setup?.host.close();
    tmp?.cleanup();
    service = undefined;
    setup = undefined;
  });

  it('queues events that arrive during a turn and hands them over together: grouped by run, failures first', async () => {
    tmp = tempDir();
    const gate = gatedModel(['First update.', 'Second update.']);
    setup = await makeHost(tmp.dir, { model: gate.model });
    service = await startTestService(setup);
    const url = service.url;
    await postEvent(url, jobEvent('job.started', 'j-1', 'alpha'), { id: 'e1' });
    await waitFor(() => gate.waiting() === 1, 'the first turn to start');
    // While the first turn runs, five more events arrive across two runs.
    await postEvent(url, jobEvent('job.epoch', 'j-1', 'alpha'), { id: 'e2' });
    await postEvent(url, jobEvent('job.epoch', 'j-2', 'beta'), { id: 'e3' });
    await postEvent(url, jobEvent('job.epoch', 'j-1', 'alpha'), { id: 'e4' });
    await postEvent(url, jobEvent('job.failed', 'j-2', 'beta'), { id: 'e5' });
    await postEvent(url, jobEvent('job.epoch', 'j-1', 'alpha'), { id: 'e6' });
    expect(service.store.getEvent('job:e2')?.status).toBe('pending');
    gate.open();
    await waitFor(() => gate.requests.length === 2 && gate.waiting() === 1, 'the second turn to start');
    gate.open();
    await service.settled();

    expect(gate.requests).toHaveLength(2);
    expect(eventsSeen(gate.requests[0] as ModelRequest).map((e) => e.id)).toEqual(['job:e1']);
    // beta has a failure, so its events come first; each run's events stay in arrival order.
    expect(eventsSeen(gate.requests[1] as ModelRequest).map((e) => e.id)).toEqual([
      'job:e3',
      'job:e5',
      'job:e2',
      'job:e4',
      'job:e6',
    ]);
    expect(service.scheduler.stats.turns).toBe(2);
    const notes = service.store.listNotifications({ channel: 'web' });
    expect(notes.map((n) => [n.text, n.eventIds.length])).toEqual([
      ['First update.', 1],
      ['Second update.', 5],
    ]);
    expect(service.store.pendingEvents()).toEqual([]);
  });

  it('sends nothing for a silent turn, on any channel', async () => {
    tmp = tempDir();
    const slack = await startSlackPeer();
    try {
      setup = await makeHost(tmp.dir, { turns: [{ text: '[silent]' }, { text: '' }] });
      service = await startTestService(setup, {
        routes: [{ match: { run: 'alpha' }, channel: 'slack', conversation: 'CEVENTS' }],
        slack: { signingSecret: slackSigningSecret, botToken: slackBotToken, apiBaseUrl: slack.url },
      });
      await postEvent(service.url, jobEvent('job.epoch', 'j-1', 'alpha'), { id: 's1' });
      await service.settled();
      await postEvent(service.url, jobEvent('job.epoch', 'j-2', 'beta'), { id: 's2' });
      await service.settled();
      expect(service.scheduler.stats).toMatchObject({ turns: 2, silentTurns: 2 });
      expect(service.store.getEvent('job:s1')).toMatchObject({ status: 'handled', outcome: 'silent' });
      expect(service.store.getEvent('job:s2')).toMatchObject({ status: 'handled', outcome: 'silent' });
      expect(service.store.listNotifications({})).toEqual([]);
      expect(slack.calls).toEqual([]);
    } finally {
      await slack.close();
    }
  });

  it('routes notifications by run to the configured Slack channel and the rest to the web feed', async () => {
    tmp = tempDir();
    const slack = await startSlackPeer();
    try {
      setup = await makeHost(tmp.dir, {
        turns: [{ text: 'alpha failed: CUDA OOM' }, { text: 'beta finished' }],
      });
      service = await startTestService(setup, {
        routes: [
          { match: { run: 'alpha' }, channel: 'slack', conversation: 'CEVENTS' },
          { channel: 'web', conversation: 'team' },
        ],
        slack: { signingSecret: slackSigningSecret, botToken: slackBotToken, apiBaseUrl: slack.url },
      });
      await postEvent(service.url, jobEvent('job.failed', 'j-1', 'alpha'), { id: 'r1' });
      await service.settled();
      await postEvent(service.url, jobEvent('job.finished', 'j-2', 'beta'), { id: 'r2' });
      await service.settled();
      expect(slack.calls.map((c) => [c.method, c.body.channel, c.body.text])).toEqual([
        ['chat.postMessage', 'CEVENTS', 'alpha failed: CUDA OOM'],
      ]);
      expect(
        service.store.listNotifications({ channel: 'web' }).map((n) => [n.conversation, n.text]),
      ).toEqual([['team', 'beta finished']]);
    } finally {
      await slack.close();
    }
  });

  it('keeps events pending when a turn fails, and hands them over again later', async () => {
    tmp = tempDir();
    let calls = 0;
    const model: ModelAdapter = {
      id: 'flaky',
      async complete() {
        calls++;
        if (calls === 1) throw new Error('model endpoint unreachable');
        return {
          text: 'Recovered update.',
          toolCalls: [],
          usage: { inputTokens: 0, outputTokens: 0 },
          stopReason: 'end',
        };
      },
    };
    setup = await makeHost(tmp.dir, { model });
    service = await startTestService(setup, { events: { retryAfter: '1s' } });
    await postEvent(service.url, jobEvent('job.failed', 'j-1', 'alpha'), { id: 'f1' });
    await waitFor(() => service?.scheduler.stats.failedTurns === 1, 'the failed turn');
    expect(service.store.getEvent('job:f1')?.status).toBe('pending');
    await waitFor(() => service?.store.getEvent('job:f1')?.status === 'handled', 'the retry', 10_000);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(service.store.listNotifications({}).map((n) => n.text)).toEqual(['Recovered update.']);
  });

  it('runs at most `concurrency` turns at once across lanes', async () => {
    tmp = tempDir();
    const gate = gatedModel(['a', 'b', 'c']);
    setup = await makeHost(tmp.dir, { model: gate.model });
    service = await startTestService(setup, {
      events: { concurrency: 2 },
      routes: [
        { match: { run: 'one' }, channel: 'web', conversation: 'one' },
        { match: { run: 'two' }, channel: 'web', conversation: 'two' },
        { match: { run: 'three' }, channel: 'web', conversation: 'three' },
      ],
    });
    for (const run of ['one', 'two', 'three']) await postEvent(service.url, jobEvent('job.epoch', run, run));
    await waitFor(() => gate.waiting() === 2, 'two turns');
    await new Promise((r) => setTimeout(r, 200));
    expect(gate.waiting()).toBe(2);
    gate.open();
    await waitFor(() => gate.requests.length === 3 && gate.waiting() === 1, 'the third turn');
    gate.open();
    await service.settled();
    expect(service.scheduler.stats.turns).toBe(3);
  });
});
