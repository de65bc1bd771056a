import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Host } from '../core/types.ts';
import type { EventStore } from './event-store.ts';
import { readBody, redact, sendJson } from './http.ts';
import type { ServiceConfig } from './service-config.ts';
import { cookie, parseCookies, type SessionStore, sameSecret, verifyPassword } from './web-auth.ts';
import { appPage, appScript, loginPage } from './web-page.ts';

/**
 * The web chat. A person signs in with a password (scrypt hash in config) or a token; the login
 * must also be on the allow-list (`people[].web`). Every request is checked again against the
 * allow-list before anything else. State-changing requests need the session's CSRF token in
 * `X-CSRF-Token` (JSON API) or the form, and a same-origin `Origin` when the browser sends one.
 * Scripts and tools may use `Authorization: Bearer <token>` instead of a cookie (no CSRF then:
 * a browser never attaches that header on its own).
 *
 * A person's chat is the conversation `web:<login>`. A confirm/reject button is that person's
 * confirmation message (`confirm P-7`) sent to the proposal's own conversation.
 */

export interface WebChatOptions {
  host: Host;
  store: EventStore;
  config: ServiceConfig['web'];
  sessions: SessionStore;
  secrets: readonly string[];
  /** Called after a turn or decision (proposal notices, outbox). */
  afterTurn?: () => void;
  log?: (line: string) => void;
}

const sessionCookie = 'ns_session';
const loginCsrfCookie = 'ns_login_csrf';

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts.
  'referrer-policy': 'same-origin',
};

interface Caller {
  login: string;
  name: string;
  role: string;
  csrf?: string;
  sessionId?: string;
  bearer: boolean;
}

export class WebChat {
  private readonly options: WebChatOptions;
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(options: WebChatOptions) {
    this.options = options;
  }

