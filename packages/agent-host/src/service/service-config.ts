import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { HostConfigError, type NightshiftConfig, parseConfig, parseDuration } from '../config.ts';

/**
 * The `service:` block of `nightshift.config.yaml`: where `nightshift serve` listens, the event
 * intake's secrets, routing of event notifications, the flood cap, proposal reminders, web chat
 * sign-in and Slack. The host core validates everything else; this block is taken off before the
 * core sees the file and validated here, with the same `${ENV}` substitution.
 *
 * ```yaml
 * service:
 *   listen: { host: 127.0.0.1, port: 7400 }
 *   events:
 *     secrets: ['${NIGHTSHIFT_EVENTS_SECRET}']      # whsec_…; list several while rotating
 *     mlflowSecrets: ['${MLFLOW_WEBHOOK_SECRET}']
 *   routes:
 *     - match: { run: 'customer-a/*' }
 *       channel: slack
 *       conversation: C0123456
 *     - channel: web                                  # the default route
 *       conversation: team
 *   floodCap: { messages: 6, window: 10m }
 *   proposals: { remindAfter: 2h }
 *   web:
 *     logins:
 *       - { id: anna, passwordHash: 'scrypt$…' }      # `nightshift serve --hash-password`
 *       - { id: bob, token: '${BOB_WEB_TOKEN}' }
 *   slack:
 *     signingSecret: ['${SLACK_SIGNING_SECRET}']
 *     botToken: '${SLACK_BOT_TOKEN}'
 * ```
 */

const duration = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?\s*(s|m|h|d)$/, 'a duration like 30s, 10m, 2h or 1d'),
  ])
  .transform((v) => (typeof v === 'number' ? v * 1000 : parseDuration(v)));

const secretList = z
  .union([z.string().min(1), z.array(z.string().min(1))])
  .transform((v) => (Array.isArray(v) ? v : [v]));

const routeSchema = z.strictObject({
  match: z
    .strictObject({
      run: z.string().optional().describe('Glob on the run key (`<job name>#<job id>`), e.g. customer-a/*.'),
      type: z.string().optional().describe('Glob on the event type, e.g. job.* or mlflow.*.'),
      source: z.enum(['job', 'mlflow']).optional().describe('Where the event came from.'),
    })
    .default({}),
  channel: z.string().min(1).describe('web, slack, or another channel the service runs.'),
  conversation: z.string().min(1).describe('Web: a feed name; Slack: the channel id (C…).'),
});

const loginSchema = z
  .strictObject({
    id: z.string().min(1).describe('The web login; the person lists it under `web:` in people.'),
    passwordHash: z
      .string()
      .regex(/^scrypt\$/, 'a hash from `nightshift serve --hash-password`')
      .optional(),
    token: z.string().min(16, 'a sign-in token has at least 16 characters').optional(),
  })
  .refine((l) => l.passwordHash || l.token, { message: 'needs passwordHash or token' });

export const serviceConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Bind address; 127.0.0.1 unless told otherwise.'),
      port: z.number().int().min(0).max(65535).default(7400),
    })
    .default({ host: '127.0.0.1', port: 7400 }),
  events: z
    .strictObject({
      secrets: secretList
        .optional()
        .describe('Standard Webhooks secrets (whsec_…); several during rotation.'),
      mlflowSecrets: secretList.optional().describe('Secrets of MLflow registry webhooks.'),
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
      concurrency: z.number().int().min(1).max(16).default(2).describe('Event turns running at once.'),
      maxEventsPerTurn: z.number().int().min(1).max(1000).default(100),
      retryAfter: duration.default(5000).describe('First wait after a failed turn (doubles, max 10 min).'),
    })
    .default(() => ({ maxBodyBytes: 1024 * 1024, concurrency: 2, maxEventsPerTurn: 100, retryAfter: 5000 })),
  routes: z.array(routeSchema).default([]),
  floodCap: z
    .strictObject({
      messages: z
        .number()
        .int()
        .min(1)
        .default(6)
        .describe('Event messages per channel conversation per window.'),
      window: duration.default(600_000),
    })
    .default({ messages: 6, window: 600_000 }),
  proposals: z
    .strictObject({
      remindAfter: duration.default(2 * 3600_000).describe('Remind a waiting proposal after this long.'),
      checkEvery: duration.default(15_000),
    })
    .default({ remindAfter: 2 * 3600_000, checkEvery: 15_000 }),
  web: z
    .strictObject({
      enabled: z.boolean().default(true),
      logins: z.array(loginSchema).default([]),
      secureCookies: z.boolean().default(false).describe('Mark cookies Secure (behind an HTTPS proxy).'),
      sessionTtl: duration.default(12 * 3600_000),
    })
    .default({ enabled: true, logins: [], secureCookies: false, sessionTtl: 12 * 3600_000 }),
  slack: z
    .strictObject({
      signingSecret: secretList.describe('Slack signing secret(s) of the app.'),
      botToken: z.string().min(1).describe('xoxb-… bot token for the Web API.'),
      apiBaseUrl: z.url().default('https://slack.com/api').describe('Slack Web API base URL.'),
      teamId: z.string().optional().describe('Only requests from this workspace count.'),
      timeoutSeconds: z.number().positive().default(10),
    })
    .optional(),
});

