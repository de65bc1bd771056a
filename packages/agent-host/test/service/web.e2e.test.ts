import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/service/service.ts';
import { hashPassword } from '../../src/service/web-auth.ts';
import {
  type HostSetup,
  jobEvent,
  makeHost,
  postEvent,
  startTestService,
  tempDir,
  waitFor,
} from './helpers.ts';

// Real headless Chromium (Debian's, started by scripts/services/chromium.sh) driven by
// playwright-core against the service's web chat.
const chromiumPath = process.env.NIGHTSHIFT_TEST_CHROMIUM;
const password = 'correct horse battery staple';
const vicToken = 'vic-token-0123456789abcdef';

describe.skipIf(!chromiumPath)('web chat in Chromium', { timeout: 90_000 }, () => {
  const tmp = tempDir();
  let setup: HostSetup;
  let service: RunningService;
  let browser: Browser;
  let foreign: Server;
  let foreignUrl: string;

  beforeAll(async () => {
    setup = await makeHost(tmp.dir, {
      turns: [
        { text: '[silent]' },
        { text: 'Hello Anna, all quiet on the runs.' },
        { text: '', toolCalls: [{ name: 'record_note', arguments: { note: 'raise epochs to 80' } }] },
        { text: 'I would record "raise epochs to 80" (P-1). Confirm?' },
        { text: 'Recorded the note.' },
      ],
    });
    service = await startTestService(setup, {
      web: {
        logins: [
          { id: 'anna', passwordHash: await hashPassword(password) },
          { id: 'vic', token: vicToken },
        ],
      },
    });
    await postEvent(service.url, jobEvent('job.epoch', 'j-3', 'customer-a/weld-defect-v4'), { id: 'web-1' });
    await service.settled();
    // A page on another origin, to try a cross-site request against the chat.
    foreign = createServer((_, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>elsewhere</title>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignUrl = `http://localhost:${(foreign.address() as AddressInfo).port}/`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    foreign?.close();
    await service?.close();
    await setup?.host.close();
    tmp.cleanup();
  });

  async function signIn(page: Page, login: string, secret: string) {
    await page.goto(`${service.url}/`);
    await page.waitForURL(/\/login$/);
    await page.fill('#login', login);
    await page.fill('#secret', secret);
    await page.click('#sign-in');
  }

  it('refuses a wrong password and signs in with the right one into an HttpOnly SameSite session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'anna', 'wrong password');
    await expect.poll(() => page.textContent('#login-error')).toBe('Wrong login or password.');
    expect((await context.cookies()).some((c) => c.name === 'ns_session')).toBe(false);

    await page.fill('#login', 'anna');
    await page.fill('#secret', password);
    await page.click('#sign-in');
    await page.waitForSelector('#transcript');
    expect(await page.textContent('#me')).toBe('Anna (approver)');
    const session = (await context.cookies()).find((c) => c.name === 'ns_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).not.toContain('ns_session');
    await context.close();
  });

  it('streams a reply, shows the event timeline, and confirms a proposal with its button', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'anna', password);
    await page.waitForSelector('#transcript');
    await expect
      .poll(() => page.textContent('#timeline'))
      .toContain('customer-a/weld-defect-v4#j-3 job.epoch');

    await page.fill('#message', 'how are the runs?');
    await page.click('#send');
    await page.waitForSelector('.msg.agent[data-done="1"]');
    expect(await page.locator('.msg.agent').last().textContent()).toBe('Hello Anna, all quiet on the runs.');

    await page.fill('#message', 'record that we raise epochs to 80');
    await page.click('#send');
    const confirm = page.locator('button[data-proposal="P-1"][data-decision="confirm"]');
    await confirm.waitFor();
    expect(setup.recorded()).toEqual([]);

    // CSRF: the same signed-in page without the token, or with a wrong one, changes nothing.
    const refused = await page.evaluate(async () => {
      const attempt = (headers: Record<string, string>) =>
        fetch('/api/proposals/P-1/decision', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ decision: 'confirm' }),
        }).then(async (r) => [r.status, ((await r.json()) as { error: string }).error]);
      return [await attempt({}), await attempt({ 'x-csrf-token': 'forged' })];
    });
    expect(refused).toEqual([
      [403, 'missing or wrong CSRF token; reload the page'],
      [403, 'missing or wrong CSRF token; reload the page'],
    ]);
    // A page on another site: the SameSite cookie stays home, and nothing runs.
    const other = await context.newPage();
    await other.goto(foreignUrl);
    const crossSite = await other.evaluate(async (target) => {
      try {
        const r = await fetch(`${target}/api/proposals/P-1/decision`, {
          method: 'POST',
          mode: 'no-cors',
          credentials: 'include',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ decision: 'confirm' }),
        });
        return r.type;
      } catch (error) {
        return String(error);
      }
    }, service.url);
    expect(crossSite).toBe('opaque');
    await new Promise((r) => setTimeout(r, 300));
    expect(setup.recorded()).toEqual([]);
    expect(setup.host.pendingProposals().map((p) => p.id)).toEqual(['P-1']);

    await confirm.click();
    await waitFor(() => setup.recorded().length === 1, 'the confirmed write');
    expect(setup.recorded()).toEqual([JSON.stringify({ note: 'raise epochs to 80' })]);
    await expect.poll(() => page.locator('.msg.agent').last().textContent()).toContain('Recorded the note.');
    await expect.poll(() => page.locator('#proposals').textContent()).toBe('None.');
    await expect
      .poll(() => page.textContent('#audit'), { timeout: 10_000 })
      .toContain('proposal_confirmed by Anna P-1');
    const confirmed = setup.host.audit.list({ limit: 1000 }).filter((r) => r.kind === 'proposal_confirmed');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]).toMatchObject({ actor: 'Anna', data: { channel: 'web', proposal: 'P-1' } });
    await context.close();
  });

  it('signs a viewer in with a token, and out again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, 'vic', vicToken);
    await page.waitForSelector('#transcript');
    expect(await page.textContent('#me')).toBe('Vic (viewer)');
    // Signing out ends the session: the API answers 401 afterwards.
    await page.click('#logout-form button');
    await page.waitForURL(/\/login$/);
    const status = await page.evaluate(() => fetch('/api/state').then((r) => r.status));
    expect(status).toBe(401);
    await context.close();
  });
});
