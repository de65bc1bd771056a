import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Host } from '../core/types.ts';
import { EventStore, EventWriter } from './event-store.ts';
import { redact, sendJson } from './http.ts';
import { handleIntake, jobSource, mlflowSource } from './intake.ts';
import { type ChannelSink, Outbox } from './outbox.ts';
import { ProposalWatch } from './proposal-watch.ts';
import { Router } from './routing.ts';
import { EventScheduler } from './scheduler.ts';
import type { ServiceConfig } from './service-config.ts';
import { SlackChannel } from './slack.ts';
import { SessionStore } from './web-auth.ts';
import { WebChat } from './web-chat.ts';

/**
 * `nightshift serve` as a library: one HTTP server (127.0.0.1 unless configured otherwise) with
 * the event intake, the web chat and the Slack endpoints, plus the event scheduler, the
 * notification outbox and the proposal watch, all around one host.
 */

export interface StartServiceOptions {
  host: Host;
  service: ServiceConfig;
  dataDir: string;
  /** Values never shown in logs or pages. */
  secrets?: readonly string[];
  /** Overrides `service.listen`. */
  listen?: { host?: string; port?: number };
  log?: (line: string) => void;
  now?: () => Date;
}

export interface RunningService {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  readonly store: EventStore;
  readonly scheduler: EventScheduler;
  readonly outbox: Outbox;
  readonly watch: ProposalWatch;
  readonly slack: SlackChannel | undefined;
  /** Resolves when no turn runs, nothing runnable is pending and the outbox is drained (tests). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const webSink: ChannelSink = {
  // Web notifications are read from the store by the page's feed: storing them is delivering them.
  async deliver() {},
};

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { host, service } = options;
  const secrets = options.secrets ?? [];
  const log = (line: string) =>
    (options.log ?? ((l) => process.stderr.write(`${l}\n`)))(redact(line, secrets));
  const now = options.now ?? (() => new Date());
  const store = new EventStore(options.dataDir, { now });
  const router = new Router(service.routes);

  const watch = new ProposalWatch({
    store,
    pendingProposals: () => host.pendingProposals(),
    audit: host.audit,
    remindAfterMs: service.proposals.remindAfter,
    now,
    onQueued: () => void outbox.pump(),
  });
  const afterTurn = () => {
    try {
      watch.check();
    } catch (error) {
      log(`proposal watch: ${(error as Error).message}`);
    }
    void outbox.pump();
  };

  const slack = service.slack
    ? new SlackChannel({ host, store, config: service.slack, secrets, afterTurn, log })
    : undefined;
  const sinks: Record<string, ChannelSink> = { web: webSink, ...(slack ? { slack } : {}) };
  const outbox = new Outbox({
    store,
    sinks,
    floodCap: { messages: service.floodCap.messages, windowMs: service.floodCap.window },
    now,
    log,
  });

  const scheduler = new EventScheduler({
    store,
    concurrency: service.events.concurrency,
    maxEventsPerTurn: service.events.maxEventsPerTurn,
    retryAfterMs: service.events.retryAfter,
    runTurn: (input) => host.runEventTurn(input),
    // A turn may also have held proposals: announce them with the notification.
    onNotification: afterTurn,
    log,
  });
  const writer = new EventWriter(
    store,
    () => {
      if (host.modelConfigured) scheduler.wake();
    },
    { thread: true, now },
  );

  const web = service.web.enabled
    ? new WebChat({
        host,
        store,
        config: service.web,
        sessions: new SessionStore(service.web.sessionTtl),
        secrets,
        afterTurn,
        log,
      })
    : undefined;

  const intake = {
    writer,
    router,
    maxBodyBytes: service.events.maxBodyBytes,
    log,
  };
  const jobs = jobSource(service.events.secrets ?? []);
  const mlflow = mlflowSource(service.events.mlflowSecrets ?? []);

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://service.invalid');
    if (req.method === 'POST' && url.pathname === '/v1/events') return handleIntake(req, res, jobs, intake);
    if (req.method === 'POST' && url.pathname === '/v1/mlflow-events')
      return handleIntake(req, res, mlflow, intake);
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return sendJson(res, 200, {
        ok: true,
        modelConfigured: host.modelConfigured,
        events: store.countEvents(),
      });
    }
    if (slack && (await slack.handle(req, res, url))) return;
    if (web && (await web.handle(req, res, url))) return;
    sendJson(res, 404, { error: 'not found' });
  };

  const server: Server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      log(`service: ${req.method} ${req.url?.split('?')[0]}: ${(error as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  const bindHost = options.listen?.host ?? service.listen.host;
  const bindPort = options.listen?.port ?? service.listen.port;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bindPort, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${address.port}`;

  const watchTimer = setInterval(afterTurn, service.proposals.checkEvery);
  watchTimer.unref();
  // Whatever a crash left behind: pending events get their turn, pending notifications go out,
  // held ones get their digest.
  if (host.modelConfigured) scheduler.wake();
  else if (store.pendingRoutes().length > 0)
    log('events are stored and shown, but no model is configured to read them');
  outbox.resumeHeld();
  afterTurn();

  let closed = false;
  return {
    url,
    store,
    scheduler,
    outbox,
    watch,
    slack,
    async settled() {
      for (let round = 0; round < 50; round++) {
        await scheduler.idle();
        await slack?.settled();
        watch.check();
        await outbox.pump();
        const busy = store.notificationsWithStatus('pending', 1).length > 0;
        if (!busy) {
          await scheduler.idle();
          if (store.notificationsWithStatus('pending', 1).length === 0) return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(watchTimer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await writer.close();
      await scheduler.stop();
      await slack?.settled();
      outbox.close();
      store.close();
    },
  };
}