export type ServiceConfig = z.output<typeof serviceConfigSchema>;
export type RouteConfig = ServiceConfig['routes'][number];

/** Host config and service config from one file, plus every secret the service must never show. */
export interface LoadedConfig {
  host: NightshiftConfig;
  service: ServiceConfig;
  /** Values that must never appear in logs, pages or model context. */
  secrets: string[];
}

function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_, name: string, fallback?: string) => {
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        problems.push(`${path}: environment variable ${name} is not set`);
        return '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, `${path}[${i}]`, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, env, `${path}.${k}`, problems)]),
    );
  }
  return value;
}

/** Validates a `service:` block (already YAML-parsed). */
export function parseServiceConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  source = 'config',
): ServiceConfig {
  const problems: string[] = [];
  const expanded = substitute(raw ?? {}, env, 'service', problems);
  const result = serviceConfigSchema.safeParse(expanded);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`service.${issue.path.map(String).join('.')}: ${issue.message}`);
    }
  }
  if (result.success) {
    for (const secret of result.data.events.secrets ?? []) {
      if (!/^whsec_[A-Za-z0-9+/=]{22,}$/.test(secret)) {
        problems.push('service.events.secrets: each secret is whsec_ followed by base64 (at least 16 bytes)');
      }
    }
  }
  if (problems.length > 0 || !result.success) throw new HostConfigError(source, problems);
  return result.data;
}

/** Every secret of the service block (for redaction). */
export function serviceSecrets(service: ServiceConfig): string[] {
  return [
    ...(service.events.secrets ?? []),
    ...(service.events.mlflowSecrets ?? []),
    ...service.web.logins.flatMap((l) => (l.token ? [l.token] : [])),
    ...(service.slack ? [...service.slack.signingSecret, service.slack.botToken] : []),
  ];
}

/** Parses one config document: the host part by the core's parser, the `service:` block here. */
export function parseFullConfig(
  text: string,
  options: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {},
): LoadedConfig {
  const env = options.env ?? process.env;
  const source = options.source ?? 'nightshift.config.yaml';
  let document: Record<string, unknown>;
  try {
    const parsed = parseYaml(text) ?? {};
    document =
      typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch (error) {
    throw new HostConfigError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  const { service: rawService, ...hostDocument } = document;
  const problems: string[] = [];
  let host: NightshiftConfig | undefined;
  let service: ServiceConfig | undefined;
  try {
    host = parseConfig(stringifyYaml(hostDocument), { ...options, env });
  } catch (error) {
    if (!HostConfigError.isInstance(error)) throw error;
    problems.push(...error.problems);
  }
  try {
    service = parseServiceConfig(rawService, env, source);
  } catch (error) {
    if (!HostConfigError.isInstance(error)) throw error;
    problems.push(...error.problems);
  }
  if (!host || !service) throw new HostConfigError(source, problems);
  const secrets = [...new Set([...host.secrets, ...serviceSecrets(service)])];
  return { host, service, secrets };
}

/** Reads `nightshift.config.yaml` (host and service parts). */
export function loadFullConfig(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HostConfigError(path, [
      `cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass --config <path>`,
    ]);
  }
  return parseFullConfig(text, { env, baseDir: dirname(resolve(path)), source: path });
}
