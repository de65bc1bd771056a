import { createHmac, randomUUID } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The job reporter for Node training jobs: the same event set and wire format as the Python
 * reporter. Every method returns at once; a background loop posts events (Standard Webhooks
 * signature), retries with backoff, and spools to disk when the service cannot be reached, so
 * an unreachable agent never blocks or crashes the job.
 */

export interface ReporterOptions {
  /** The service (`http://127.0.0.1:7400`) or its intake URL; default `NIGHTSHIFT_EVENTS_URL`. */
  url?: string;
  /** `whsec_…`; default `NIGHTSHIFT_EVENTS_SECRET`. */
  secret?: string;
  /** Default `NIGHTSHIFT_JOB_ID`. */
  jobId?: string;
  /** Default `NIGHTSHIFT_JOB_NAME`. */
  jobName?: string;
  /** Where undelivered events wait; default `NIGHTSHIFT_SPOOL_DIR` or `~/.cache/nightshift/spool`. */
  spoolDir?: string;
  /** Per request, milliseconds (default 5000). */
  timeoutMs?: number;
  /** Attempts per event before it is spooled (default 4). */
  maxAttempts?: number;
  /** First retry wait in milliseconds; doubles per attempt up to 8 s (default 500). */
  backoffMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface SpooledEvent {
  id: string;
  body: string;
}

type Data = Record<string, unknown>;

const cudaOom =
  /CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED|OutOfMemoryError|HIP out of memory|cudaErrorMemoryAllocation/i;

/** The `webhook-signature` value (Standard Webhooks `v1`) for a body. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** True when an error (or a log text) is a GPU out-of-memory failure. */
export function isCudaOom(error?: unknown, text = ''): boolean {
  if (error instanceof Error) {
    if (error.name === 'OutOfMemoryError') return true;
    return cudaOom.test(`${error.name}: ${error.message}\n${text}`);
  }
  return cudaOom.test(`${error === undefined ? '' : String(error)}\n${text}`);
}

/** The last lines of an error's stack, bounded. */
export function stackTail(error: unknown, lines = 40, chars = 6000): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.trimEnd().split('\n').slice(-lines).join('\n').slice(-chars);
}

function intakeUrl(url: string): string {
  const stripped = url.replace(/\/+$/, '');
  return stripped.endsWith('/v1/events') ? stripped : `${stripped}/v1/events`;
}

/** Metric values as plain JSON (bigint, NaN and friends become strings). */
function plain(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Data)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, plain(v)]),
    );
  }
  return value === undefined ? null : String(value);
}

