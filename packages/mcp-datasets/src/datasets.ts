import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { notFound, ToolError } from '@nightshift/mcp-kit';
import { cocoCandidates, loadCoco } from './formats/coco.ts';
import { loadImageFolder, looksLikeImageFolder } from './formats/image-folder.ts';
import type { DatasetFormat, LoadContext, VersionLayout } from './formats/types.ts';
import { findYoloYaml, loadYolo } from './formats/yolo.ts';
import { type ProgressFn, type ScanInfo, VersionScanner } from './scanner.ts';
import { parseYaml } from './yaml.ts';

/**
 * Versions whose file records stay in memory (and watched); older ones fall back to their disk
 * cache. Bounds memory when many large versions are listed or compared.
 */
const maxVersionsInMemory = 4;

/** The file in a dataset folder that names its versions (otherwise: its sub-folders). */
export const manifestFile = 'versions.yaml';

export interface VersionRef {
  name: string;
  /** Absolute path of the version folder. */
  dir: string;
  /** From the manifest, else the folder's modification time (ISO 8601). */
  date?: string;
  note?: string;
}

export interface DatasetRef {
  name: string;
  dir: string;
  versions: VersionRef[];
  /** True when a versions.yaml named the versions. */
  manifest: boolean;
  /** Why the manifest could not be used, when it could not. */
  problem?: string;
}

export interface VersionData extends VersionLayout {
  dataset: string;
  version: string;
  /** Absolute path of the version folder; sample paths are relative to it. */
  dir: string;
  scan: ScanInfo;
}

export interface DatasetStoreOptions {
  root: string;
  /** Where per-version scan caches go; none → memory only. */
  cacheDir?: string;
}

/**
 * The datasets root on disk: which datasets and versions exist, and each version's files read
 * into one format-independent shape. The only module that reads the filesystem's layout;
 * per-file records come through a cached VersionScanner.
 */
export class DatasetStore {
  readonly root: string;
  readonly cacheDir: string | undefined;
  private readonly scanners = new Map<string, VersionScanner>();
  private readonly loaded = new Map<string, VersionData>();
  private readonly derived = new WeakMap<VersionData, Map<string, unknown>>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(options: DatasetStoreOptions) {
    this.root = resolve(options.root);
    this.cacheDir = options.cacheDir;
  }

