import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, notFound, ToolError } from '@nightshift/mcp-kit';
import type { LocalBackendConfig } from '../config.ts';
import { findMlflowRunId, hasCudaOom, lastErrorLine } from '../log-analysis.ts';
import { jobVariables, substitute } from './job-env.ts';
import { type LocalRecord, LocalStore } from './local-store.ts';
import {
  acquireStateLock,
  cpuCount,
  discoverGpus,
  type GpuInfo,
  isSameProcessAlive,
  machineName,
  processStartTime,
  readHead,
  readTail,
  signalGroup,
} from './processes.ts';
import {
  applyOverrides,
  isAfter,
  isTerminal,
  type Job,
  type JobBackend,
  type JobLogs,
  type JobSpec,
  type ListQuery,
  type ListResult,
  type LogQuery,
  matchesFilter,
  type QueueStatus,
  type SpecOverrides,
  type SubmitOptions,
  specOf,
} from './types.ts';

/**
 * Runs the job in a small shell wrapper that records the exit status in a file: a restarted
 * server is no longer the parent and cannot wait() for it, but can read the file. The wrapper
 * forwards SIGTERM to the command (which also gets it through the process group) and keeps waiting.
 */
const wrapper = `"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
while :; do
  wait $child
  status=$?
  kill -0 $child 2>/dev/null || break
done
echo $status > "$NIGHTSHIFT_EXIT_FILE.tmp" && mv "$NIGHTSHIFT_EXIT_FILE.tmp" "$NIGHTSHIFT_EXIT_FILE"
exit $status`;

/** Server environment variables every job gets: enough to run a program, nothing secret. */
const baseEnvNames = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'];

export interface LocalBackendOptions {
  stateDir: string;
  config: LocalBackendConfig;
  eventsUrl?: string | undefined;
  eventsSecret?: string | undefined;
  /** The server's environment, for `inheritEnv` and the base variables. */
  serverEnv?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** How often jobs adopted after a restart are checked, ms. */
  pollIntervalMs?: number;
  /** GPUs, when known; discovered with `nvidia-smi -L` otherwise (tests pass them). */
  gpus?: GpuInfo[];
  /** How long to wait for another server holding the state directory to let go, ms. */
  lockWaitMs?: number;
}

/**
 * Creates the local backend: loads persisted state, adopts still-running jobs, starts what fits.
 * GPU discovery (`nvidia-smi -L`) runs in the background so the server answers at once; every
 * call waits for it.
 */
