import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * `nightshift.config.yaml`: servers, model, brief, people, policy. `${VAR}` (and
 * `${VAR:-default}`) in any string value is replaced from the environment after YAML parsing, so
 * a value can never change the document's structure. Every problem is reported at once.
 */

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1))]);

const stdioServer = z.strictObject({
  command: z.string().min(1).describe('The program to spawn; it speaks MCP over stdio.'),
  args: z.array(z.string()).default([]).describe('Arguments for the program.'),
  env: z
    .record(z.string(), z.string())
    .default({})
    .describe('Environment for the server (credentials go here).'),
  cwd: z.string().optional().describe('Working directory for the server.'),
  trusted: z.boolean().optional().describe("Honour the server's tool annotations for policy."),
});

const httpServer = z.strictObject({
  url: z.url().describe('The Streamable HTTP endpoint, e.g. http://127.0.0.1:7301/mcp.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Headers sent with every request.'),
  trusted: z.boolean().optional().describe("Honour the server's tool annotations for policy."),
});

const serverName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'server names use letters, digits, _ and - (max 32)');

const modelSchema = z.strictObject({
  provider: z.enum(['anthropic', 'openai-compatible', 'scripted']),
  name: z.string().min(1).optional().describe('The model id, e.g. claude-sonnet-4-5 or llama3.1:70b.'),
  baseUrl: z.url().optional().describe('API base URL (required for openai-compatible).'),
  apiKeyEnv: z.string().optional().describe('The environment variable holding the API key.'),
  maxTokens: z.number().int().positive().default(4096).describe('Max output tokens per model call.'),
  script: z.string().optional().describe('For provider scripted: the YAML/JSON file of model turns.'),
  timeoutSeconds: z.number().positive().default(300).describe('Timeout for one model call.'),
});

const personSchema = z
  .looseObject({
    name: z.string().min(1),
    role: z.enum(['approver', 'viewer']),
  })
  .superRefine((person, ctx) => {
    const channels = Object.keys(person).filter((k) => k !== 'name' && k !== 'role');
    if (channels.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'needs at least one channel id (e.g. terminal: anna)' });
    }
    for (const channel of channels) {
      if (!stringOrList.safeParse(person[channel]).success) {
        ctx.addIssue({
          code: 'custom',
          path: [channel],
          message: 'a channel id is a string or a list of strings',
        });
      }
    }
  });

const policyClass = z.enum(['read', 'act', 'confirm', 'deny']);

export const defaultConfirmPhrases = [
  'yes',
  'y',
  'go ahead',
  'do it',
  'confirm',
  'confirmed',
  'approve',
  'approved',
  'kör på',
  'kör',
  'ja',
];
export const defaultRejectPhrases = ['no', 'n', 'cancel', 'reject', 'stop', 'drop it', 'nej', 'avbryt'];

const duration = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?\s*(s|m|h|d)$/, 'a duration like 30m, 24h or 2d'),
  ])
  .transform((v) => (typeof v === 'number' ? v * 1000 : parseDuration(v)));

const policySchema = z.strictObject({
  tools: z
    .record(z.string(), policyClass)
    .default({})
    .describe('Per-tool class overrides: keys are `tool`, `server/tool` or `server/*`.'),
  confirmPhrases: z.array(z.string().min(1)).default(defaultConfirmPhrases),
  rejectPhrases: z.array(z.string().min(1)).default(defaultRejectPhrases),
  proposalExpiry: duration.default(24 * 3600 * 1000).describe('How long a proposal can be confirmed.'),
  maxSteps: z.number().int().positive().default(16).describe('Model calls per turn.'),
  maxTokensPerTurn: z.number().int().positive().default(400_000).describe('Input+output tokens per turn.'),
  toolTimeoutSeconds: z.number().positive().default(120).describe('Timeout for one tool call.'),
  historyMessages: z.number().int().positive().default(60).describe('Earlier messages sent with each turn.'),
});

export const configSchema = z.strictObject({
  dataDir: z.string().default('.nightshift').describe('Where the SQLite store lives.'),
  brief: z.string().default('brief.md'),
  model: modelSchema.optional(),
  mcpServers: z.record(serverName, z.union([stdioServer, httpServer])).default({}),
  people: z.array(personSchema).default([]),
  policy: policySchema.default(() => policySchema.parse({})),
  /** `nightshift serve`'s block (listen address, event secrets, routes, web, Slack); validated by the service. */
  service: z.unknown().optional(),
});

export type NightshiftConfig = z.output<typeof configSchema> & {
  /** Absolute path of the config file (relative paths in it resolve from its directory). */
  configPath?: string;
  /** Values substituted from the environment into server env/headers and the model key: never shown. */
  secrets: string[];
};
export type ServerConfig = NightshiftConfig['mcpServers'][string];
export type StdioServerConfig = z.output<typeof stdioServer>;
export type HttpServerConfig = z.output<typeof httpServer>;
export type ModelConfig = z.output<typeof modelSchema>;
export type PolicyConfig = z.output<typeof policySchema>;

const configErrorMarker = Symbol.for('nightshift.ConfigError');

