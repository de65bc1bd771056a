import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Job, jobStatuses } from './types.ts';

/** What the local backend keeps per job beyond the job model: how to find its process again. */
export interface LocalRecord {
  job: Job;
  /** Process group leader (the wrapper shell). */
  pid?: number;
  /** Kernel start time of `pid` (clock ticks since boot), so a reused pid is never mistaken for it. */
  pidStartTime?: number;
  /** GPU indices held while running. */
  gpuIndices?: number[];
  logPath: string;
  exitFile: string;
  /** Why a stop was asked for, so the exit is reported as stopped rather than failed. */
  stopRequested?: 'cancelled' | 'timeout';
}

/**
 * Job records in an append-only JSON-lines journal: each change appends the whole record, the
 * last line for an id wins. Appends are small and crash-safe (a torn last line is skipped), and a
 * restart reads everything back. The journal is compacted on open when it has grown well past
 * the number of jobs.
 */
export class LocalStore {
  readonly dir: string;
  readonly logDir: string;
  private readonly journal: string;
  private readonly records = new Map<string, LocalRecord>();
  /** Records in creation order (oldest first): lists walk it backwards. */
  private readonly ordered: LocalRecord[] = [];
  /** Index of each id in `ordered`. */
  private readonly position = new Map<string, number>();
  private sequence = 0;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'local');
    this.logDir = join(this.dir, 'logs');
    this.journal = join(this.dir, 'jobs.jsonl');
    mkdirSync(this.logDir, { recursive: true });
    this.load();
  }

  private load(): void {
    if (!existsSync(this.journal)) return;
    let lines = 0;
    for (const line of readFileSync(this.journal, 'utf8').split('\n')) {
      if (!line) continue;
      lines++;
      let record: LocalRecord;
      try {
        record = JSON.parse(line) as LocalRecord;
      } catch {
        continue;
      }
      // The journal is our own output: a shape check is enough (a full schema parse of 10k
      // records would dominate start-up).
      if (!isRecordShape(record)) continue;
      this.put(record);
    }
    for (const { job } of this.ordered) {
      const id = job.id;
      const seq = Number(id.slice(6));
      if (id.startsWith('local-') && Number.isFinite(seq) && seq > this.sequence) this.sequence = seq;
    }
    // First appearance in the journal is creation order already; sort only if it is not.
    if (!this.inCreationOrder()) {
      this.ordered.sort((a, b) =>
        a.job.createdAt < b.job.createdAt
          ? -1
          : a.job.createdAt > b.job.createdAt
            ? 1
            : a.job.id < b.job.id
              ? -1
              : 1,
      );
      this.position.clear();
      for (const [i, record] of this.ordered.entries()) this.position.set(record.job.id, i);
    }
    if (lines > 2 * this.records.size + 1000) this.compact();
  }

  private inCreationOrder(): boolean {
    let previous = '';
    for (const { job } of this.ordered) {
      const createdAt = job.createdAt;
      if (createdAt < previous) return false;
      previous = createdAt;
    }
    return true;
  }

  private compact(): void {
    const tmp = `${this.journal}.tmp`;
    writeFileSync(tmp, this.ordered.map((record) => `${JSON.stringify(record)}\n`).join(''));
    renameSync(tmp, this.journal);
  }

  /** A new id, increasing, zero-padded so ids sort like their creation order. */
  nextId(): string {
    this.sequence++;
    return `local-${String(this.sequence).padStart(6, '0')}`;
  }

  get(id: string): LocalRecord | undefined {
    return this.records.get(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  /** Records newest first. */
  *newestFirst(): Generator<LocalRecord> {
    for (let i = this.ordered.length - 1; i >= 0; i--) yield this.ordered[i] as LocalRecord;
  }

  /** Records oldest first, for callers that walk them in a tight loop (lists of many jobs). */
  get all(): readonly LocalRecord[] {
    return this.ordered;
  }

  get size(): number {
    return this.records.size;
  }

  save(record: LocalRecord): void {
    this.put(record);
    appendFileSync(this.journal, `${JSON.stringify(record)}\n`);
  }

  /** Saves many records with one write (used to seed large states, e.g. benchmarks). */
  saveMany(records: readonly LocalRecord[]): void {
    for (const record of records) {
      this.put(record);
      const seq = Number(record.job.id.replace(/^local-/, ''));
      if (Number.isFinite(seq)) this.sequence = Math.max(this.sequence, seq);
    }
    appendFileSync(this.journal, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  private put(record: LocalRecord): void {
    const id = record.job.id;
    const at = this.position.get(id);
    if (at === undefined) {
      this.position.set(id, this.ordered.length);
      this.ordered.push(record);
    } else {
      this.ordered[at] = record;
    }
    this.records.set(id, record);
  }

  logPathFor(id: string): string {
    return join(this.logDir, `${id}.log`);
  }

  exitFileFor(id: string): string {
    return join(this.logDir, `${id}.exit`);
  }
}

const knownStatuses: ReadonlySet<string> = new Set(jobStatuses);

function isRecordShape(value: unknown): value is LocalRecord {
  const record = value as Partial<LocalRecord> | null;
  const job = record?.job as Partial<Job> | undefined;
  return (
    typeof record?.logPath === 'string' &&
    typeof job?.id === 'string' &&
    typeof job.name === 'string' &&
    typeof job.createdAt === 'string' &&
    knownStatuses.has(job.status as string) &&
    typeof job.resources === 'object' &&
    typeof job.labels === 'object' &&
    typeof job.params === 'object'
  );
}
