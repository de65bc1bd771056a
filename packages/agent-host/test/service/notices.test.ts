import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../src/service/event-store.ts';
import type { RunningService } from '../../src/service/service.ts';
import {
  type HostSetup,
  jobEvent,
  makeHost,
  postEvent,
  startTestService,
  tempDir,
  waitFor,
} from './helpers.ts';

describe('flood cap and proposal notices', { timeout: 60_000 }, () => {
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

  it('holds event updates over the cap and sends one "N more updates held back" digest', async () => {
    tmp = tempDir();
    const texts = Array.from({ length: 6 }, (_, i) => `Update ${i + 1}`);
    setup = await makeHost(tmp.dir, { turns: texts.map((text) => ({ text })) });
    service = await startTestService(setup, { floodCap: { messages: 2, window: '2s' } });
    for (let i = 0; i < 6; i++) {
      await postEvent(service.url, jobEvent('job.failed', `j-${i}`, `run-${i}`), { id: `flood-${i}` });
      await service.settled();
    }
    const feed = () => service?.store.listNotifications({ channel: 'web' }) ?? [];
    expect(feed().map((n) => [n.text, n.status])).toEqual([
      ['Update 1', 'sent'],
      ['Update 2', 'sent'],
      ['Update 3', 'held'],
      ['Update 4', 'held'],
      ['Update 5', 'held'],
      ['Update 6', 'held'],
    ]);
    // Every event was handled (the cap does not stop turns, it only holds messages).
    expect(service.store.pendingEvents()).toEqual([]);
    const digest = (await waitFor(
      () => feed().find((n) => n.kind === 'digest'),
      'the digest',
      10_000,
    )) as Notification;
    expect(digest.text).toMatch(/^4 more updates held back \(flood cap: 2 per 2 s\)\. Latest: Update 6/);
    expect(digest.status).toBe('sent');
    expect(digest.eventIds).toHaveLength(4);
    expect(feed().filter((n) => n.status === 'digested')).toHaveLength(4);
  });

  it('announces a held proposal where it came from, reminds after the interval, and announces its expiry', async () => {
    tmp = tempDir();
    let clock = Date.now();
    const now = () => new Date(clock);
    setup = await makeHost(tmp.dir, {
      now,
      extra: 'policy: { proposalExpiry: 1h }',
      turns: [
        { text: '', toolCalls: [{ name: 'record_note', arguments: { note: 'bump epochs' } }] },
        { text: 'Proposed P-1: record "bump epochs".' },
      ],
    });
    service = await startTestService(setup, { proposals: { remindAfter: '20m', checkEvery: '1h' } }, { now });
    await postEvent(service.url, jobEvent('job.finished', 'j-1', 'alpha'), { id: 'p-1' });
    await service.settled();
    const notices = () =>
      (service?.store.listNotifications({ channel: 'web' }) ?? []).filter((n) => n.proposalId === 'P-1');
    expect(notices().map((n) => [n.kind, n.conversation])).toEqual([['proposal', 'events']]);
    expect(notices()[0]?.text).toMatch(
      /^P-1 waits for an approver: rec\/record_note \{"note":"bump epochs"\}/,
    );

    service.watch.check();
    expect(notices()).toHaveLength(1);
    clock += 21 * 60_000;
    service.watch.check();
    expect(notices().map((n) => n.kind)).toEqual(['proposal', 'reminder']);
    service.watch.check();
    expect(notices()).toHaveLength(2);

    clock += 40 * 60_000;
    service.watch.check();
    expect(setup.host.pendingProposals()).toEqual([]);
    expect(notices().map((n) => n.kind)).toEqual(['proposal', 'reminder', 'expired']);
    expect(notices()[2]?.text).toMatch(/^P-1 expired at .* without a decision; nothing was run/);
    expect(setup.recorded()).toEqual([]);
    const kinds = setup.host.audit.list({ limit: 1000 }).map((r) => r.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['proposal_held', 'proposal_reminded', 'proposal_expiry_announced']),
    );
  });

  it('announces nothing about expiry for a proposal that was decided', async () => {
    tmp = tempDir();
    let clock = Date.now();
    const now = () => new Date(clock);
    setup = await makeHost(tmp.dir, {
      now,
      extra: 'policy: { proposalExpiry: 1h }',
      turns: [
        { text: '', toolCalls: [{ name: 'record_note', arguments: { note: 'x' } }] },
        { text: 'Proposed P-1.' },
        { text: 'Dropped.' },
      ],
    });
    service = await startTestService(setup, {}, { now });
    await postEvent(service.url, jobEvent('job.finished', 'j-1', 'alpha'), { id: 'p-2' });
    await service.settled();
    const result = await setup.host.handleMessage({
      channel: 'web',
      senderId: 'anna',
      conversationId: 'events:web:events',
      text: 'reject P-1',
    });
    expect(result.reply).toMatch(/Dropped P-1/);
    clock += 2 * 3600_000;
    service.watch.check();
    expect(service.store.listNotifications({ channel: 'web' }).map((n) => n.kind)).toEqual([
      'event',
      'proposal',
    ]);
  });
});
