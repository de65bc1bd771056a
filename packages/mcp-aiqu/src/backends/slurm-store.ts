import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Job, jobSchema } from './types.ts';

/** What the Slurm backend keeps per job beyond the job model. */
export interface SlurmRecord {
  job: Job;
  /** The job name Slurm knows it by (to tell a reused Slurm job id from ours). */
  slurmName: string;
  scriptPath: string;
  outputPath: string;
  /** Set when this backend cancelled it, so CANCELLED reads as a stop on request. */
  stopRequested?: boolean;
  /** Consecutive refreshes in which neither Slurm nor accounting knew the job. */
  missing?: number;
}

/**
 * The Slurm backend's own memory: an append-only JSON-lines journal (the last line per id wins),
 * so a job's final state and exit code outlive Slurm's (MinJobAge) and a server restart.
 */
export class SlurmStore {
  readonly dir: string;
  readonly outputDir: string;
  readonly #journal: string;
  readonly #records = new Map<string, SlurmRecord>();
  #sequence = 0;
  #lines = 0;
  readonly #prefix: string;

  constructor(dir: string, outputDir: string, prefix: string) {
    this.dir = dir;
    this.outputDir = outputDir;
    this.#prefix = prefix;
    this.#journal = join(dir, 'jobs.jsonl');
    mkdirSync(dir, { recursive: true });
    mkdirSync(outputDir, { recursive: true });
    this.#load();
  }

  #load(): void {
    if (!existsSync(this.#journal)) return;
    for (const line of readFileSync(this.#journal, 'utf8').split('\n')) {
      if (!line) continue;
      this.#lines++;
      try {
        const record = JSON.parse(line) as SlurmRecord;
        record.job = jobSchema.parse(record.job);
        this.#records.set(record.job.id, record);
        const sequence = Number(record.job.id.slice(this.#prefix.length));
        if (Number.isFinite(sequence)) this.#sequence = Math.max(this.#sequence, sequence);
      } catch {
        // A torn last line from a crash mid-append: the previous line for that id stands.
      }
    }
    if (this.#lines > 2 * this.#records.size + 1000) this.#compact();
  }

  #compact(): void {
    const temporary = `${this.#journal}.tmp`;
    writeFileSync(temporary, [...this.#records.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
    renameSync(temporary, this.#journal);
    this.#lines = this.#records.size;
  }

  nextId(): string {
    this.#sequence++;
    return `${this.#prefix}${String(this.#sequence).padStart(6, '0')}`;
  }

  get(id: string): SlurmRecord | undefined {
    return this.#records.get(id);
  }

  all(): SlurmRecord[] {
    return [...this.#records.values()];
  }

  put(record: SlurmRecord): void {
    this.#records.set(record.job.id, record);
    appendFileSync(this.#journal, `${JSON.stringify(record)}\n`);
    this.#lines++;
  }
}