/** A configuration that cannot be used; the message lists every problem. */
export class HostConfigError extends Error {
  override readonly name = 'HostConfigError';
  readonly problems: string[];
  readonly [configErrorMarker] = true;
  constructor(source: string, problems: string[]) {
    super(`${source} has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
  static isInstance(value: unknown): value is HostConfigError {
    return typeof value === 'object' && value !== null && configErrorMarker in value;
  }
}

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** Replaces `${VAR}` / `${VAR:-default}` in every string; collects unset variables as problems. */
function substitute(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string,
  problems: string[],
  substituted: Set<string>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_, name: string, fallback?: string) => {
        const found = env[name];
        if (found !== undefined && found !== '') {
          substituted.add(`${path}\u0000${found}`);
          return found;
        }
        if (fallback !== undefined) return fallback;
        problems.push(`${path || '(root)'}: environment variable ${name} is not set`);
        return '';
      },
    );
  }
  if (Array.isArray(value))
    return value.map((v, i) => substitute(v, env, `${path}[${i}]`, problems, substituted));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        substitute(v, env, path ? `${path}.${k}` : k, problems, substituted),
      ]),
    );
  }
  return value;
}

/** Parses and validates a config document (YAML text). Relative paths resolve from `baseDir`. */
export function parseConfig(
  text: string,
  options: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string; ignoreMissingEnv?: boolean } = {},
): NightshiftConfig {
  const source = options.source ?? 'nightshift.config.yaml';
  const env = options.env ?? process.env;
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new HostConfigError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  const substituted = new Set<string>();
  const envProblems: string[] = [];
  const expanded = substitute(raw, env, '', envProblems, substituted);
  // Commands that only read the store (audit) need no server credentials.
  // The service block is `nightshift serve`'s to validate: chat and doctor run without its secrets.
  if (!options.ignoreMissingEnv) problems.push(...envProblems.filter((p) => !p.startsWith('service')));
  const result = configSchema.safeParse(expanded);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
    }
  }
  const config = result.success ? result.data : undefined;
  if (config) problems.push(...semanticProblems(config));
  if (problems.length > 0 || !config) throw new HostConfigError(source, problems);

  const baseDir = options.baseDir ?? process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  config.dataDir = abs(config.dataDir);
  config.brief = abs(config.brief);
  if (config.model?.script) config.model.script = abs(config.model.script);

  // Secrets: values from the environment that land in a credential-looking server env var, in
  // any header, or in the model block; plus literal values of credential-looking keys.
  const secretName = /token|key|secret|passw|auth|credential|cookie/i;
  const secrets = new Set<string>();
  for (const entry of substituted) {
    const [path, value] = entry.split('\u0000') as [string, string];
    const key = path.split('.').pop() ?? '';
    const isSecret =
      /^mcpServers\.[^.]+\.headers\./.test(path) ||
      (/^mcpServers\.[^.]+\.env\./.test(path) &&
        (secretName.test(key) || /\/\/[^/@\s]+:[^/@\s]+@/.test(value))) ||
      (path.startsWith('model.') && secretName.test(key));
    if (isSecret && value.length >= 6) secrets.add(value);
  }
  for (const server of Object.values(config.mcpServers)) {
    const entries = Object.entries('command' in server ? server.env : server.headers);
    for (const [name, value] of entries) {
      if (!secretName.test(name) || value.length < 6) continue;
      secrets.add(value);
      const token = /^(?:Bearer|Basic|Token)\s+(.+)$/i.exec(value)?.[1];
      if (token && token.length >= 6) secrets.add(token);
    }
  }
  if (config.model?.apiKeyEnv && env[config.model.apiKeyEnv])
    secrets.add(env[config.model.apiKeyEnv] as string);
  return { ...config, secrets: [...secrets], configPath: options.source ? abs(options.source) : undefined };
}

function semanticProblems(config: z.output<typeof configSchema>): string[] {
  const problems: string[] = [];
  const model = config.model;
  if (model) {
    if (model.provider === 'openai-compatible' && !model.baseUrl) {
      problems.push(
        'model.baseUrl: required for provider openai-compatible (e.g. http://127.0.0.1:11434/v1)',
      );
    }
    if (model.provider !== 'scripted' && !model.name)
      problems.push(`model.name: required for provider ${model.provider}`);
    if (model.provider === 'scripted' && !model.script)
      problems.push('model.script: required for provider scripted');
  }
  const seen = new Map<string, string>();
  config.people.forEach((person, index) => {
    for (const [channel, ids] of Object.entries(person)) {
      if (channel === 'name' || channel === 'role') continue;
      for (const id of Array.isArray(ids) ? ids : [ids]) {
        const key = `${channel}:${id}`;
        const other = seen.get(key);
        if (other !== undefined)
          problems.push(`people[${index}].${channel}: id ${id} is also used by ${other}`);
        seen.set(key, String(person.name));
      }
    }
  });
  for (const phrase of config.policy.confirmPhrases) {
    if (config.policy.rejectPhrases.some((r) => normalizePhrase(r) === normalizePhrase(phrase))) {
      problems.push(`policy: "${phrase}" is both a confirm and a reject phrase`);
    }
  }
  return problems;
}

/** Lower-case, collapse whitespace, drop surrounding punctuation: how phrases are compared. */
export function normalizePhrase(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFC')
    .replace(/\s+/g, ' ')
    .replace(/^[\s"'`*_.,!?:;]+|[\s"'`*_.,!?:;]+$/g, '')
    .trim();
}

/** Reads and validates a config file; relative paths inside resolve from the file's directory. */
export function loadConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { ignoreMissingEnv?: boolean } = {},
): NightshiftConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HostConfigError(path, [
      `cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        'create one (see the agent-host README for a full example) or pass --config <path>',
    ]);
  }
  return parseConfig(text, { env, baseDir: dirname(resolve(path)), source: path, ...options });
}
