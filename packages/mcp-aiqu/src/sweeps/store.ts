import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SweepState } from './spec.ts';

/**
 * Sweeps on disk: one JSON file per sweep, replaced atomically (write, then rename) so a crash
 * mid-write leaves the previous state rather than half a file.
 */
export class SweepStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async save(state: SweepState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.#file(state.id);
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, `${JSON.stringify(state)}\n`, 'utf8');
    await rename(temporary, file);
  }

  async load(id: string): Promise<SweepState | undefined> {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(this.#file(id), 'utf8')) as SweepState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(): Promise<SweepState[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const states: SweepState[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const state = await this.load(name.slice(0, -'.json'.length));
      if (state) states.push(state);
    }
    return states;
  }

  #file(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
