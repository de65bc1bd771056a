import { execFile } from 'node:child_process';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { findMlflowRunId, hasCudaOom } from '../log-analysis.ts';
import {
  buildBatchScript,
  decodeWaitStatus,
  epochTime,
  type FinishedRecord,
  parseJobcomp,
  parseSacct,
  slurmJobName,
  slurmMemoryKill,
  slurmOutcome,
} from './slurm-states.ts';
import { type SlurmRecord, SlurmStore } from './slurm-store.ts';
import {
  applyOverrides,
  compareJobs,
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
  unreachableStatus,
} from './types.ts';

/** `backends.slurm` in the aiqu YAML file. */
export const slurmBackendConfigSchema = z.object({
  enabled: z.boolean().default(true),
  /** Partition, account and QOS jobs are submitted to; Slurm's defaults when absent. */
  partition: z.string().optional(),
  account: z.string().optional(),
  qos: z.string().optional(),
  /** Where job scripts and output files go; must be visible from the compute nodes (shared FS). */
  outputDir: z.string().optional(),
  /** slurm.conf for the Slurm commands (sets SLURM_CONF); the system's when absent. */
  slurmConf: z.string().optional(),
  /** Directory holding sbatch, squeue, scancel, sinfo, scontrol, sacct; PATH when absent. */
  binDir: z.string().optional(),
  /**
   * Where finished jobs are read from once Slurm forgets them: `sacct` (slurmdbd), `jobcomp`
   * (the jobcomp/filetxt file), or `auto` (whatever `scontrol show config` says is set up).
   */
  accounting: z.enum(['auto', 'sacct', 'jobcomp', 'none']).default('auto'),
  /** The jobcomp/filetxt file (JobCompLoc); read from `scontrol show config` when absent. */
  jobcompFile: z.string().optional(),
  /** Names of server environment variables passed through to jobs (e.g. MLFLOW_TRACKING_URI). */
  inheritEnv: z.array(z.string()).default([]),
});
export type SlurmBackendConfig = z.output<typeof slurmBackendConfigSchema>;

export interface SlurmBackendOptions extends Partial<Omit<SlurmBackendConfig, 'enabled'>> {
  /** Backend instance name; job ids are `<name>-000001`. Default `slurm`. */
  name?: string;
  /** The server's state directory; the backend keeps its journal under `<stateDir>/<name>`. */
  stateDir: string;
  /** Deadline for one Slurm command, ms (default 15 000). */
  timeoutMs?: number;
  /** Environment every job gets (event reporting settings), below the job's own. */
  jobEnv?: Record<string, string>;
  /** The server environment `inheritEnv` names are read from (default process.env). */
  serverEnv?: NodeJS.ProcessEnv;
}

interface SqueueJob {
  job_id: number;
  name: string;
  job_state: string;
  state_reason?: string;
  start_time?: number;
  end_time?: number;
  submit_time?: number;
  exit_code?: number;
  comment?: string;
  cluster?: string;
  gres_detail?: string[];
  cpus?: number;
  tres_per_node?: string;
  nodes?: string;
}

interface ClusterFacts {
  name: string;
  accounting: 'sacct' | 'jobcomp' | 'none';
  jobcompFile?: string;
}

/**
 * Jobs on a Slurm cluster through its command-line tools: sbatch with a generated script,
 * `squeue --json` for what Slurm remembers, the jobcomp file or sacct for what it forgot, and
 * a journal of its own so a job's final state and exit code survive both.
 */
export class SlurmBackend implements JobBackend {
  readonly name: string;
  readonly kind = 'slurm' as const;
  readonly #options: SlurmBackendOptions;
  readonly #store: SlurmStore;
  readonly #timeoutMs: number;
  #facts: ClusterFacts | undefined;
  #clusters: string[];

  constructor(options: SlurmBackendOptions) {
    this.name = options.name ?? 'slurm';
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    const dir = join(options.stateDir, this.name);
    this.#store = new SlurmStore(dir, options.outputDir ?? join(dir, 'output'), `${this.name}-`);
    this.#clusters = [this.name];
  }

  get clusters(): readonly string[] {
    return this.#clusters;
  }

  owns(id: string): boolean {
    return id.startsWith(`${this.name}-`) && /^\d+$/.test(id.slice(this.name.length + 1));
  }

