import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config.ts';
import { createHost } from '../../src/core/host.ts';
import type { Host } from '../../src/core/types.ts';
import { createScriptedModel, type ScriptedModel, type ScriptedTurn } from '../../src/models/scripted.ts';
import type { ModelAdapter } from '../../src/models/types.ts';
import { type RunningService, startService } from '../../src/service/service.ts';
import { parseServiceConfig, type ServiceConfig } from '../../src/service/service-config.ts';
import { signMlflowWebhook, signSlackRequest, signStandardWebhook } from '../../src/service/signatures.ts';

export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const recordingServer = join(fixtures, 'recording-server.ts');

export const eventSecret = `whsec_${randomBytes(24).toString('base64')}`;
export const rotatedSecret = `whsec_${randomBytes(24).toString('base64')}`;
export const mlflowSecret = `mlflow-${randomBytes(12).toString('hex')}`;
export const slackSigningSecret = randomBytes(16).toString('hex');
export const slackBotToken = `xoxb-${randomBytes(12).toString('hex')}`;

export function tempDir(prefix = 'ns-service-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface HostSetup {
  dir: string;
  host: Host;
  model: ScriptedModel | ModelAdapter;
  recordFile: string;
  /** The writes the recording server actually ran. */
  recorded(): string[];
}

export const people = `
people:
  - { name: Anna, role: approver, web: anna, slack: UANNA }
  - { name: Vic, role: viewer, web: vic, slack: UVIC }
`;

/** A real host (real store, real MCP server over stdio) driven by a scripted model. */
export async function makeHost(
  dir: string,
  options: {
    turns?: ScriptedTurn[];
    model?: ModelAdapter;
    noModel?: boolean;
    now?: () => Date;
    extra?: string;
  } = {},
): Promise<HostSetup> {
  const recordFile = join(dir, 'recorded.jsonl');
  writeFileSync(join(dir, 'brief.md'), 'You watch training jobs. Say [silent] when nothing matters.\n');
  const config = parseConfig(
    `dataDir: ${join(dir, 'data')}
brief: brief.md
mcpServers:
  rec:
    command: ${process.execPath}
    args: [${JSON.stringify(recordingServer)}]
    env: { RECORD_FILE: ${JSON.stringify(recordFile)} }
    trusted: true
${people}
${options.extra ?? ''}`,
    { baseDir: dir, env: {} },
  );
  const model = options.model ?? createScriptedModel(options.turns ?? []);
  const host = await createHost(config, {
    ...(options.noModel ? {} : { model }),
    log: () => {},
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    dir,
    host,
    model,
    recordFile,
    recorded: () =>
      existsSync(recordFile) ? readFileSync(recordFile, 'utf8').trim().split('\n').filter(Boolean) : [],
  };
}

export function serviceConfig(overrides: Record<string, unknown> = {}): ServiceConfig {
  const { events, ...rest } = overrides;
  return parseServiceConfig({
    listen: { port: 0 },
    events: {
      secrets: [eventSecret, rotatedSecret],
      mlflowSecrets: [mlflowSecret],
      retryAfter: '1s',
      ...(events as Record<string, unknown> | undefined),
    },
    ...rest,
  });
}

export async function startTestService(
  setup: HostSetup,
  overrides: Record<string, unknown> = {},
  extra: { now?: () => Date; log?: (line: string) => void } = {},
): Promise<RunningService> {
  return startService({
    host: setup.host,
    service: serviceConfig(overrides),
    dataDir: join(setup.dir, 'data'),
    secrets: [eventSecret, rotatedSecret, mlflowSecret, slackSigningSecret, slackBotToken],
    log: extra.log ?? (() => {}),
    ...(extra.now ? { now: extra.now } : {}),
  });
}

let counter = 0;

/** A job event body as the reporters send it. */
export function jobEvent(type: string, job = 'j-1', name = 'customer-a/weld-defect-v4', data: unknown = {}) {
  return { type, timestamp: new Date().toISOString(), job: { id: job, name }, data };
}

/** POSTs a Standard Webhooks-signed event; returns status and JSON answer. */
export async function postEvent(
  baseUrl: string,
  body: unknown,
  options: { id?: string; secret?: string; timestamp?: number; raw?: string; signature?: string | null } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const raw = options.raw ?? JSON.stringify(body);
  const id = options.id ?? `msg_${Date.now()}_${++counter}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
  };
  const signature =
    options.signature === undefined
      ? signStandardWebhook(options.secret ?? eventSecret, id, timestamp, raw)
      : options.signature;
  if (signature !== null) headers['webhook-signature'] = signature;
  const response = await fetch(`${baseUrl}/v1/events`, { method: 'POST', headers, body: raw });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function postMlflowEvent(baseUrl: string, body: unknown, secret = mlflowSecret) {
  const raw = JSON.stringify(body);
  const id = `delivery-${++counter}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(`${baseUrl}/v1/mlflow-events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-mlflow-delivery-id': id,
      'x-mlflow-timestamp': String(timestamp),
      'x-mlflow-signature': signMlflowWebhook(secret, id, timestamp, raw),
    },
    body: raw,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** POSTs a Slack-signed request (JSON for events, form-encoded payload for interactivity). */
export async function postSlack(
  baseUrl: string,
  path: '/slack/events' | '/slack/interactivity',
  body: unknown,
  options: { secret?: string; timestamp?: number } = {},
) {
  const raw =
    path === '/slack/events'
      ? JSON.stringify(body)
      : new URLSearchParams({ payload: JSON.stringify(body) }).toString();
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': path === '/slack/events' ? 'application/json' : 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(options.secret ?? slackSigningSecret, timestamp, raw),
    },
    body: raw,
  });
  return { status: response.status, text: await response.text() };
}

export interface SlackCall {
  method: string;
  token: string | undefined;
  body: Record<string, unknown>;
}

/**
 * A local peer speaking Slack's Web API (`chat.postMessage`, `chat.update`, `chat.postEphemeral`:
 * JSON in, `{ ok, channel, ts }` out, bearer token checked). It records every call.
 */
export async function startSlackPeer(token = slackBotToken): Promise<{
  url: string;
  calls: SlackCall[];
  close(): Promise<void>;
}> {
  const calls: SlackCall[] = [];
  let ts = 1_700_000_000;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = (req.url ?? '').replace(/^\/api\//, '').replace(/^\//, '');
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      // recorded as empty
    }
    calls.push({ method, token: auth, body });
    res.setHeader('content-type', 'application/json');
    if (auth !== token) {
      res.end(JSON.stringify({ ok: false, error: 'invalid_auth' }));
      return;
    }
    if (!['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(method)) {
      res.end(JSON.stringify({ ok: false, error: 'unknown_method' }));
      return;
    }
    if (!body.channel || (!body.text && !body.blocks)) {
      res.end(JSON.stringify({ ok: false, error: body.channel ? 'no_text' : 'channel_not_found' }));
      return;
    }
    const messageTs = method === 'chat.update' ? String(body.ts) : `${++ts}.000100`;
    res.end(
      JSON.stringify(
        method === 'chat.postEphemeral'
          ? { ok: true, message_ts: messageTs }
          : { ok: true, channel: body.channel, ts: messageTs, message: { text: body.text, ts: messageTs } },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` returns a truthy value (bounded). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
