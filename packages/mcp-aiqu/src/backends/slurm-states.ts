/**
 * Pure translation between Slurm's words and the job model: states and exit codes, the jobcomp
 * and sacct record formats, and the batch script sbatch runs. The Slurm backend is the only
 * caller; tests pin each mapping to what Slurm 22.05 really prints.
 */
import { jobVariables, substitute } from './job-env.ts';
import type { Job, JobReason, JobStatus } from './types.ts';

export interface SlurmOutcome {
  status: JobStatus;
  reason?: JobReason;
}

const queuedStates = new Set([
  'PENDING',
  'CONFIGURING',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESV_DEL_HOLD',
  'SUSPENDED',
]);
const runningStates = new Set([
  'RUNNING',
  'COMPLETING',
  'STAGE_OUT',
  'SIGNALING',
  'RESIZING',
  'UPDATE_DB',
  'POWER_UP_NODE',
]);

/** Pending reasons that will not resolve by waiting (the request can never fit). */
const hopelessPendingReasons = new Set([
  'BadConstraints',
  'PartitionConfig',
  'ReqNodeNotAvail',
  'InvalidAccount',
  'InvalidQOS',
  'PartitionDown',
  'PartitionInactive',
  'AssocGrpGRES',
  'QOSMaxGRESPerJob',
]);

/**
 * Slurm job state → status and reason. `stopRequested` turns a CANCELLED the backend asked
 * for into a plain stop; a CANCELLED nobody here asked for is still a stop, by someone else.
 */
export function slurmOutcome(state: string, pendingReason?: string): SlurmOutcome {
  const base = state.toUpperCase().split(/[+ ]/)[0] ?? '';
  if (queuedStates.has(base)) {
    return pendingReason && hopelessPendingReasons.has(pendingReason)
      ? { status: 'queued', reason: 'unschedulable' }
      : { status: 'queued' };
  }
  if (runningStates.has(base)) return { status: 'running' };
  switch (base) {
    case 'COMPLETED':
      return { status: 'succeeded', reason: 'completed' };
    case 'CANCELLED':
      return { status: 'stopped', reason: 'cancelled' };
    case 'OUT_OF_MEMORY':
      return { status: 'failed', reason: 'oom_killed' };
    case 'TIMEOUT':
    case 'DEADLINE':
      return { status: 'failed', reason: 'timeout' };
    case 'NODE_FAIL':
      return { status: 'failed', reason: 'node_failure' };
    case 'PREEMPTED':
      return { status: 'failed', reason: 'preempted' };
    case 'BOOT_FAIL':
    case 'LAUNCH_FAILED':
      return { status: 'failed', reason: 'start_failure' };
    case 'FAILED':
      return { status: 'failed', reason: 'nonzero_exit' };
    default:
      return { status: 'failed', reason: 'unknown' };
  }
}

/** A wait status as squeue's JSON reports it → exit code (128+N for signal N). */
export function decodeWaitStatus(raw: number): { exitCode: number; signal?: number } {
  const signal = raw & 0x7f;
  if (signal !== 0) return { exitCode: 128 + signal, signal };
  return { exitCode: (raw >> 8) & 0xff };
}

/** `ExitCode=3:0` (code:signal, as scontrol, jobcomp and sacct print it) → exit code. */
export function decodeExitPair(text: string): { exitCode: number; signal?: number } | undefined {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) return undefined;
  const code = Number(match[1]);
  const signal = Number(match[2]);
  return signal !== 0 ? { exitCode: 128 + signal, signal } : { exitCode: code };
}

/** Lines Slurm writes into a job's output when it kills a step over its memory request. */
export const slurmMemoryKill = /exceeded (job )?memory limit|oom-kill|Out Of Memory|OUT_OF_MEMORY/i;

/** One `Key=value Key=value` record (jobcomp/filetxt, `scontrol show job -o`). */
export function parseKeyValues(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of line.matchAll(/(\S+?)=(\S*)/g)) {
    const key = match[1] as string;
    if (!(key in out)) out[key] = match[2] as string;
  }
  return out;
}

export interface FinishedRecord {
  nativeId: string;
  name: string;
  state: string;
  exitCode?: number;
  signal?: number;
  submitTime?: string;
  startTime?: string;
  endTime?: string;
}