  /** Handles a request if it belongs to the web chat; false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/login' && method === 'GET') {
      this.showLogin(res);
      return true;
    }
    if (path === '/login' && method === 'POST') {
      await this.login(req, res);
      return true;
    }
    if (path === '/app.js' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', ...securityHeaders });
      res.end(appScript);
      return true;
    }
    if (path !== '/' && path !== '/logout' && !path.startsWith('/api/')) return false;

    const caller = this.caller(req);
    if (!caller) {
      if (path === '/') {
        res.writeHead(303, { location: '/login' });
        res.end();
      } else sendJson(res, 401, { error: 'sign in first' });
      return true;
    }
    if (method === 'POST') {
      const problem = this.csrfProblem(
        req,
        caller,
        path === '/logout' ? undefined : req.headers['x-csrf-token'],
      );
      if (problem && path !== '/logout') {
        sendJson(res, 403, { error: problem });
        return true;
      }
      if (path === '/logout') {
        await this.logout(req, res, caller);
        return true;
      }
    }
    if (path === '/' && method === 'GET') {
      const host = this.options.host;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...securityHeaders,
      });
      res.end(
        appPage({
          name: caller.name,
          role: caller.role,
          csrf: caller.csrf ?? '',
          ...(host.modelConfigured ? {} : { setupHelp: host.modelSetupHelp }),
        }),
      );
      return true;
    }
    if (path === '/api/state' && method === 'GET') {
      this.state(res, caller);
      return true;
    }
    if (path === '/api/events' && method === 'GET') {
      this.events(res, url);
      return true;
    }
    if (path === '/api/audit' && method === 'GET') {
      this.audit(res, url);
      return true;
    }
    if (path === '/api/feed' && method === 'GET') {
      this.feed(res, url, caller);
      return true;
    }
    if (path === '/api/messages' && method === 'POST') {
      await this.message(req, res, caller);
      return true;
    }
    const decision = /^\/api\/proposals\/(P-\d+)\/decision$/.exec(path);
    if (decision && method === 'POST') {
      await this.decide(req, res, caller, decision[1] as string);
      return true;
    }
    sendJson(res, 404, { error: 'not found' });
    return true;
  }

  /** Resolves the signed-in, allow-listed caller (session cookie or bearer token). */
  private caller(req: IncomingMessage): Caller | undefined {
    const { host, config, sessions } = this.options;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const token = auth.slice('Bearer '.length).trim();
      const login = config.logins.find((l) => l.token && sameSecret(l.token, token));
      const person = login && host.people.lookup('web', login.id);
      return login && person
        ? { login: login.id, name: person.name, role: person.role, bearer: true }
        : undefined;
    }
    const session = sessions.get(parseCookies(req.headers.cookie)[sessionCookie]);
    if (!session) return undefined;
    // The allow-list is checked on every request: removing a person takes effect at once.
    const person = host.people.lookup('web', session.login);
    if (!person) return undefined;
    return {
      login: session.login,
      name: person.name,
      role: person.role,
      csrf: session.csrf,
      sessionId: session.id,
      bearer: false,
    };
  }

  private csrfProblem(
    req: IncomingMessage,
    caller: Caller,
    token: string | string[] | undefined,
  ): string | undefined {
    if (caller.bearer) return undefined;
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      origin !== `http://${req.headers.host}` &&
      origin !== `https://${req.headers.host}`
    ) {
      return 'cross-origin request refused';
    }
    if (typeof token !== 'string' || !caller.csrf || !sameSecret(token, caller.csrf)) {
      return 'missing or wrong CSRF token; reload the page';
    }
    return undefined;
  }

  private showLogin(res: ServerResponse, error?: string, status = 200): void {
    const token = randomBytes(24).toString('base64url');
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'set-cookie': cookie(loginCsrfCookie, token, {
        secure: this.options.config.secureCookies,
        maxAgeSeconds: 3600,
        path: '/login',
      }),
      ...securityHeaders,
    });
    res.end(loginPage(token, error));
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    const expected = parseCookies(req.headers.cookie)[loginCsrfCookie];
    const given = form.get('csrf') ?? '';
    if (!expected || !sameSecret(given, expected)) {
      this.showLogin(res, 'The sign-in form expired; try again.', 403);
      return;
    }
    const loginId = (form.get('login') ?? '').trim();
    const secret = form.get('secret') ?? '';
    const key = loginId.toLowerCase();
    const failure = this.failures.get(key);
    if (failure && failure.count >= 5 && failure.until > Date.now()) {
      this.showLogin(res, 'Too many failed sign-ins; wait a few minutes.', 429);
      return;
    }
    const login = this.options.config.logins.find((l) => l.id === loginId);
    let ok = false;
    if (login?.passwordHash) ok = await verifyPassword(secret, login.passwordHash);
    if (!ok && login?.token) ok = sameSecret(secret, login.token);
    const person = ok ? this.options.host.people.lookup('web', loginId) : undefined;
    if (!ok || !person) {
      const count = (failure?.until ?? 0) > Date.now() ? (failure?.count ?? 0) + 1 : 1;
      this.failures.set(key, { count, until: Date.now() + 10 * 60_000 });
      this.options.log?.(
        `web sign-in refused for login "${redact(loginId, this.options.secrets).slice(0, 64)}"`,
      );
      this.showLogin(res, ok ? 'This login is not on the allow-list.' : 'Wrong login or password.', 401);
      return;
    }
    this.failures.delete(key);
    const session = this.options.sessions.create(loginId);
    res.writeHead(303, {
      location: '/',
      'set-cookie': [
        cookie(sessionCookie, session.id, {
          secure: this.options.config.secureCookies,
          maxAgeSeconds: Math.floor(this.options.config.sessionTtl / 1000),
        }),
        cookie(loginCsrfCookie, '', {
          secure: this.options.config.secureCookies,
          maxAgeSeconds: 0,
          path: '/login',
        }),
      ],
    });
    res.end();
  }

  private async logout(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
    const form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    if (this.csrfProblem(req, caller, form.get('csrf') ?? undefined)) {
      sendJson(res, 403, { error: 'missing or wrong CSRF token' });
      return;
    }
    if (caller.sessionId) this.options.sessions.delete(caller.sessionId);
    res.writeHead(303, {
      location: '/login',
      'set-cookie': cookie(sessionCookie, '', {
        secure: this.options.config.secureCookies,
        maxAgeSeconds: 0,
      }),
    });
    res.end();
  }

  private state(res: ServerResponse, caller: Caller): void {
    const { host } = this.options;
    sendJson(res, 200, {
      me: { login: caller.login, name: caller.name, role: caller.role },
      modelConfigured: host.modelConfigured,
      ...(host.modelConfigured ? {} : { modelSetupHelp: host.modelSetupHelp }),
      proposals: host.pendingProposals(),
    });
  }

  private events(res: ServerResponse, url: URL): void {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const before = url.searchParams.get('before');
    const events = this.options.store.listEvents({
      limit: Number.isFinite(limit) ? limit : 50,
      ...(before ? { beforeSeq: Number(before) } : {}),
      ...(url.searchParams.get('run') ? { runKey: url.searchParams.get('run') as string } : {}),
    });
    sendJson(res, 200, {
      events: events.map((e) => ({ ...e, payload: undefined })),
      nextBefore: events.length > 0 ? events[events.length - 1]?.seq : null,
    });
  }

  private audit(res: ServerResponse, url: URL): void {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 100) || 100, 1), 1000);
    const rows = this.options.host.audit.list({ limit });
    sendJson(res, 200, { rows: rows.reverse() });
  }

  /** Notifications for web: event feeds and this person's own conversation. */
  private feed(res: ServerResponse, url: URL, caller: Caller): void {
    const after = Number(url.searchParams.get('after') ?? 0) || 0;
    const own = `web:${caller.login}`;
    const notifications = this.options.store
      .listNotifications({ channel: 'web', afterId: after, limit: 200 })
      .filter((n) => n.status !== 'held' && n.status !== 'digested' && n.status !== 'pending')
      .filter((n) => !n.conversation.startsWith('web:') || n.conversation === own)
      .map((n) => ({
        id: n.id,
        kind: n.kind,
        text: n.text,
        conversation: n.conversation,
        createdAt: n.createdAt,
      }));
    sendJson(res, 200, { notifications });
  }

  private async readJson(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const value = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      if (value && typeof value === 'object' && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // answered below
    }
    sendJson(res, 400, { error: 'expected a JSON object' });
    return undefined;
  }

  /** A chat message; the reply streams back as server-sent events. */
  private async message(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
    const body = await this.readJson(req, res);
    if (!body) return;
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    if (!text || text.length > 20_000) {
      sendJson(res, 400, { error: 'text: a message of 1 to 20000 characters' });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const frame = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the browser went away'));
    });
    const secrets = this.options.secrets;
    try {
      const result = await this.options.host.handleMessage({
        channel: 'web',
        senderId: caller.login,
        conversationId: `web:${caller.login}`,
        text,
        onText: (delta) => frame('delta', { text: redact(delta, secrets) }),
        signal: controller.signal,
      });
      frame('done', {
        reply: redact(result.reply, secrets),
        proposals: this.options.host.pendingProposals(),
        ...(result.ignored ? { ignored: result.ignored } : {}),
      });
    } catch (error) {
      frame('error', { error: redact((error as Error).message, secrets) });
    } finally {
      res.end();
      this.options.afterTurn?.();
    }
  }

  /** A confirm/reject button: that person's decision message in the proposal's conversation. */
  private async decide(req: IncomingMessage, res: ServerResponse, caller: Caller, id: string): Promise<void> {
    const body = await this.readJson(req, res);
    if (!body) return;
    const decision = body.decision;
    if (decision !== 'confirm' && decision !== 'reject') {
      sendJson(res, 400, { error: 'decision: confirm or reject' });
      return;
    }
    const proposal = this.options.host.pendingProposals().find((p) => p.id === id);
    if (!proposal) {
      sendJson(res, 409, {
        error: `${id} is not waiting for a decision (decided, expired or unknown); nothing was run`,
      });
      return;
    }
    try {
      const result = await this.options.host.handleMessage({
        channel: 'web',
        senderId: caller.login,
        conversationId: proposal.conversationId,
        text: `${decision} ${id}`,
      });
      sendJson(res, 200, {
        reply: redact(result.reply, this.options.secrets),
        proposals: this.options.host.pendingProposals(),
      });
    } catch (error) {
      sendJson(res, 500, { error: redact((error as Error).message, this.options.secrets) });
    } finally {
      this.options.afterTurn?.();
    }
  }
}