  /** Every dataset folder under the root (hidden folders skipped), sorted by name. */
  async listDatasets(): Promise<DatasetRef[]> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(this.root, { withFileTypes: true });
    } catch (error) {
      throw new ToolError(
        'unavailable',
        `The datasets root ${this.root} cannot be read (${(error as NodeJS.ErrnoException).code}); check NIGHTSHIFT_DATASETS_ROOT.`,
      );
    }
    const names = entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .filter((name) => statSync(join(this.root, name), { throwIfNoEntry: false })?.isDirectory())
      .sort(naturalOrder);
    return Promise.all(names.map((name) => this.describeDataset(name)));
  }

  /** One dataset by name, or a not-found error listing the datasets that exist. */
  async dataset(name: string): Promise<DatasetRef> {
    const all = await this.listDatasets();
    const found = all.find((d) => d.name === name);
    if (!found)
      throw notFound(
        `dataset "${name}"`,
        all.map((d) => d.name),
        'List them with datasets_list_datasets.',
      );
    return found;
  }

  /** One version (the latest when `name` is absent), or a not-found error listing the versions. */
  async version(dataset: string, name?: string): Promise<{ dataset: DatasetRef; version: VersionRef }> {
    const ref = await this.dataset(dataset);
    if (ref.versions.length === 0)
      throw new ToolError(
        'not_found',
        `dataset "${dataset}" has no versions: add version folders (e.g. ${dataset}/v1/) or a ${manifestFile}.`,
      );
    const version = name === undefined ? ref.versions.at(-1) : ref.versions.find((v) => v.name === name);
    if (!version)
      throw notFound(
        `version "${name}" of dataset "${dataset}"`,
        ref.versions.map((v) => v.name),
        'List them with datasets_list_versions.',
      );
    return { dataset: ref, version };
  }

  /** The format a version folder holds, judged from its top two levels (cheap). */
  detectFormat(dir: string): DatasetFormat | undefined {
    const top = safeReaddir(dir);
    for (const entry of top) {
      if (entry.isFile() && /\.ya?ml$/i.test(entry.name) && entry.name !== manifestFile) {
        const text = safeRead(join(dir, entry.name));
        if (text && /^(names|nc)\s*:/m.test(text)) return 'yolo';
      }
    }
    const isCoco = (folder: string, e: import('node:fs').Dirent) =>
      e.isFile() && e.name.toLowerCase().endsWith('.json') && looksLikeCoco(join(folder, e.name));
    if (top.some((e) => isCoco(dir, e))) return 'coco';
    for (const entry of top) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const folder = join(dir, entry.name);
      if (safeReaddir(folder).some((e) => isCoco(folder, e))) return 'coco';
    }
    return top.some((e) => e.isDirectory() && !e.name.startsWith('.')) ? 'image-folder' : undefined;
  }

  /**
   * A version's samples, labels and layout problems. The first call walks and reads every file
   * (sending progress); later calls reuse per-file records whose size and mtime are unchanged,
   * and with folder watchers in place, look only at paths that changed.
   */
  async load(
    datasetName: string,
    versionName: string | undefined,
    progress: ProgressFn,
  ): Promise<VersionData> {
    const { dataset, version } = await this.version(datasetName, versionName);
    return this.serialize(version.dir, () => this.loadVersion(dataset, version, progress));
  }

  /** A result computed from a loaded version, remembered until the version changes. */
  derive<T>(data: VersionData, key: string, compute: () => T): T {
    let results = this.derived.get(data);
    if (!results) {
      results = new Map();
      this.derived.set(data, results);
    }
    if (!results.has(key)) results.set(key, compute());
    return results.get(key) as T;
  }

  close(): void {
    for (const scanner of this.scanners.values()) scanner.close();
    this.scanners.clear();
  }

  private async loadVersion(
    dataset: DatasetRef,
    version: VersionRef,
    progress: ProgressFn,
  ): Promise<VersionData> {
    const started = performance.now();
    let scanner = this.scanners.get(version.dir);
    if (scanner) {
      // Most recently used last, so eviction drops the version untouched longest.
      this.scanners.delete(version.dir);
    } else {
      scanner = new VersionScanner(version.dir, this.cacheDir);
    }
    this.scanners.set(version.dir, scanner);
    for (const [dir, old] of this.scanners) {
      if (this.scanners.size <= maxVersionsInMemory) break;
      old.close();
      this.scanners.delete(dir);
      this.loaded.delete(dir);
    }
    await progress(0, 1, `listing files of ${dataset.name}/${version.name}`);
    const { walked, changed } = await scanner.refresh();
    const previous = this.loaded.get(version.dir);
    if (previous && !walked && changed !== 'all' && changed.size === 0) {
      // Same object, so results derived from it stay remembered; only this call's scan facts change.
      previous.scan = {
        files: previous.scan.files,
        read: 0,
        cached: previous.scan.files,
        walked: false,
        ms: Math.round(performance.now() - started),
      };
      return previous;
    }
    const counts = { read: 0, cached: 0 };
    const context: LoadContext = { scanner, check: changed, progress, counts };
    this.loaded.delete(version.dir);
    let layout: VersionLayout;
    try {
      layout = await this.layout(scanner, context);
    } catch (error) {
      // Changes seen by the watchers may not have been read: look at everything next time.
      scanner.invalidate();
      throw error;
    }
    await scanner.save();
    const data: VersionData = {
      ...layout,
      dataset: dataset.name,
      version: version.name,
      dir: version.dir,
      scan: {
        files: scanner.list().length,
        read: counts.read,
        cached: counts.cached,
        walked,
        ms: Math.round(performance.now() - started),
      },
    };
    this.loaded.set(version.dir, data);
    return data;
  }

  private async layout(scanner: VersionScanner, context: LoadContext): Promise<VersionLayout> {
    const files = scanner.list();
    const yaml = findYoloYaml(files, (p) => scanner.readText(p));
    if (yaml) return loadYolo(yaml.file, yaml.text, context);
    const jsons = cocoCandidates(files);
    if (jsons.length > 0) {
      const coco = await loadCoco(jsons, context);
      if (coco.samples.length > 0 || coco.splits.length > 0) return coco;
    }
    if (looksLikeImageFolder(files)) return loadImageFolder(context);
    throw new ToolError(
      'invalid_input',
      `No dataset format recognised in ${relative(this.root, scanner.dir) || '.'}: expected a YOLO data.yaml (with names), COCO annotation JSON, or class sub-folders of images.`,
    );
  }

  private async serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve();
    const next = before.catch(() => undefined).then(work);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }

  private async describeDataset(name: string): Promise<DatasetRef> {
    const dir = join(this.root, name);
    const manifestText = safeRead(join(dir, manifestFile));
    if (manifestText !== undefined) {
      try {
        const versions = await parseManifest(manifestText, dir);
        return { name, dir, versions, manifest: true };
      } catch (error) {
        return {
          name,
          dir,
          versions: [],
          manifest: true,
          problem: `${manifestFile}: ${(error as Error).message}`,
        };
      }
    }
    // A dataset folder that is itself a YOLO or COCO version has one version, "current".
    const own = this.detectFormat(dir);
    if (own === 'yolo' || own === 'coco')
      return { name, dir, versions: [versionRef('current', dir)], manifest: false };
    const versions = safeReaddir(dir)
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort(naturalOrder)
      .map((v) => versionRef(v, join(dir, v)));
    return { name, dir, versions, manifest: false };
  }
}

