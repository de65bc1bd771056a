import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedModel } from '../../src/models/scripted.ts';
import type { RunningService } from '../../src/service/service.ts';
import {
  type HostSetup,
  makeHost,
  postSlack,
  type SlackCall,
  slackBotToken,
  slackSigningSecret,
  startSlackPeer,
  startTestService,
  tempDir,
  waitFor,
} from './helpers.ts';

const team = 'TTEAM';

function message(user: string, text: string, ts: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'event_callback',
    team_id: team,
    event_id: `Ev${ts.replace('.', '')}${user}`,
    authorizations: [{ user_id: 'UBOT' }],
    event: { type: 'message', channel_type: 'im', channel: 'DANNA', user, text, ts, ...extra },
  };
}

function click(
  user: string,
  action: 'nightshift_confirm' | 'nightshift_reject',
  value: unknown,
  extra: Record<string, unknown> = {},
) {
  return {
    type: 'block_actions',
    team: { id: team },
    user: { id: user },
    channel: { id: 'DANNA' },
    container: { type: 'message', message_ts: '1700000002.000100', channel_id: 'DANNA' },
    message: { ts: '1700000002.000100', thread_ts: '1700000100.000001' },
    actions: [
      { action_id: action, value: JSON.stringify(value), action_ts: `${Date.now()}.${Math.random()}` },
    ],
    ...extra,
  };
}