export async function createLocalBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  const configured = options.config.gpus;
  let gpus: GpuInfo[] | Promise<GpuInfo[]>;
  if (options.gpus) gpus = options.gpus;
  else if (typeof configured === 'number')
    gpus = Array.from({ length: configured }, (_, index) => ({ index }));
  else if (Array.isArray(configured)) gpus = configured.map((index) => ({ index }));
  else gpus = discoverGpus();
  const release = await acquireStateLock(join(options.stateDir, 'local'), options.lockWaitMs);
  try {
    return new LocalBackend(options, gpus, release);
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * The embedded queue for one machine: detached process groups, GPU and CPU slots, a priority
 * FIFO, state on disk. Not a cluster scheduler: one machine, strict order.
 */
export class LocalBackend implements JobBackend {
  readonly name = 'local';
  readonly kind = 'local' as const;
  readonly clusters: readonly string[];
  readonly store: LocalStore;
  private gpus: GpuInfo[] = [];
  /** Settles once GPUs are known and persisted jobs are recovered. */
  private readonly ready: Promise<void>;
  private readonly cpus: number;
  private readonly options: LocalBackendOptions;
  private readonly children = new Map<string, ChildProcess>();
  private readonly adopted = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly releaseLock: () => void;

  constructor(
    options: LocalBackendOptions,
    gpus: GpuInfo[] | Promise<GpuInfo[]>,
    releaseLock: () => void = () => {},
  ) {
    this.options = options;
    this.releaseLock = releaseLock;
    this.cpus = options.config.cpus ?? cpuCount();
    this.clusters = [machineName()];
    this.store = new LocalStore(options.stateDir);
    if (Array.isArray(gpus)) {
      this.gpus = gpus;
      this.recover();
      this.ready = Promise.resolve();
    } else {
      this.ready = gpus.then((found) => {
        this.gpus = found;
        if (!this.closed) this.recover();
      });
    }
  }

  owns(id: string): boolean {
    return id.startsWith('local-');
  }

  /** Re-attaches to jobs that ran while the server was down, then fills free slots. */
  private recover(): void {
    for (const record of this.store.newestFirst()) {
      if (record.job.status !== 'running') continue;
      if (record.pid !== undefined && isSameProcessAlive(record.pid, record.pidStartTime)) {
        this.adopted.add(record.job.id);
        this.armTimeout(record);
      } else {
        this.finish(record.job.id, undefined);
      }
    }
    this.ensurePoller();
    this.schedule();
  }

  async submit(spec: JobSpec, options: SubmitOptions = {}): Promise<Job> {
    await this.ready;
    this.checkOpen();
    if (!spec.command || spec.command.length === 0) {
      throw new ToolError(
        'invalid_input',
        spec.image
          ? `The local backend runs commands, and this job has only an image (${spec.image}); submit it to a container backend (kubernetes) or give the template a command.`
          : 'The job has no command; give its template a command.',
      );
    }
    this.checkCapacity(spec);
    const id = this.store.nextId();
    const record: LocalRecord = {
      job: {
        ...spec,
        id,
        backend: this.name,
        cluster: this.clusters[0] as string,
        status: 'queued',
        createdAt: this.nextTimestamp(),
        attempt: options.attempt ?? 1,
        ...(options.previousAttemptId ? { previousAttemptId: options.previousAttemptId } : {}),
      },
      logPath: this.store.logPathFor(id),
      exitFile: this.store.exitFileFor(id),
    };
    this.store.save(record);
    this.schedule();
    return this.current(id).job;
  }

  async list(query: ListQuery): Promise<ListResult> {
    await this.ready;
    const jobs: Job[] = [];
    let total = 0;
    const all = this.store.all;
    for (let i = all.length - 1; i >= 0; i--) {
      const job = (all[i] as LocalRecord).job;
      if (!matchesFilter(job, query.filter)) continue;
      total++;
      if (jobs.length >= query.limit) continue;
      if (query.after && !isAfter(job, query.after)) continue;
      jobs.push(job);
    }
    return { jobs, total };
  }

  async get(id: string): Promise<Job> {
    await this.ready;
    const record = this.current(id);
    if (record.job.status === 'running' && !record.job.mlflowRunId) this.noteMlflowRun(record);
    return record.job;
  }

  async logs(id: string, query: LogQuery): Promise<JobLogs> {
    await this.ready;
    const record = this.current(id);
    const tail = readTail(record.logPath, query.tailLines);
    return { ...tail, source: record.logPath };
  }

  async stop(id: string): Promise<Job> {
    await this.ready;
    this.checkOpen();
    const record = this.current(id);
    if (isTerminal(record.job.status)) return record.job;
    if (record.job.status === 'queued') {
      record.job = {
        ...record.job,
        status: 'stopped',
        endedAt: new Date().toISOString(),
        reason: 'cancelled',
        reasonDetail: 'stopped before it started',
      };
      this.store.save(record);
      this.schedule();
      return record.job;
    }
    const grace = this.options.config.stopGraceSeconds;
    const ended = this.waitForEnd(id, Math.min(grace * 1000 + 1500, 10_000));
    this.terminate(record, 'cancelled');
    await ended;
    return this.current(id).job;
  }

  async requeue(id: string, overrides?: SpecOverrides): Promise<Job> {
    await this.ready;
    const previous = this.current(id).job;
    const spec = applyOverrides(specOf(previous), overrides);
    return this.submit(spec, { attempt: previous.attempt + 1, previousAttemptId: previous.id });
  }

  async queueStatus(): Promise<QueueStatus[]> {
    await this.ready;
    let running = 0;
    let queued = 0;
    let gpusInUse = 0;
    let cpusInUse = 0;
    const holder = new Map<number, string>();
    for (const record of this.store.newestFirst()) {
      if (record.job.status === 'queued') queued++;
      if (record.job.status !== 'running') continue;
      running++;
      gpusInUse += record.job.resources.gpus;
      cpusInUse += record.job.resources.cpus;
      for (const index of record.gpuIndices ?? []) holder.set(index, record.job.id);
    }
    return [
      {
        backend: this.name,
        cluster: this.clusters[0] as string,
        reachable: true,
        capacity: {
          gpus: this.gpus.length,
          cpus: this.cpus,
          ...(this.options.config.memoryMiB ? { memoryMiB: this.options.config.memoryMiB } : {}),
        },
        inUse: { gpus: gpusInUse, cpus: cpusInUse },
        running,
        queued,
        gpus: this.gpus.map((gpu) => {
          const jobId = holder.get(gpu.index);
          return { index: gpu.index, ...(gpu.name ? { name: gpu.name } : {}), ...(jobId ? { jobId } : {}) };
        }),
      },
    ];
  }

  /** Stops watching; running jobs keep running and are adopted by the next server. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const timers of this.timers.values()) for (const timer of timers) clearTimeout(timer);
    this.timers.clear();
    for (const child of this.children.values()) child.removeAllListeners('exit');
    this.children.clear();
    for (const resolvers of this.waiters.values()) for (const resolve of resolvers) resolve();
    this.waiters.clear();
    await this.ready.catch(() => undefined);
    this.releaseLock();
  }

  private current(id: string): LocalRecord {
    const record = this.store.get(id);
    if (!record) {
      const recent = [...take(this.store.newestFirst(), 10)].map((r) => r.job.id);
      throw notFound(`job ${id}`, recent, 'List jobs with aiqu_list_jobs.');
    }
    return record;
  }

  private checkOpen(): void {
    if (this.closed) throw new ToolError('unavailable', 'the local backend is shutting down');
  }

  private checkCapacity(spec: JobSpec): void {
    const { gpus, cpus, memoryMiB } = spec.resources;
    const problems: string[] = [];
    if (gpus > this.gpus.length) {
      problems.push(
        `${gpus} GPU(s) requested but this machine has ${this.gpus.length}${this.gpus.length === 0 ? ' (no GPUs configured or found by nvidia-smi)' : ''}`,
      );
    }
    if (cpus > this.cpus)
      problems.push(`${cpus} CPU(s) requested but the local backend has ${this.cpus} CPU slots`);
    const memory = this.options.config.memoryMiB;
    if (memory && memoryMiB && memoryMiB > memory) {
      problems.push(`${memoryMiB} MiB of memory requested but the local backend has ${memory} MiB`);
    }
    if (problems.length > 0) {
      throw new ToolError(
        'refused',
        `The job can never run here: ${problems.join('; ')}. Lower the resources or submit to a bigger backend (see aiqu_get_queue_status).`,
      );
    }
  }

  private lastTimestamp = 0;

  /** Creation times strictly increase, so list order is creation order. */
  private nextTimestamp(): string {
    const now = Math.max(Date.now(), this.lastTimestamp + 1);
    this.lastTimestamp = now;
    return new Date(now).toISOString();
  }

  /** Starts queued jobs in priority-FIFO order while the head of the queue fits. */
  private schedule(): void {
    if (this.closed) return;
    const queued: LocalRecord[] = [];
    const freeGpus = new Set(this.gpus.map((g) => g.index));
    let freeCpus = this.cpus;
    for (const record of this.store.newestFirst()) {
      if (record.job.status === 'queued') queued.push(record);
      else if (record.job.status === 'running') {
        freeCpus -= record.job.resources.cpus;
        for (const index of record.gpuIndices ?? []) freeGpus.delete(index);
      }
    }
    queued.sort(
      (a, b) =>
        b.job.priority - a.job.priority ||
        (a.job.createdAt < b.job.createdAt ? -1 : a.job.createdAt > b.job.createdAt ? 1 : 0),
    );
    for (const record of queued) {
      const { gpus, cpus } = record.job.resources;
      // Strict order: a head that does not fit yet blocks smaller jobs behind it from overtaking.
      if (gpus > freeGpus.size || cpus > freeCpus) break;
      const indices = [...freeGpus].slice(0, gpus);
      for (const index of indices) freeGpus.delete(index);
      freeCpus -= cpus;
      this.start(record, indices);
    }
  }

  private start(record: LocalRecord, gpuIndices: number[]): void {
    const job = record.job;
    const argv = (job.command ?? []).map((arg) => substitute(arg, job));
    if (job.workingDir && !existsSync(job.workingDir)) {
      this.fail(
        record,
        'start_failure',
        `working directory ${job.workingDir} does not exist on ${this.clusters[0]}`,
      );
      return;
    }
    let logFd: number;
    try {
      logFd = openSync(record.logPath, 'a');
    } catch (error) {
      this.fail(record, 'start_failure', `cannot open the log file: ${(error as Error).message}`);
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', wrapper, 'nightshift-job', ...argv], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        cwd: job.workingDir,
        env: this.jobEnv(record, gpuIndices),
      });
    } catch (error) {
      closeSync(logFd);
      this.fail(record, 'start_failure', (error as Error).message);
      return;
    }
    closeSync(logFd);
    const id = job.id;
    child.once('error', (error) => {
      if (this.closed) return;
      this.children.delete(id);
      const current = this.current(id);
      if (current.job.status === 'failed') return;
      this.fail(current, 'start_failure', `could not start: ${error.message}`);
    });
    if (child.pid === undefined) {
      // Spawning failed (its 'error' event follows); fail now so no later schedule starts it twice.
      this.fail(record, 'start_failure', 'could not start the job process');
      return;
    }
    child.unref();
    this.children.set(id, child);
    child.once('exit', (code, signal) => {
      this.children.delete(id);
      if (this.closed) return;
      this.finish(id, signal ? 128 + (signalNumbers[signal] ?? 0) : (code ?? undefined));
    });
    record.pid = child.pid;
    const startTime = processStartTime(child.pid);
    if (startTime !== undefined) record.pidStartTime = startTime;
    record.gpuIndices = gpuIndices;
    record.job = {
      ...job,
      status: 'running',
      startedAt: new Date().toISOString(),
      nativeId: String(child.pid),
    };
    this.store.save(record);
    this.armTimeout(record);
  }

  private jobEnv(record: LocalRecord, gpuIndices: number[]): NodeJS.ProcessEnv {
    const serverEnv = this.options.serverEnv ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    for (const name of [...baseEnvNames, ...this.options.config.inheritEnv]) {
      if (serverEnv[name] !== undefined) env[name] = serverEnv[name];
    }
    Object.assign(env, jobVariables(record.job));
    env.NIGHTSHIFT_EXIT_FILE = record.exitFile;
    env.CUDA_VISIBLE_DEVICES = gpuIndices.join(',');
    if (this.options.eventsUrl) env.NIGHTSHIFT_EVENTS_URL = this.options.eventsUrl;
    if (this.options.eventsSecret) env.NIGHTSHIFT_EVENTS_SECRET = this.options.eventsSecret;
    return env;
  }

  private armTimeout(record: LocalRecord): void {
    const limit = record.job.timeoutSeconds;
    if (!limit || !record.job.startedAt) return;
    const remaining = Date.parse(record.job.startedAt) + limit * 1000 - Date.now();
    const timer = setTimeout(
      () => {
        const current = this.store.get(record.job.id);
        if (current && current.job.status === 'running') this.terminate(current, 'timeout');
      },
      Math.max(0, remaining),
    );
    timer.unref();
    this.addTimer(record.job.id, timer);
  }

  /** SIGTERM to the process group, SIGKILL after the grace period. */
  private terminate(record: LocalRecord, why: 'cancelled' | 'timeout'): void {
    if (record.pid === undefined) return;
    record.stopRequested = why;
    this.store.save(record);
    const pid = record.pid;
    const startTime = record.pidStartTime;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (isSameProcessAlive(pid, startTime) || this.children.has(record.job.id)) signalGroup(pid, 'SIGKILL');
    }, this.options.config.stopGraceSeconds * 1000);
    timer.unref();
    this.addTimer(record.job.id, timer);
    // An adopted job is not our child: the poller notices its end.
    this.ensurePoller();
  }

  private addTimer(id: string, timer: NodeJS.Timeout): void {
    const list = this.timers.get(id) ?? [];
    list.push(timer);
    this.timers.set(id, list);
  }

  private ensurePoller(): void {
    if (this.poller || this.closed || this.adopted.size === 0) return;
    this.poller = setInterval(() => this.pollAdopted(), this.options.pollIntervalMs ?? 1000);
    this.poller.unref();
  }

  private pollAdopted(): void {
    for (const id of [...this.adopted]) {
      const record = this.store.get(id);
      if (record?.job.status !== 'running') {
        this.adopted.delete(id);
        continue;
      }
      if (record.pid === undefined || !isSameProcessAlive(record.pid, record.pidStartTime)) {
        this.finish(id, undefined);
      }
    }
    if (this.adopted.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  /** Records how a running job ended, from its exit file, its exit status and its log tail. */
  private finish(id: string, wrapperStatus: number | undefined): void {
    const record = this.store.get(id);
    if (record?.job.status !== 'running') return;
    this.adopted.delete(id);
    for (const timer of this.timers.get(id) ?? []) clearTimeout(timer);
    this.timers.delete(id);
    const exitCode = readExitFile(record.exitFile) ?? wrapperStatus;
    const tail = readTail(record.logPath, 200).lines;
    const job: Job = { ...record.job, endedAt: new Date().toISOString() };
    if (exitCode !== undefined) job.exitCode = exitCode;
    if (record.stopRequested) {
      job.status = 'stopped';
      job.reason = record.stopRequested;
      job.reasonDetail =
        record.stopRequested === 'timeout'
          ? `ran longer than its ${job.timeoutSeconds} s limit`
          : 'stopped on request (SIGTERM, then SIGKILL after the grace period)';
    } else if (exitCode === 0) {
      job.status = 'succeeded';
      job.reason = 'completed';
    } else if (exitCode === undefined) {
      job.status = 'failed';
      job.reason = 'lost';
      job.reasonDetail = 'the process ended while no server watched it and left no exit status';
    } else {
      job.status = 'failed';
      const errorLine = lastErrorLine(tail);
      if (hasCudaOom(tail)) {
        job.reason = 'cuda_oom';
        job.reasonDetail = errorLine ?? 'CUDA out of memory';
      } else if (exitCode === 137) {
        job.reason = 'oom_killed';
        job.reasonDetail = `killed by SIGKILL (exit 137) without a stop request: usually the kernel OOM killer (host memory)${errorLine ? `; last error: ${errorLine}` : ''}`;
      } else if (exitCode === 126 || exitCode === 127) {
        job.reason = 'start_failure';
        job.reasonDetail = errorLine ?? tail.at(-1) ?? `command not runnable (exit ${exitCode})`;
      } else {
        job.reason = 'nonzero_exit';
        job.reasonDetail = errorLine ?? `exit code ${exitCode}`;
      }
    }
    record.job = job;
    this.noteMlflowRun(record);
    record.gpuIndices = [];
    this.store.save(record);
    for (const resolve of this.waiters.get(id) ?? []) resolve();
    this.waiters.delete(id);
    this.schedule();
  }

  private fail(record: LocalRecord, reason: 'start_failure', detail: string): void {
    record.job = {
      ...record.job,
      status: 'failed',
      reason,
      reasonDetail: detail,
      endedAt: new Date().toISOString(),
    };
    record.gpuIndices = [];
    this.store.save(record);
    for (const resolve of this.waiters.get(record.job.id) ?? []) resolve();
    this.waiters.delete(record.job.id);
    queueMicrotask(() => this.schedule());
  }

  private noteMlflowRun(record: LocalRecord): void {
    const found =
      findMlflowRunId(readHead(record.logPath, 256 * 1024)) ??
      findMlflowRunId(readTail(record.logPath, 200).lines.join('\n'));
    if (found && found !== record.job.mlflowRunId) {
      record.job = { ...record.job, mlflowRunId: found };
      if (record.job.status === 'running') this.store.save(record);
    }
  }

  private waitForEnd(id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      const list = this.waiters.get(id) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.waiters.set(id, list);
    });
  }
}

function readExitFile(path: string): number | undefined {
  try {
    const value = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function* take<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  let i = 0;
  for (const item of items) {
    yield item;
    if (++i >= n) return;
  }
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};
