import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedModel } from '../../src/models/scripted.ts';
import type { ModelAdapter } from '../../src/models/types.ts';
import type { RunningService } from '../../src/service/service.ts';
import { hashPassword, verifyPassword } from '../../src/service/web-auth.ts';
import {
  eventSecret,
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

const annaToken = 'anna-token-0123456789abcdef';
const eveToken = 'eve-token-0123456789abcdefgh';

function frames(text: string) {
  return text
    .trim()
    .split('\n\n')
    .map((frame) => ({
      event: /^event: (.*)$/m.exec(frame)?.[1],
      data: JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? '{}'),
    }));
}

describe('web chat API', { timeout: 60_000 }, () => {
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

  const logins = {
    logins: [
      { id: 'anna', token: annaToken },
      { id: 'eve', token: eveToken },
    ],
  };

  it('hashes passwords with scrypt and verifies only the right one', async () => {
    const hash = await hashPassword('s3cret pass');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(hash).not.toContain('s3cret');
    expect(await verifyPassword('s3cret pass', hash)).toBe(true);
    expect(await verifyPassword('s3cret pasS', hash)).toBe(false);
    expect(await verifyPassword('s3cret pass', 'scrypt$1$1$1$x$y')).toBe(false);
  });

  it('streams a reply as server-sent events (text deltas, then the whole reply)', async () => {
    tmp = tempDir();
    // A model that produces its answer in pieces, as a streaming provider does.
    const inner = createScriptedModel([{ text: 'epoch 15 of 60, mAP up' }]);
    const model: ModelAdapter = {
      id: 'pieces',
      async complete(request) {
        const response = await inner.complete({ ...request, onText: undefined });
        for (const piece of response.text.split(' ')) request.onText?.(`${piece} `);
        return response;
      },
    };
    setup = await makeHost(tmp.dir, { model });
    service = await startTestService(setup, { web: logins });
    const response = await fetch(`${service.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${annaToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'how is weld-defect-v4?' }),
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = frames(await response.text());
    expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text)).toEqual([
      'epoch ',
      '15 ',
      'of ',
      '60, ',
      'mAP ',
      'up ',
    ]);
    expect(events.at(-1)).toEqual({
      event: 'done',
      data: { reply: 'epoch 15 of 60, mAP up', proposals: [] },
    });
  });

  it('refuses a signed-in login that is not on the allow-list, and unauthenticated calls', async () => {
    tmp = tempDir();
    setup = await makeHost(tmp.dir, { turns: [] });
    service = await startTestService(setup, { web: logins });
    const eve = await fetch(`${service.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${eveToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    expect(eve.status).toBe(401);
    expect((await fetch(`${service.url}/api/state`)).status).toBe(401);
    expect((await fetch(`${service.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/login');
    expect((setup.model as ReturnType<typeof createScriptedModel>).requests).toHaveLength(0);
  });

  it('without a model still starts, takes and shows events, and says how to configure one', async () => {
    tmp = tempDir();
    setup = await makeHost(tmp.dir, { noModel: true });
    service = await startTestService(setup, { web: logins });
    expect(
      (await postEvent(service.url, jobEvent('job.failed', 'j-4', 'alpha'), { id: 'nm-1' })).status,
    ).toBe(202);
    const auth = { authorization: `Bearer ${annaToken}` };
    const state = (await (await fetch(`${service.url}/api/state`, { headers: auth })).json()) as Record<
      string,
      unknown
    >;
    expect(state.modelConfigured).toBe(false);
    expect(String(state.modelSetupHelp)).toMatch(/provider: anthropic[\s\S]*provider: openai-compatible/);
    const events = (await (await fetch(`${service.url}/api/events`, { headers: auth })).json()) as {
      events: { id: string; status: string; type: string }[];
    };
    expect(events.events).toEqual([
      expect.objectContaining({ id: 'job:nm-1', status: 'pending', type: 'job.failed' }),
    ]);
    const page = await (await fetch(`${service.url}/`, { headers: auth })).text();
    expect(page).toContain('id="setup-help"');
    expect(page).toContain('provider: openai-compatible');
    expect(page).not.toContain(annaToken);
    expect(page).not.toContain(eventSecret);
  });

  it('keeps secrets out of its log when a channel refuses a notification', async () => {
    tmp = tempDir();
    const slack = await startSlackPeer('xoxb-the-token-slack-expects');
    const lines: string[] = [];
    try {
      setup = await makeHost(tmp.dir, { turns: [{ text: 'alpha failed' }] });
      service = await startTestService(
        setup,
        {
          routes: [{ channel: 'slack', conversation: 'CEVENTS' }],
          slack: { signingSecret: slackSigningSecret, botToken: slackBotToken, apiBaseUrl: slack.url },
        },
        { log: (line) => lines.push(line) },
      );
      await postEvent(service.url, jobEvent('job.failed', 'j-1', 'alpha'), { id: 'log-1' });
      await waitFor(() => lines.some((l) => l.includes('invalid_auth')), 'the refused delivery in the log');
      // The bot token did go to Slack (as a bearer token), never into the log.
      expect(slack.calls[0]?.token).toBe(slackBotToken);
      const log = lines.join('\n');
      for (const secret of [slackBotToken, slackSigningSecret, eventSecret])
        expect(log).not.toContain(secret);
      expect(service.store.listNotifications({})[0]?.status).toBe('pending');
    } finally {
      await slack.close();
    }
  });

  it("turns a button click into that person's own decision: a viewer's click runs nothing, an approver's runs once", async () => {
    tmp = tempDir();
    setup = await makeHost(tmp.dir, {
      turns: [
        { text: '', toolCalls: [{ name: 'record_note', arguments: { note: 'freeze lr' } }] },
        { text: 'Proposed P-1.' },
        { text: 'Recorded.' },
      ],
    });
    service = await startTestService(setup, {
      web: {
        logins: [
          { id: 'anna', token: annaToken },
          { id: 'vic', token: 'vic-token-0123456789abcdef' },
        ],
      },
    });
    const post = (token: string, path: string, body: unknown) =>
      fetch(`${service?.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await (await post(annaToken, '/api/messages', { text: 'freeze the learning rate' })).text();
    expect(setup.host.pendingProposals().map((p) => p.id)).toEqual(['P-1']);

    const viewer = (await (
      await post('vic-token-0123456789abcdef', '/api/proposals/P-1/decision', { decision: 'confirm' })
    ).json()) as {
      reply: string;
    };
    expect(viewer.reply).toMatch(/^Only an approver can decide on P-1/);
    expect(setup.recorded()).toEqual([]);

    const approver = await post(annaToken, '/api/proposals/P-1/decision', { decision: 'confirm' });
    expect(approver.status).toBe(200);
    expect(setup.recorded()).toEqual([JSON.stringify({ note: 'freeze lr' })]);
    const again = await post(annaToken, '/api/proposals/P-1/decision', { decision: 'confirm' });
    expect(again.status).toBe(409);
    expect(setup.recorded()).toHaveLength(1);
  });
});