async function parseManifest(text: string, dir: string): Promise<VersionRef[]> {
  const doc = (await parseYaml(text)) as { versions?: unknown };
  if (!doc || !Array.isArray(doc.versions)) throw new Error('expected a "versions:" list');
  return doc.versions.map((entry: unknown, i: number) => {
    const item = (typeof entry === 'string' ? { name: entry } : entry) as Record<string, unknown>;
    const name = typeof item?.name === 'string' ? item.name : undefined;
    if (!name) throw new Error(`entry ${i + 1} has no name`);
    const path = typeof item.path === 'string' ? item.path : name;
    const target = resolve(dir, path);
    if (target !== dir && !target.startsWith(dir + sep))
      throw new Error(`version "${name}" path "${path}" leaves the dataset folder`);
    const ref = versionRef(name, target);
    if (item.date !== undefined)
      ref.date = item.date instanceof Date ? item.date.toISOString().slice(0, 10) : String(item.date);
    if (typeof item.note === 'string') ref.note = item.note;
    return ref;
  });
}

function versionRef(name: string, dir: string): VersionRef {
  const stats = statSync(dir, { throwIfNoEntry: false });
  return stats ? { name, dir, date: stats.mtime.toISOString() } : { name, dir };
}

/** A COCO file names its `images` early (after `info` and `licenses`); other JSON rarely does. */
function looksLikeCoco(path: string): boolean {
  if (/annotation|instances/i.test(path)) return true;
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(64 * 1024);
      const n = readSync(fd, head, 0, head.length, 0);
      return /"images"\s*:/.test(head.toString('utf8', 0, n));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function safeRead(path: string): string | undefined {
  try {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats?.isFile() || stats.size > 1024 * 1024) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** v2 before v10; 2024-01 before 2024-02. */
export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