/** The jobcomp/filetxt file: one line per finished job, newest last. */
export function parseJobcomp(text: string): FinishedRecord[] {
  const records: FinishedRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('JobId=')) continue;
    const kv = parseKeyValues(line);
    const exit = kv.ExitCode ? decodeExitPair(kv.ExitCode) : undefined;
    records.push({
      nativeId: kv.JobId as string,
      name: kv.Name ?? '',
      state: kv.JobState ?? 'UNKNOWN',
      ...(exit ? exit : {}),
      ...(kv.SubmitTime ? { submitTime: slurmTime(kv.SubmitTime) } : {}),
      ...(kv.StartTime ? { startTime: slurmTime(kv.StartTime) } : {}),
      ...(kv.EndTime ? { endTime: slurmTime(kv.EndTime) } : {}),
    });
  }
  return records.filter((r) => r.nativeId);
}

/** `sacct -X -P -n -o JobID,JobName,State,ExitCode,Submit,Start,End` output. */
export function parseSacct(text: string): FinishedRecord[] {
  const records: FinishedRecord[] = [];
  for (const line of text.split('\n')) {
    const [id, name, state, exitPair, submit, start, end] = line.split('|');
    if (!id || !state) continue;
    const exit = exitPair ? decodeExitPair(exitPair) : undefined;
    records.push({
      nativeId: id,
      name: name ?? '',
      // sacct prints "CANCELLED by 0"; the first word is the state.
      state: state.split(' ')[0] as string,
      ...(exit ? exit : {}),
      ...(submit ? { submitTime: slurmTime(submit) } : {}),
      ...(start ? { startTime: slurmTime(start) } : {}),
      ...(end ? { endTime: slurmTime(end) } : {}),
    });
  }
  return records;
}

/**
 * Slurm prints local time without a zone (`2026-11-23T08:45:33`); "Unknown"/"None" mean unset.
 * Returns ISO 8601 UTC, or undefined.
 */
export function slurmTime(text: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Epoch seconds from squeue's JSON → ISO 8601, or undefined for 0/absent. */
export function epochTime(seconds: number | null | undefined): string | undefined {
  return typeof seconds === 'number' && seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
}

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A job name Slurm shows in squeue: no whitespace, bounded. */
export function slurmJobName(name: string): string {
  return name.replace(/[^A-Za-z0-9._/-]+/g, '_').slice(0, 120) || 'nightshift-job';
}

export interface BatchScriptInput {
  /** The job as it will be recorded (id, attempt, spec). */
  job: Job;
  outputPath: string;
  partition?: string | undefined;
  account?: string | undefined;
  qos?: string | undefined;
  /** Environment every job gets (event reporting), below the spec's own. */
  jobEnv?: Record<string, string> | undefined;
}

/**
 * The script sbatch runs. Resources and placement go in #SBATCH lines; the job's environment is
 * exported in the script (sbatch is told to pass only PATH and locale from the server, so no
 * server secret leaks into a job); `{{key}}` in the command is substituted as on every backend.
 */
export function buildBatchScript(input: BatchScriptInput): string {
  const spec = input.job;
  const id = spec.id;
  if (!spec.command || spec.command.length === 0) {
    throw new Error('the Slurm backend runs commands; this spec has no command');
  }
  const directives = [
    `--job-name=${slurmJobName(spec.name)}`,
    `--output=${input.outputPath}`,
    `--error=${input.outputPath}`,
    `--comment=nightshift:${id}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${Math.max(1, Math.ceil(spec.resources.cpus || 1))}`,
  ];
  if (spec.resources.gpus > 0) directives.push(`--gres=gpu:${spec.resources.gpus}`);
  if (spec.resources.memoryMiB) directives.push(`--mem=${spec.resources.memoryMiB}M`);
  if (spec.timeoutSeconds) directives.push(`--time=${Math.max(1, Math.ceil(spec.timeoutSeconds / 60))}`);
  if (spec.workingDir) directives.push(`--chdir=${spec.workingDir}`);
  if (input.partition) directives.push(`--partition=${input.partition}`);
  if (input.account) directives.push(`--account=${input.account}`);
  if (input.qos) directives.push(`--qos=${input.qos}`);
  // Slurm's nice lowers priority; only an operator may raise it (negative nice), so a job asking
  // for less than the default is honoured and one asking for more runs at the default.
  if (spec.priority < 0) directives.push(`--nice=${-spec.priority}`);

  // The same variables every backend gives a job (params, config reference, identity).
  const env: Record<string, string> = { ...input.jobEnv, ...jobVariables(spec) };
  const exports = Object.entries(env)
    .filter(([key]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
    .map(([key, value]) => `export ${key}=${shellQuote(value)}`);
  const command = spec.command.map((arg) => shellQuote(substitute(arg, spec))).join(' ');
  return [
    '#!/bin/bash',
    ...directives.map((d) => `#SBATCH ${d}`),
    '# Generated by nightshift-mcp-aiqu: the environment and command of one job.',
    ...exports,
    `exec ${command}`,
    '',
  ].join('\n');
}