  async submit(spec: JobSpec, options: SubmitOptions = {}): Promise<Job> {
    if (!spec.command || spec.command.length === 0) {
      throw new ToolError(
        'invalid_input',
        'the Slurm backend runs commands: give the template a command (argv).',
      );
    }
    const facts = await this.#clusterFacts(options.signal);
    await this.#checkCapacity(spec, options.signal);
    const id = this.#store.nextId();
    const outputPath = join(this.#store.outputDir, `${id}.out`);
    const scriptPath = join(this.#store.outputDir, `${id}.sbatch`);
    const job: Job = {
      ...spec,
      id,
      backend: this.name,
      cluster: facts.name,
      status: 'queued',
      createdAt: new Date().toISOString(),
      attempt: options.attempt ?? 1,
      ...(options.previousAttemptId ? { previousAttemptId: options.previousAttemptId } : {}),
    };
    const script = buildBatchScript({
      job,
      outputPath,
      partition: this.#options.partition,
      account: this.#options.account,
      qos: this.#options.qos,
      jobEnv: this.#jobEnv(),
    });
    await writeFile(scriptPath, script, { mode: 0o700 });
    // --export: only PATH and the locale from the server; the job's own environment is in the script.
    const out = await this.#run(
      'sbatch',
      ['--parsable', '--export=PATH,LANG,LC_ALL', scriptPath],
      options.signal,
    );
    const nativeId = out.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(nativeId))
      throw new ToolError('unavailable', `sbatch answered "${out.trim()}" instead of a job id`);
    job.nativeId = nativeId;
    this.#store.put({ job, slurmName: slurmJobName(spec.name), scriptPath, outputPath });
    await this.#refresh([id], options.signal).catch(() => undefined);
    return this.#record(id).job;
  }

  async list(query: ListQuery): Promise<ListResult> {
    const active = this.#store
      .all()
      .filter((r) => !isTerminal(r.job.status))
      .map((r) => r.job.id);
    if (active.length > 0) await this.#refresh(active, query.signal);
    const matching = this.#store
      .all()
      .map((r) => r.job)
      .filter((job) => matchesFilter(job, query.filter))
      .sort(compareJobs);
    const after = query.after;
    const page = (after ? matching.filter((job) => isAfter(job, after)) : matching).slice(0, query.limit);
    return { jobs: page, total: matching.length };
  }

  async get(id: string, signal?: AbortSignal): Promise<Job> {
    const record = this.#record(id);
    if (!isTerminal(record.job.status)) await this.#refresh([id], signal);
    const current = this.#record(id);
    if (!current.job.mlflowRunId) {
      const runId = findMlflowRunId((await readTail(current.outputPath, 64 * 1024)).join('\n'));
      if (runId) this.#update(current, { mlflowRunId: runId });
    }
    return this.#record(id).job;
  }

  async logs(id: string, query: LogQuery): Promise<JobLogs> {
    const record = this.#record(id);
    let text: string;
    try {
      text = await readFile(record.outputPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { lines: [], firstLineNumber: 1, totalLines: 0, source: record.outputPath };
      }
      throw error;
    }
    const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    const lines = text.length === 0 ? [] : all;
    const tail = lines.slice(-query.tailLines);
    return {
      lines: tail,
      firstLineNumber: lines.length - tail.length + 1,
      totalLines: lines.length,
      source: record.outputPath,
    };
  }

