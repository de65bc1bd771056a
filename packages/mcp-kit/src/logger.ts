/**
 * Logging for servers whose stdout belongs to the protocol: every line goes to stderr.
 * Secrets registered with the logger are replaced before a line is written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levelOrder: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Registers a value that must never be written; later lines show `[redacted]` instead. */
  addSecret(secret: string | undefined): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  secrets?: Array<string | undefined>;
}

/** Replaces every occurrence of each secret (at least 4 characters) with `[redacted]`. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const threshold = levelOrder[options.level ?? parseLevel(process.env.NIGHTSHIFT_LOG_LEVEL) ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const secrets = new Set<string>();
  for (const secret of options.secrets ?? []) if (secret) secrets.add(secret);

  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (levelOrder[level] < threshold) return;
    const suffix = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
    write(redact(`${new Date().toISOString()} ${level} [${name}] ${message}${suffix}`, secrets));
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    addSecret: (secret) => {
      if (secret) secrets.add(secret);
    },
  };
}

function parseLevel(value: string | undefined): LogLevel | undefined {
  return value && value in levelOrder ? (value as LogLevel) : undefined;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
  } catch {
    return '[unserialisable fields]';
  }
}