// Timers stay referenced: a job that ends right after an event waits for it to be sent or
// spooled (a few seconds at most) instead of losing it.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Reporter {
  readonly url: string;
  readonly jobId: string;
  readonly jobName: string | undefined;
  readonly enabled: boolean;
  readonly spoolPath: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly queue: SpooledEvent[] = [];
  private running: Promise<void> | undefined;
  private readonly warned = new Set<string>();

  constructor(options: ReporterOptions = {}) {
    const env = options.env ?? process.env;
    const url = options.url ?? env.NIGHTSHIFT_EVENTS_URL ?? '';
    this.url = url ? intakeUrl(url) : '';
    this.secret = options.secret ?? env.NIGHTSHIFT_EVENTS_SECRET ?? '';
    this.jobId = options.jobId ?? env.NIGHTSHIFT_JOB_ID ?? `local-${process.pid}-${Date.now()}`;
    this.jobName = options.jobName ?? env.NIGHTSHIFT_JOB_NAME ?? undefined;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.backoffMs = options.backoffMs ?? 500;
    let enabled = Boolean(this.url && this.secret);
    if (enabled && Buffer.from(this.secret.replace(/^whsec_/, ''), 'base64').length < 16) {
      enabled = false;
      this.warn('NIGHTSHIFT_EVENTS_SECRET is not a whsec_ secret; events are not sent');
    }
    this.enabled = enabled;
    const spoolDir =
      options.spoolDir ??
      env.NIGHTSHIFT_SPOOL_DIR ??
      join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nightshift', 'spool');
    this.spoolPath = join(spoolDir, `${this.jobId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100)}.jsonl`);
  }

  /** The run started (with its config, if given). */
  started(config?: Data, data: Data = {}): void {
    this.emit('started', { ...(config ? { config } : {}), ...data });
  }

  /** An epoch ended: its number (1-based), the total, and its metrics. */
  epoch(epoch: number, epochs?: number, metrics: Data = {}, data: Data = {}): void {
    this.emit('epoch', { epoch, epochs: epochs ?? null, metrics, ...data });
  }

  /** Something worth noting: a new best, a checkpoint, an evaluation. */
  milestone(name: string, metrics: Data = {}, data: Data = {}): void {
    this.emit('milestone', { name, metrics, ...data });
  }

  /** The run finished; resolves once pending events went out or were spooled (bounded). */
  finished(metrics: Data = {}, data: Data = {}): Promise<boolean> {
    this.emit('finished', { metrics, ...data });
    return this.flush(this.timeoutMs * 2);
  }

  /** The run failed: error, stack tail, and whether it was a CUDA out-of-memory. */
  failed(error?: unknown, data: Data = {}): Promise<boolean> {
    const message =
      error instanceof Error
        ? `${error.name}: ${error.message}`
        : error === undefined
          ? 'failed'
          : String(error);
    const traceback = error === undefined ? '' : stackTail(error);
    this.emit('failed', {
      error: message.slice(0, 2000),
      error_type: error instanceof Error ? error.name : null,
      traceback,
      cuda_oom: isCudaOom(error, traceback),
      ...data,
    });
    return this.flush(this.timeoutMs * 2);
  }

  /** A log line worth the agent's attention. */
  log(message: string, level = 'info', data: Data = {}): void {
    this.emit('log', { message: String(message).slice(0, 4000), level, ...data });
  }

  /** Runs a job: `started`, then `finished`, or `failed` (and rethrows) on an error. */
  async run<T>(job: () => Promise<T> | T, config?: Data): Promise<T> {
    this.started(config);
    try {
      const result = await job();
      await this.finished();
      return result;
    } catch (error) {
      await this.failed(error);
      throw error;
    }
  }

  /** Reports an uncaught exception or unhandled rejection, then exits with status 1 as Node would. */
  installProcessHandlers(): void {
    const onFatal = (error: unknown) => {
      this.failed(error).finally(() => {
        process.stderr.write(`${stackTail(error, 200, 100_000)}\n`);
        process.exit(1);
      });
    };
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
  }

  private emit(kind: string, data: Data): void {
    if (!this.enabled) return;
    try {
      const body = JSON.stringify({
        type: `job.${kind}`,
        timestamp: new Date().toISOString(),
        job: { id: this.jobId, ...(this.jobName ? { name: this.jobName } : {}) },
        data: plain(data),
      });
      this.queue.push({ id: `msg_${randomUUID().replaceAll('-', '')}`, body });
      this.running ??= this.drain().finally(() => {
        this.running = undefined;
      });
    } catch (error) {
      this.warn(`could not queue an event: ${(error as Error).message}`);
    }
  }

  private async drain(): Promise<void> {
    // Yield first so a burst of calls from the job costs it nothing but an array push.
    await sleep(0);
    while (this.queue.length > 0) {
      const event = this.queue.shift() as SpooledEvent;
      try {
        if (existsSync(this.spoolPath) && !(await this.retrySpool())) this.spool(event);
        else if (!(await this.deliver(event, this.maxAttempts))) this.spool(event);
      } catch (error) {
        this.warn(`delivery error: ${(error as Error).message}`);
        this.spool(event);
      }
    }
  }

  /** Posts one event; true when the service took it (or refused it for good: 400, 413). */
  async deliver(event: SpooledEvent, attempts = 1): Promise<boolean> {
    let delay = this.backoffMs;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000);
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': sign(this.secret, event.id, timestamp, event.body),
            'user-agent': 'nightshift-reporter-node/0.1',
          },
          body: event.body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await response.arrayBuffer();
        if (response.ok) return true;
        if (response.status === 400 || response.status === 413) {
          this.warn(`the service refused an event (${response.status})`);
          return true;
        }
      } catch {
        // unreachable, timed out: retry, then spool
      }
      if (attempt + 1 < attempts) {
        await sleep(delay);
        delay = Math.min(delay * 2, 8000);
      }
    }
    return false;
  }

  private spool(event: SpooledEvent): void {
    try {
      mkdirSync(dirname(this.spoolPath), { recursive: true });
      appendFileSync(this.spoolPath, `${JSON.stringify(event)}\n`);
    } catch (error) {
      this.warn(`could not spool an event to ${this.spoolPath}: ${(error as Error).message}`);
    }
  }

  /** Events waiting in the spool file. */
  pending(): SpooledEvent[] {
    if (!existsSync(this.spoolPath)) return [];
    return readFileSync(this.spoolPath, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as SpooledEvent);
  }

  /** Sends spooled events in order; true when none remain. */
  async retrySpool(): Promise<boolean> {
    if (!this.enabled) return true;
    const events = this.pending();
    let sent = 0;
    for (const event of events) {
      if (!(await this.deliver(event, 1))) break;
      sent++;
    }
    if (sent === events.length) {
      rmSync(this.spoolPath, { force: true });
      return true;
    }
    const rest = events.slice(sent);
    writeFileSync(`${this.spoolPath}.tmp`, rest.map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(`${this.spoolPath}.tmp`, this.spoolPath);
    return false;
  }

  /** Waits until queued events were delivered or spooled; false when the time ran out. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const done = (async () => {
      while (this.running) await this.running;
      return true;
    })();
    const result = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return result;
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    process.stderr.write(`[nightshift-reporter] ${message}\n`);
  }
}