  async stop(id: string, signal?: AbortSignal): Promise<Job> {
    const record = this.#record(id);
    await this.#refresh([id], signal).catch(() => undefined);
    if (isTerminal(this.#record(id).job.status)) return this.#record(id).job;
    this.#store.put({ ...this.#record(id), stopRequested: true });
    await this.#run('scancel', [record.job.nativeId as string], signal);
    // scancel only asks; wait (bounded) for Slurm to report the job ended.
    const deadline = Date.now() + Math.min(this.#timeoutMs, 20_000);
    while (Date.now() < deadline) {
      await this.#refresh([id], signal);
      if (isTerminal(this.#record(id).job.status)) break;
      await sleep(500);
    }
    return this.#record(id).job;
  }

  async requeue(id: string, overrides: SpecOverrides = {}, signal?: AbortSignal): Promise<Job> {
    const previous = await this.get(id, signal);
    return this.submit(applyOverrides(specOf(previous), overrides), {
      attempt: previous.attempt + 1,
      previousAttemptId: previous.id,
      ...(signal ? { signal } : {}),
    });
  }

  async queueStatus(signal?: AbortSignal): Promise<QueueStatus[]> {
    const cluster = this.#facts?.name ?? this.#clusters[0] ?? this.name;
    try {
      const facts = await this.#clusterFacts(signal);
      // Everyone's jobs in the partition: the queue is shared, and its depth is what a submit meets.
      const [nodes, jobs] = await Promise.all([
        this.#sinfo(signal),
        this.#squeue(signal, { everyone: true }),
      ]);
      const ourByNative = new Map(
        this.#store.all().flatMap((r) => (r.job.nativeId ? [[r.job.nativeId, r.job.id] as const] : [])),
      );
      const gpus: QueueStatus['gpus'] = [];
      const slots = new Map<string, QueueStatus['gpus'][number]>();
      for (const node of nodes) {
        for (let i = 0; i < node.gpus; i++) {
          const slot = {
            index: gpus.length,
            name: `${node.name} gpu ${i}${node.gpuType ? ` (${node.gpuType})` : ''}`,
          };
          gpus.push(slot);
          slots.set(`${node.name}#${i}`, slot);
        }
      }
      let gpusInUse = 0;
      let running = 0;
      let queued = 0;
      for (const job of jobs) {
        const { status } = slurmOutcome(job.job_state, job.state_reason);
        if (status === 'queued') queued++;
        if (status !== 'running') continue;
        running++;
        // gres_detail has one entry per allocated node; a single-node job names its node plainly.
        const node = /^[^[,]+$/.test(job.nodes ?? '') ? job.nodes : undefined;
        for (const detail of job.gres_detail ?? []) {
          for (const index of gpuIndices(detail)) {
            gpusInUse++;
            const slot = node ? slots.get(`${node}#${index}`) : undefined;
            if (slot) slot.jobId = ourByNative.get(String(job.job_id)) ?? `slurm job ${job.job_id}`;
          }
        }
      }
      return [
        {
          backend: this.name,
          cluster: facts.name,
          reachable: true,
          capacity: {
            gpus: nodes.reduce((n, node) => n + node.gpus, 0),
            cpus: nodes.reduce((n, node) => n + node.cpus, 0),
            memoryMiB: nodes.reduce((n, node) => n + node.memoryMiB, 0),
          },
          inUse: { gpus: gpusInUse, cpus: nodes.reduce((n, node) => n + node.allocCpus, 0) },
          running,
          queued,
          gpus,
          ...(this.#options.partition ? { queue: this.#options.partition } : {}),
        },
      ];
    } catch (error) {
      return [unreachableStatus(this.name, cluster, error)];
    }
  }

  async close(): Promise<void> {}

  // ── internals ────────────────────────────────────────────────────────────────────────────

  #record(id: string): SlurmRecord {
    const record = this.#store.get(id);
    if (!record) {
      throw notFound(
        `job ${id}`,
        this.#store
          .all()
          .slice(-20)
          .map((r) => r.job.id),
        'List jobs with aiqu_list_jobs.',
      );
    }
    return record;
  }

  #update(record: SlurmRecord, changes: Partial<Job>, extra: Partial<SlurmRecord> = {}): void {
    this.#store.put({ ...record, ...extra, job: { ...record.job, ...changes } });
  }

  #jobEnv(): Record<string, string> {
    const env: Record<string, string> = { ...this.#options.jobEnv };
    const server = this.#options.serverEnv ?? process.env;
    for (const name of this.#options.inheritEnv ?? []) {
      const value = server[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  /** Brings the given jobs' records up to date from Slurm, then accounting, then marks lost ones. */
  async #refresh(ids: readonly string[], signal?: AbortSignal): Promise<void> {
    const records = ids.map((id) => this.#record(id)).filter((r) => !isTerminal(r.job.status));
    if (records.length === 0) return;
    const byNative = new Map(
      (await this.#squeue(signal, { finished: true })).map((job) => [String(job.job_id), job]),
    );
    const forgotten: SlurmRecord[] = [];
    for (const record of records) {
      const entry = byNative.get(record.job.nativeId ?? '');
      if (entry && entry.comment === `nightshift:${record.job.id}`) await this.#applySqueue(record, entry);
      else forgotten.push(record);
    }
    if (forgotten.length === 0) return;
    const finished = await this.#accountingRecords(forgotten, signal);
    for (const record of forgotten) {
      const found = finished.find(
        (f) =>
          f.nativeId === record.job.nativeId &&
          (f.name === '' || f.name === record.slurmName) &&
          (!f.submitTime ||
            f.submitTime >= new Date(Date.parse(record.job.createdAt) - 120_000).toISOString()),
      );
      if (found) {
        await this.#applyFinished(record, found);
        continue;
      }
      const missing = (record.missing ?? 0) + 1;
      // Twice unseen, so a job between sbatch and squeue's first sight of it is not lost.
      if (missing >= 2) {
        this.#update(
          record,
          {
            status: 'failed',
            reason: 'lost',
            reasonDetail: `Slurm no longer knows job ${record.job.nativeId} and no accounting record was found (last seen ${record.job.status}); configure sacct or jobcomp/filetxt to keep final states`,
            endedAt: record.job.endedAt ?? new Date().toISOString(),
          },
          { missing },
        );
      } else {
        this.#store.put({ ...record, missing });
      }
    }
  }

  async #applySqueue(record: SlurmRecord, entry: SqueueJob): Promise<void> {
    const outcome = slurmOutcome(entry.job_state, entry.state_reason);
    const changes: Partial<Job> = { status: outcome.status };
    const pendingReason =
      entry.state_reason && entry.state_reason !== 'None' ? entry.state_reason : undefined;
    if (outcome.status === 'queued') {
      if (outcome.reason) changes.reason = outcome.reason;
      if (pendingReason) changes.reasonDetail = `PENDING (${pendingReason})`;
    }
    if (outcome.status === 'running' || isTerminal(outcome.status)) {
      const started = epochTime(entry.start_time);
      if (started) changes.startedAt = started;
    }
    if (isTerminal(outcome.status)) {
      const ended = epochTime(entry.end_time);
      if (ended) changes.endedAt = ended;
      const exit = decodeWaitStatus(entry.exit_code ?? 0);
      await this.#settle(record, changes, entry.job_state, exit, pendingReason);
      return;
    }
    if (outcome.status === 'running') {
      delete changes.reason;
      changes.reasonDetail = undefined;
    }
    this.#update(record, changes, { missing: 0 });
  }

  async #applyFinished(record: SlurmRecord, found: FinishedRecord): Promise<void> {
    const changes: Partial<Job> = { status: slurmOutcome(found.state).status };
    if (found.startTime) changes.startedAt = found.startTime;
    if (found.endTime) changes.endedAt = found.endTime;
    const exit =
      found.exitCode !== undefined ? { exitCode: found.exitCode, signal: found.signal } : undefined;
    await this.#settle(record, changes, found.state, exit, undefined);
  }

  /** Final status, exit code and reason, refined by what Slurm wrote into the job's output. */
  async #settle(
    record: SlurmRecord,
    changes: Partial<Job>,
    state: string,
    exit: { exitCode: number; signal?: number | undefined } | undefined,
    slurmReason: string | undefined,
  ): Promise<void> {
    const outcome = slurmOutcome(state);
    changes.status = outcome.status;
    changes.reason = outcome.reason ?? 'unknown';
    if (exit) changes.exitCode = exit.exitCode;
    const base = state.split(/[+ ]/)[0] ?? state;
    const words = [base];
    if (exit?.signal) words.push(`signal ${exit.signal}`);
    else if (exit && exit.exitCode !== 0) words.push(`exit ${exit.exitCode}`);
    if (slurmReason && !['None', 'NonZeroExitCode'].includes(slurmReason)) words.push(slurmReason);
    const tail = await readTail(record.outputPath, 256 * 1024);
    if (outcome.status === 'failed') {
      // Without cgroup enforcement Slurm's memory polling kills the step (FAILED, signal 9) and
      // says so in the output; on a cgroup cluster the state itself is OUT_OF_MEMORY.
      const memoryLine = tail.find((line) => slurmMemoryKill.test(line));
      if (memoryLine && (exit?.signal === 9 || outcome.reason === 'oom_killed')) {
        changes.reason = 'oom_killed';
        words.push(memoryLine.replace(/^slurmstepd[^:]*: error: /, '').trim());
      } else if (hasCudaOom(tail)) {
        changes.reason = 'cuda_oom';
      }
    }
    if (outcome.status === 'stopped' && !record.stopRequested) words.push('cancelled outside nightshift');
    changes.reasonDetail = words.join(': ').slice(0, 500);
    const runId = record.job.mlflowRunId ?? findMlflowRunId(tail.join('\n'));
    if (runId) changes.mlflowRunId = runId;
    changes.endedAt ??= new Date().toISOString();
    this.#update(record, changes, { missing: 0 });
  }

  async #accountingRecords(records: readonly SlurmRecord[], signal?: AbortSignal): Promise<FinishedRecord[]> {
    const facts = await this.#clusterFacts(signal);
    if (facts.accounting === 'jobcomp' && facts.jobcompFile) {
      try {
        return parseJobcomp(await readFile(facts.jobcompFile, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    }
    if (facts.accounting === 'sacct') {
      const ids = records.map((r) => r.job.nativeId).filter(Boolean);
      const out = await this.#run(
        'sacct',
        ['-X', '-P', '-n', '-j', ids.join(','), '-o', 'JobID,JobName,State,ExitCode,Submit,Start,End'],
        signal,
      );
      return parseSacct(out);
    }
    return [];
  }

  async #clusterFacts(signal?: AbortSignal): Promise<ClusterFacts> {
    if (this.#facts) return this.#facts;
    const config = parseConfig(await this.#run('scontrol', ['show', 'config'], signal));
    const wanted = this.#options.accounting ?? 'auto';
    const jobcompFile =
      this.#options.jobcompFile ?? (config.JobCompType === 'jobcomp/filetxt' ? config.JobCompLoc : undefined);
    const hasDbd = (config.AccountingStorageType ?? '').includes('slurmdbd');
    const accounting = wanted === 'auto' ? (hasDbd ? 'sacct' : jobcompFile ? 'jobcomp' : 'none') : wanted;
    this.#facts = {
      name: config.ClusterName || this.name,
      accounting,
      ...(jobcompFile ? { jobcompFile } : {}),
    };
    this.#clusters = [this.#facts.name];
    return this.#facts;
  }

  async #checkCapacity(spec: JobSpec, signal?: AbortSignal): Promise<void> {
    const nodes = await this.#sinfo(signal);
    if (nodes.length === 0) return;
    const fits = nodes.some(
      (node) =>
        node.gpus >= spec.resources.gpus &&
        node.cpus >= Math.ceil(spec.resources.cpus || 1) &&
        (!spec.resources.memoryMiB || node.memoryMiB >= spec.resources.memoryMiB),
    );
    if (!fits) {
      const largest = nodes
        .map((n) => `${n.name}: ${n.gpus} GPUs, ${n.cpus} CPUs, ${n.memoryMiB} MiB`)
        .slice(0, 5)
        .join('; ');
      throw new ToolError(
        'refused',
        `no node of the Slurm cluster can ever fit ${spec.resources.gpus} GPUs, ${spec.resources.cpus} CPUs${spec.resources.memoryMiB ? `, ${spec.resources.memoryMiB} MiB` : ''} (nodes: ${largest}); ask for less.`,
      );
    }
  }

  async #sinfo(signal?: AbortSignal): Promise<
    Array<{
      name: string;
      cpus: number;
      allocCpus: number;
      memoryMiB: number;
      gpus: number;
      gpuType?: string;
    }>
  > {
    const args = ['--json'];
    if (this.#options.partition) args.push(`--partition=${this.#options.partition}`);
    const data = parseJson(await this.#run('sinfo', args, signal), 'sinfo') as {
      nodes?: Array<{
        name: string;
        cpus?: number;
        alloc_cpus?: number;
        real_memory?: number;
        gres?: string;
      }>;
    };
    return (data.nodes ?? []).map((node) => {
      const gres = gresGpus(node.gres ?? '');
      return {
        name: node.name,
        cpus: node.cpus ?? 0,
        allocCpus: node.alloc_cpus ?? 0,
        memoryMiB: node.real_memory ?? 0,
        gpus: gres.count,
        ...(gres.type ? { gpuType: gres.type } : {}),
      };
    });
  }

  async #squeue(
    signal?: AbortSignal,
    options: { finished?: boolean; everyone?: boolean } = {},
  ): Promise<SqueueJob[]> {
    const args = ['--json'];
    // Our own jobs unless the whole queue is wanted: cheap on a big cluster.
    if (!options.everyone) args.push('--me');
    else if (this.#options.partition) args.push(`--partition=${this.#options.partition}`);
    // --states=all: finished jobs too, as long as Slurm remembers them (MinJobAge).
    if (options.finished) args.push('--states=all');
    const data = parseJson(await this.#run('squeue', args, signal), 'squeue') as { jobs?: SqueueJob[] };
    return data.jobs ?? [];
  }

  #run(command: string, args: string[], signal?: AbortSignal): Promise<string> {
    const program = this.#options.binDir ? join(this.#options.binDir, command) : command;
    const env = {
      ...process.env,
      ...(this.#options.slurmConf ? { SLURM_CONF: this.#options.slurmConf } : {}),
    };
    return new Promise((resolve, reject) => {
      execFile(
        program,
        args,
        { env, timeout: this.#timeoutMs, maxBuffer: 64 * 1024 * 1024, ...(signal ? { signal } : {}) },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            return reject(
              new ToolError(
                'unavailable',
                `${command} not found: install the Slurm client tools or set backends.slurm.binDir.`,
              ),
            );
          }
          if ((error as { killed?: boolean }).killed || code === 'ABORT_ERR') {
            return reject(new ToolError('timeout', `${command} did not answer within ${this.#timeoutMs} ms`));
          }
          const message = (stderr || error.message).trim().split('\n').slice(-3).join(' ');
          if (
            /Requested node configuration is not available|More processors requested|Invalid generic resource/i.test(
              message,
            )
          ) {
            return reject(new ToolError('refused', `Slurm refused the job: ${message}`));
          }
          if (/Invalid (partition|account|qos)/i.test(message)) {
            return reject(new ToolError('invalid_input', `Slurm refused the job: ${message}`));
          }
          reject(new ToolError('unavailable', `${command} failed: ${message}`));
        },
      );
    });
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ToolError(
      'unavailable',
      `${what} --json did not answer with JSON (Slurm 21.08 or newer is needed)`,
    );
  }
}

/** `scontrol show config` → its `Key = value` lines. */
function parseConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s*=\s*(.*)$/.exec(line);
    if (match) out[match[1] as string] = (match[2] as string).trim();
  }
  return out;
}

/** `gpu:fake:2,gpu:a100:4(S:0)` → total GPU count and the first type. */
export function gresGpus(gres: string): { count: number; type?: string } {
  let count = 0;
  let type: string | undefined;
  for (const part of gres.split(',')) {
    const match = /^gpu(?::([^:(]+))?:(\d+)/.exec(part.trim());
    if (!match) continue;
    count += Number(match[2]);
    type ??= match[1];
  }
  return type ? { count, type } : { count };
}

/** `gpu:fake:1(IDX:0-1,3)` → [0, 1, 3]. */
export function gpuIndices(detail: string): number[] {
  const match = /IDX:([0-9,-]+)/.exec(detail);
  if (!match) return [];
  const out: number[] = [];
  for (const range of (match[1] as string).split(',')) {
    const [from, to] = range.split('-').map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let i = from; i <= (to ?? from); i++) out.push(i);
  }
  return out;
}

/** The last `maxBytes` of a file as lines (the first, partial one dropped); [] when absent. */
async function readTail(path: string, maxBytes: number): Promise<string[]> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const size = (await stat(path)).size;
    handle = await open(path, 'r');
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').split('\n');
    if (start > 0) lines.shift();
    return lines;
  } catch {
    return [];
  } finally {
    await handle?.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The Slurm backend `backends.slurm` in the aiqu YAML file asks for, if any. Jobs get the
 * events URL; the signing secret only when `inheritEnv` names it, since a batch script sits on
 * a shared filesystem.
 */
export function createSlurmBackend(
  raw: unknown,
  options: { stateDir: string; timeoutMs: number; eventsUrl?: string | undefined },
): SlurmBackend | undefined {
  if (raw === undefined) return undefined;
  const parsed = slurmBackendConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new Error(
      `backends.slurm is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const { enabled, ...config } = parsed.data;
  if (!enabled) return undefined;
  return new SlurmBackend({
    ...config,
    stateDir: options.stateDir,
    timeoutMs: options.timeoutMs,
    ...(options.eventsUrl ? { jobEnv: { NIGHTSHIFT_EVENTS_URL: options.eventsUrl } } : {}),
  });
}
