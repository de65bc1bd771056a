import { execFile } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';

/**
 * The process-level facts the local backend needs: is a pid still the process we started, what
 * GPUs the machine has, and reading the tail of a log without loading all of it.
 */

/** Kernel start time of a process (clock ticks since boot), from /proc; undefined elsewhere. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); starttime is field 22.
    if (rest[0] === 'Z') return undefined;
    const value = Number(rest[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` runs and (where /proc exists) is still the process that started at `startTime`. */
export function isSameProcessAlive(pid: number, startTime: number | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(pid);
  if (now === undefined) return startTime === undefined && !hasProc();
  return startTime === undefined || now === startTime;
}

function hasProc(): boolean {
  try {
    statSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to a whole process group; false when the group is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface GpuInfo {
  index: number;
  name?: string;
}

/** GPUs from `nvidia-smi -L`; empty when the tool is absent or fails. */
export function discoverGpus(timeoutMs = 5000): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['-L'], { timeout: timeoutMs }, (error, stdout) => {
      if (error) return resolve([]);
      resolve(parseNvidiaSmiList(stdout));
    });
  });
}

/** Parses `GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)` lines. */
export function parseNvidiaSmiList(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of text.split('\n')) {
    const match = /^GPU (\d+): (.+?)(?: \(UUID: [^)]*\))?\s*$/.exec(line.trim());
    if (match) gpus.push({ index: Number(match[1]), name: match[2] as string });
  }
  return gpus;
}

export function cpuCount(): number {
  return availableParallelism();
}

export function machineName(): string {
  return hostname();
}

export interface FileTail {
  lines: string[];
  firstLineNumber: number;
  totalLines: number;
}

const wholeFileLimit = 32 * 1024 * 1024;
const chunkSize = 1024 * 1024;

/** The last `n` lines of a file with their line numbers; large files are not read whole. */
export function readTail(path: string, n: number): FileTail {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { lines: [], firstLineNumber: 1, totalLines: 0 };
  }
  if (size <= wholeFileLimit) {
    const all = splitLines(readFileSync(path, 'utf8'));
    const start = Math.max(0, all.length - n);
    return { lines: all.slice(start), firstLineNumber: start + 1, totalLines: all.length };
  }
  const fd = openSync(path, 'r');
  try {
    // Walk back until enough newlines are seen, then count the newlines before that point.
    let position = size;
    let text = '';
    let newlines = 0;
    while (position > 0 && newlines <= n) {
      const length = Math.min(chunkSize, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, position);
      text = buffer.toString('utf8') + text;
      newlines = countNewlines(text);
    }
    const tailLines = splitLines(text);
    const start = Math.max(0, tailLines.length - n);
    let before = 0;
    const buffer = Buffer.alloc(chunkSize);
    for (let offset = 0; offset < position; offset += chunkSize) {
      const read = readSync(fd, buffer, 0, Math.min(chunkSize, position - offset), offset);
      before += countNewlinesBuffer(buffer.subarray(0, read));
    }
    // Line k of the tail chunk is line before + 1 + k of the file (a partial first piece included).
    return {
      lines: tailLines.slice(start),
      firstLineNumber: before + 1 + start,
      totalLines: before + tailLines.length,
    };
  } finally {
    closeSync(fd);
  }
}

/** The first `bytes` of a file as text (for finding what a job printed at start). */
export function readHead(path: string, bytes: number): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(bytes);
      const read = readSync(fd, buffer, 0, bytes, 0);
      return buffer.subarray(0, read).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function countNewlinesBuffer(buffer: Buffer): number {
  let count = 0;
  for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) count++;
  return count;
}

/**
 * One server per state directory: two would both start the same queued jobs. The lock file names
 * the holder (pid and start time), so a lock left by a crashed server is taken over. Waits a
 * little first, for a server that is just shutting down.
 */
export async function acquireStateLock(dir: string, waitMs = 3000): Promise<() => void> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'server.lock');
  const mine = JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) ?? null });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(path, mine, { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: { pid?: unknown; startTime?: unknown } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder;
    } catch {
      // Unreadable or half-written: treat as stale below unless it is very fresh.
    }
    const pid = typeof holder.pid === 'number' ? holder.pid : undefined;
    const startTime = typeof holder.startTime === 'number' ? holder.startTime : undefined;
    if (pid === undefined || !isSameProcessAlive(pid, startTime)) {
      try {
        unlinkSync(path);
      } catch {
        // Someone else removed it first.
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the job state in ${dir} is in use by another aiqu server (pid ${pid}); run one server per state directory (share it over --http) or give this one its own NIGHTSHIFT_AIQU_STATE_DIR`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
