import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '@nightshift/mcp-kit';

/**
 * Edit proposals on disk, so one made before a restart can still be confirmed after it
 * (a person may answer hours later). A proposal is bound to everything the commit will
 * check: repo, branch, base commit, path, old blob and the exact new content.
 */
export interface Proposal {
  id: string;
  repo: string;
  branch: string;
  baseCommit: string;
  path: string;
  oldBlob: string;
  newBlob: string;
  newContent: string;
  diff: string;
  description: string;
  createdAt: string;
  committed?: { commit: string; ref: string; at: string };
}

const idPattern = /^p-[0-9a-f]{16}$/;
/** A claim older than this is from a process that died mid-commit; the base check keeps a retry safe. */
const staleClaimMs = 15 * 60_000;

export class ProposalStore {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'proposals');
  }

  newId(): string {
    return `p-${randomBytes(8).toString('hex')}`;
  }

  async save(proposal: Proposal): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.file(proposal.id);
    const temp = `${file}.${process.pid}.tmp`;
    // Write then rename: a crash never leaves a half-written proposal behind.
    await writeFile(temp, JSON.stringify(proposal, null, 2), { mode: 0o600 });
    await rename(temp, file);
  }

  async get(id: string): Promise<Proposal> {
    if (!idPattern.test(id)) {
      throw new ToolError(
        'invalid_input',
        `"${id}" is not a proposal id (they look like p-0123456789abcdef); git_propose_edit returns one.`,
      );
    }
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as Proposal;
    } catch {
      throw new ToolError('not_found', `proposal ${id} not found; make one with git_propose_edit.`);
    }
  }

  /** Most recent first. */
  async list(): Promise<Proposal[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const all: Proposal[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      try {
        all.push(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as Proposal);
      } catch {
        // A proposal that cannot be read is skipped, not fatal.
      }
    }
    return all.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  }

  /**
   * Takes the proposal for one commit attempt; a second concurrent attempt (in this process
   * or another) is refused. Returns the release function.
   */
  async claim(id: string): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    const lock = join(this.dir, `${id}.lock`);
    const tryOpen = async () => {
      const handle = await open(lock, 'wx');
      await handle.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      await handle.close();
    };
    try {
      await tryOpen();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock)).mtimeMs;
      if (age < staleClaimMs) {
        throw new ToolError(
          'conflict',
          `proposal ${id} is being committed by another request; wait and check with git_log.`,
        );
      }
      await rm(lock, { force: true });
      await tryOpen();
    }
    return () => rm(lock, { force: true });
  }

  async markCommitted(id: string, committed: Proposal['committed']): Promise<void> {
    const proposal = await this.get(id);
    await this.save({ ...proposal, ...(committed ? { committed } : {}) });
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
