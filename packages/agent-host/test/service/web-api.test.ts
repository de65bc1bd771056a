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
  startTestService,
  tempDir,
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
});