describe('Slack', { timeout: 60_000 }, () => {
  const tmp = tempDir();
  let setup: HostSetup;
  let service: RunningService;
  let slack: Awaited<ReturnType<typeof startSlackPeer>>;
  let model: ScriptedModel;

  beforeAll(async () => {
    slack = await startSlackPeer();
    setup = await makeHost(tmp.dir, {
      turns: [
        { text: '', toolCalls: [{ name: 'record_note', arguments: { note: 'lr=3e-4' } }] },
        { text: 'I would record the note "lr=3e-4" (held as P-1). Confirm?' },
        { text: 'Recorded the note.' },
        { text: 'Still here in the thread.' },
        { text: 'All quiet on the runs.' },
      ],
    });
    model = setup.model as ScriptedModel;
    service = await startTestService(setup, {
      slack: {
        signingSecret: slackSigningSecret,
        botToken: slackBotToken,
        apiBaseUrl: slack.url,
        teamId: team,
      },
    });
  });
  afterAll(async () => {
    await service?.close();
    await setup?.host.close();
    await slack?.close();
    tmp.cleanup();
  });

  const since = (n: number): SlackCall[] => slack.calls.slice(n);

  it('answers the URL verification challenge, and 401 to unsigned, wrongly signed or stale requests', async () => {
    const ok = await postSlack(service.url, '/slack/events', {
      type: 'url_verification',
      challenge: 'c-123',
    });
    expect(ok).toEqual({ status: 200, text: JSON.stringify({ challenge: 'c-123' }) });
    const wrong = await postSlack(service.url, '/slack/events', message('UANNA', 'hi', '1.1'), {
      secret: 'nope',
    });
    const stale = await postSlack(service.url, '/slack/events', message('UANNA', 'hi', '1.2'), {
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    const unsigned = await fetch(`${service.url}/slack/interactivity`, {
      method: 'POST',
      body: 'payload={}',
    });
    expect([wrong.status, stale.status, unsigned.status]).toEqual([401, 401, 401]);
    await service.settled();
    expect(model.requests).toHaveLength(0);
    expect(slack.calls).toEqual([]);
  });

  it('gives an unknown Slack user nothing: no answer, no API call, zero model calls', async () => {
    const answer = await postSlack(
      service.url,
      '/slack/events',
      message('UEVE', 'record a note please', '1700000050.000001'),
    );
    expect(answer.status).toBe(200);
    await service.settled();
    expect(model.requests).toHaveLength(0);
    expect(slack.calls).toEqual([]);
    expect(setup.host.audit.list({ limit: 1000 }).some((row) => JSON.stringify(row).includes('UEVE'))).toBe(
      false,
    );
  });

  it('answers an allow-listed person in the thread and announces the held proposal with buttons', async () => {
    const before = slack.calls.length;
    const event = message('UANNA', 'record the new learning rate', '1700000100.000001');
    await postSlack(service.url, '/slack/events', event);
    // Slack retries a delivery it thinks failed: the same event id is taken once.
    await postSlack(service.url, '/slack/events', event);
    await service.settled();
    expect(model.requests).toHaveLength(2);
    const calls = since(before);
    const reply = calls.find((c) => c.method === 'chat.postMessage' && !c.body.blocks);
    expect(reply?.body).toMatchObject({ channel: 'DANNA', thread_ts: '1700000100.000001' });
    expect(String(reply?.body.text)).toContain('P-1');
    const announcement = calls.find((c) => c.method === 'chat.postMessage' && c.body.blocks);
    expect(announcement?.body).toMatchObject({ channel: 'DANNA', thread_ts: '1700000100.000001' });
    const buttons = (
      (announcement?.body.blocks ?? []) as {
        type: string;
        elements?: { action_id: string; value: string }[];
      }[]
    )
      .find((b) => b.type === 'actions')
      ?.elements?.map((e) => e.action_id);
    expect(buttons).toEqual(['nightshift_confirm', 'nightshift_reject']);
    expect(calls.every((c) => c.token === slackBotToken)).toBe(true);
    expect(setup.recorded()).toEqual([]);
  });

  it('refuses a viewer click, a stale click and a click from another workspace or channel, running nothing', async () => {
    const [proposal] = setup.host.pendingProposals();
    expect(proposal?.id).toBe('P-1');
    const value = { p: 'P-1', h: proposal?.argumentsHash };
    const before = slack.calls.length;
    await postSlack(service.url, '/slack/interactivity', click('UVIC', 'nightshift_confirm', value));
    await postSlack(
      service.url,
      '/slack/interactivity',
      click('UANNA', 'nightshift_confirm', { p: 'P-1', h: 'changed' }),
    );
    await postSlack(
      service.url,
      '/slack/interactivity',
      click('UANNA', 'nightshift_confirm', value, { team: { id: 'TOTHER' } }),
    );
    await postSlack(
      service.url,
      '/slack/interactivity',
      click('UANNA', 'nightshift_confirm', value, {
        channel: { id: 'CELSEWHERE' },
        container: { message_ts: '9.9', channel_id: 'CELSEWHERE' },
      }),
    );
    await postSlack(service.url, '/slack/interactivity', click('UEVE', 'nightshift_confirm', value));
    await service.settled();
    expect(setup.recorded()).toEqual([]);
    expect(setup.host.pendingProposals().map((p) => p.id)).toEqual(['P-1']);
    const ephemeral = since(before).filter((c) => c.method === 'chat.postEphemeral');
    expect(ephemeral.map((c) => [c.body.user, String(c.body.text).slice(0, 20)])).toEqual([
      ['UVIC', 'Only an approver can'],
      ['UANNA', 'P-1 is not waiting f'],
      ['UANNA', 'P-1 was not proposed'],
    ]);
    expect(since(before).some((c) => c.body.user === 'UEVE' || c.method === 'chat.update')).toBe(false);
    expect(model.requests).toHaveLength(2);
  });

  it("runs the stored call once on an approver's click; duplicate and later clicks run nothing", async () => {
    const [proposal] = setup.host.pendingProposals();
    const value = { p: 'P-1', h: proposal?.argumentsHash };
    const before = slack.calls.length;
    const first = click('UANNA', 'nightshift_confirm', value);
    await postSlack(service.url, '/slack/interactivity', first);
    await postSlack(service.url, '/slack/interactivity', first);
    await service.settled();
    await waitFor(() => setup.recorded().length === 1, 'the write');
    await postSlack(service.url, '/slack/interactivity', click('UANNA', 'nightshift_confirm', value));
    await service.settled();
    expect(setup.recorded()).toEqual([JSON.stringify({ note: 'lr=3e-4' })]);
    const calls = since(before);
    expect(calls.find((c) => c.method === 'chat.update')?.body).toMatchObject({
      channel: 'DANNA',
      ts: '1700000002.000100',
      text: 'P-1: confirmed by Anna',
    });
    const report = calls.find((c) => c.method === 'chat.postMessage');
    expect(report?.body.thread_ts).toBe('1700000100.000001');
    expect(String(report?.body.text)).toContain('Recorded the note.');
    expect(
      calls.filter((c) => c.method === 'chat.postEphemeral').map((c) => String(c.body.text).slice(0, 20)),
    ).toEqual(['P-1 is not waiting f']);
    const confirmed = setup.host.audit
      .list({ limit: 1000 })
      .filter((row) => row.kind === 'proposal_confirmed');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]).toMatchObject({ actor: 'Anna', data: { proposal: 'P-1', channel: 'slack' } });
  });

  it('continues a known thread without a mention, and ignores bot messages and unknown threads', async () => {
    const before = model.requests.length;
    await postSlack(
      service.url,
      '/slack/events',
      message('UANNA', 'anything else?', '1700000200.000001', {
        channel_type: 'channel',
        thread_ts: '1700000100.000001',
      }),
    );
    await postSlack(
      service.url,
      '/slack/events',
      message('UANNA', 'chatter', '1700000201.000001', { channel_type: 'channel', channel: 'CRANDOM' }),
    );
    await postSlack(
      service.url,
      '/slack/events',
      message('UANNA', 'a bot', '1700000202.000001', { bot_id: 'B1' }),
    );
    await service.settled();
    expect(model.requests.length - before).toBe(1);
    expect(slack.calls.at(-1)?.body).toMatchObject({
      thread_ts: '1700000100.000001',
      text: 'Still here in the thread.',
    });
  });

  it('answers a mention in a channel once, in a thread under it', async () => {
    const before = model.requests.length;
    const calls = slack.calls.length;
    const text = '<@UBOT> how are the runs?';
    const base = { channel: 'CGENERAL', channel_type: 'channel', ts: '1700000300.000001' };
    // Slack sends a mention twice: as app_mention and as a channel message.
    await postSlack(service.url, '/slack/events', {
      ...message('UANNA', text, base.ts, base),
      event_id: 'EvMention1',
      event: { type: 'app_mention', user: 'UANNA', text, ...base },
    });
    await postSlack(service.url, '/slack/events', {
      ...message('UANNA', text, base.ts, base),
      event_id: 'EvMention2',
    });
    await service.settled();
    expect(model.requests.length - before).toBe(1);
    expect(
      slack.calls.slice(calls).map((c) => [c.method, c.body.channel, c.body.thread_ts, c.body.text]),
    ).toEqual([['chat.postMessage', 'CGENERAL', '1700000300.000001', 'All quiet on the runs.']]);
  });
});
