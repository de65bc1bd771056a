import { createHash } from 'node:crypto';
import {
  closeSync,
  type FSWatcher,
  fstatSync,
  opendirSync,
  openSync,
  readSync,
  statSync,
  watch,
} from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import {
  type CocoRecord,
  cocoRecord,
  type FileRecord,
  hashBytes,
  imageRecord,
  maxCocoFileBytes,
  maxLabelFileBytes,
  type RecordKind,
  yoloLabelRecord,
} from './readers.ts';

/** How one refresh of a version went: the numbers behind "a second call is instant". */
export interface ScanInfo {
  /** Files the version holds (after the walk). */
  files: number;
  /** Files whose records were (re)computed from their bytes in this call. */
  read: number;
  /** Files whose cached record was reused. */
  cached: number;
  /** Whether this call walked the whole tree (false: only changed paths were looked at). */
  walked: boolean;
  ms: number;
}

/** A record as the cache keeps it: with the size and mtime it was read at. */
type Entry = FileRecord & { size: number; mtimeMs: number };

export type ProgressFn = (done: number, total: number, message: string) => Promise<void>;

const cacheFormat = 3;
/** Past this many directories a version is re-walked each call instead of watched. */
const maxWatchedDirs = 4096;
/** Files handled between yields to the event loop, so progress and cancellation get through. */
const batch = 500;
const chunkBytes = 1024 * 1024;
const tailBytes = 1024;

/**
 * One version folder's files and their records, cached in memory and on disk, keyed per file
 * by size and mtime. After the first walk the folder's directories are watched, so later calls
 * look only at paths that changed; without watchers every call re-stats every file (still
 * without re-reading unchanged ones).
 */
export class VersionScanner {
  readonly dir: string;
  private readonly cacheFile: string | undefined;
  private entries = new Map<string, Entry>();
  private fileSet = new Set<string>();
  private files: string[] = [];
  private loaded = false;
  private watchers: FSWatcher[] = [];
  private dirty: Set<string> | 'all' = 'all';
  private changedSinceSave = false;
  private readonly buffer = Buffer.allocUnsafe(chunkBytes);
  /** Bumped whenever the file set or any record changes; callers key derived results on it. */
  generation = 0;

  constructor(dir: string, cacheDir: string | undefined) {
    this.dir = dir;
    this.cacheFile = cacheDir
      ? join(cacheDir, `${createHash('sha1').update(dir).digest('hex').slice(0, 20)}.json`)
      : undefined;
  }

  /**
   * Brings the file list up to date. Returns the paths that may have changed since the last
   * call ('all' after a walk); the caller then asks for the records it needs.
   */
  async refresh(): Promise<{ walked: boolean; changed: Set<string> | 'all' }> {
    // Lets watcher events already queued by the kernel land before deciding what is dirty: two
    // hops through the check phase guarantee one poll phase (where libuv reads inotify) between.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    if (!this.loaded) await this.loadDiskCache();
    const dirty = this.dirty;
    this.dirty = new Set();
    if (dirty === 'all' || this.watchers.length === 0) {
      this.closeWatchers();
      const { files, dirs } = walk(this.dir);
      const changed = files.length !== this.files.length || files.some((f, i) => f !== this.files[i]);
      this.files = files;
      this.fileSet = new Set(files);
      for (const path of this.entries.keys()) if (!this.fileSet.has(path)) this.entries.delete(path);
      if (changed) this.bump();
      this.watch(dirs);
      return { walked: true, changed: 'all' };
    }
    if (dirty.size === 0) return { walked: false, changed: dirty };
    let listChanged = false;
    for (const path of dirty) {
      const stats = statSync(this.pathOf(path), { throwIfNoEntry: false });
      if (stats?.isDirectory()) {
        // A new or moved folder: its contents are unknown, so walk again.
        this.dirty = 'all';
        return this.refresh();
      }
      const exists = stats?.isFile() ?? false;
      if (exists && !this.fileSet.has(path)) {
        this.fileSet.add(path);
        listChanged = true;
      } else if (!exists && this.fileSet.has(path)) {
        this.fileSet.delete(path);
        this.entries.delete(path);
        listChanged = true;
      }
    }
    if (listChanged) {
      this.files = [...this.fileSet].sort();
      this.bump();
    }
    return { walked: false, changed: dirty };
  }

  /** Walked paths are already normal, so plain concatenation does what `join` would, cheaper. */
  private pathOf(path: string): string {
    return `${this.dir}${sep}${path}`;
  }

  /** Relative paths (with `/`), sorted, hidden entries skipped. */
  list(): readonly string[] {
    return this.files;
  }

  has(path: string): boolean {
    return this.fileSet.has(path);
  }

  /**
   * Records for `paths`: from cache when the file's size and mtime match (checked only for
   * paths in `check`), read from disk otherwise. Unreadable files get a record saying so.
   */
  async records<K extends RecordKind>(
    paths: readonly string[],
    kind: K,
    check: Set<string> | 'all',
    progress?: ProgressFn,
    info?: { read: number; cached: number },
  ): Promise<Map<string, Extract<FileRecord, { kind: K }>>> {
    const out = new Map<string, Extract<FileRecord, { kind: K }>>();
    for (let i = 0; i < paths.length; i++) {
      if (i % batch === 0 && i > 0) {
        await progress?.(i, paths.length, `reading ${kind} files`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const path = paths[i] as string;
      const entry = this.entries.get(path);
      if (entry && entry.kind === kind && check !== 'all' && !check.has(path)) {
        out.set(path, entry as unknown as Extract<FileRecord, { kind: K }>);
        if (info) info.cached++;
        continue;
      }
      const record = this.readRecord(path, kind, entry);
      if (info) record.fresh ? info.read++ : info.cached++;
      out.set(path, record.record as Extract<FileRecord, { kind: K }>);
    }
    await progress?.(paths.length, paths.length, `read ${paths.length} ${kind} files`);
    return out;
  }

  /** Reads a small text file (a data.yaml or manifest) whole, or undefined when unreadable. */
  readText(path: string, maxBytes = 1024 * 1024): string | undefined {
    try {
      const fd = openSync(this.pathOf(path), 'r');
      try {
        const n = readSync(fd, this.buffer, 0, Math.min(maxBytes, chunkBytes), 0);
        return this.buffer.toString('utf8', 0, n);
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined;
    }
  }

  private readRecord(
    path: string,
    kind: RecordKind,
    entry: Entry | undefined,
  ): { record: FileRecord; fresh: boolean } {
    const abs = this.pathOf(path);
    if (entry && entry.kind === kind) {
      // A stat is cheaper than open+fstat+close when, as usual, nothing changed.
      const stats = statSync(abs, { throwIfNoEntry: false });
      if (stats && entry.size === stats.size && entry.mtimeMs === stats.mtimeMs)
        return { record: entry, fresh: false };
    }
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (error) {
      return { record: unreadable(kind, (error as NodeJS.ErrnoException).code ?? 'unreadable'), fresh: true };
    }
    try {
      const stats = fstatSync(fd);
      if (entry && entry.kind === kind && entry.size === stats.size && entry.mtimeMs === stats.mtimeMs)
        return { record: entry, fresh: false };
      const record = this.readOpen(fd, kind, stats.size) as Entry;
      record.size = stats.size;
      record.mtimeMs = stats.mtimeMs;
      this.entries.set(path, record);
      this.changedSinceSave = true;
      this.bump();
      return { record, fresh: true };
    } catch (error) {
      return {
        record: unreadable(kind, (error as NodeJS.ErrnoException).code ?? 'read failed'),
        fresh: true,
      };
    } finally {
      closeSync(fd);
    }
  }

  private readOpen(fd: number, kind: RecordKind, size: number): FileRecord {
    if (kind === 'yolo') {
      const n = readFully(fd, this.buffer, Math.min(size, maxLabelFileBytes));
      return yoloLabelRecord(this.buffer.subarray(0, n), size);
    }
    if (kind === 'coco') {
      if (size > maxCocoFileBytes) return cocoRecord(undefined, size);
      const bytes = Buffer.allocUnsafe(size);
      const n = readFully(fd, bytes, size);
      return cocoRecord(bytes.subarray(0, n), size);
    }
    // Images: one read for the usual small file; larger ones stream through the hash.
    const first = readFully(fd, this.buffer, Math.min(size, chunkBytes));
    if (first >= size) {
      const bytes = this.buffer.subarray(0, first);
      return imageRecord(bytes, bytes.subarray(Math.max(0, first - tailBytes)), size, hashBytes(bytes));
    }
    const head = Buffer.from(this.buffer.subarray(0, Math.min(first, 64 * 1024)));
    const hash = createHash('sha1').update(this.buffer.subarray(0, first));
    let offset = first;
    let last = this.buffer.subarray(0, first);
    while (offset < size) {
      const n = readSync(fd, this.buffer, 0, chunkBytes, offset);
      if (n <= 0) break;
      last = this.buffer.subarray(0, n);
      hash.update(last);
      offset += n;
    }
    const tail = Buffer.from(last.subarray(Math.max(0, last.length - tailBytes)));
    return imageRecord(head, tail, offset, hash.digest('base64url').slice(0, 20));
  }

  private bump(): void {
    this.generation++;
  }

  private watch(dirs: string[]): void {
    if (dirs.length > maxWatchedDirs) return;
    try {
      for (const rel of dirs) {
        const watcher = watch(join(this.dir, rel), { persistent: false }, (_event, name) => {
          if (this.dirty === 'all') return;
          if (!name) {
            this.dirty = 'all';
            return;
          }
          const path = rel === '' ? String(name) : `${rel}/${name}`;
          if (!path.split('/').some((part) => part.startsWith('.'))) this.dirty.add(path);
        });
        watcher.on('error', () => {
          this.dirty = 'all';
          this.closeWatchers();
        });
        this.watchers.push(watcher);
      }
    } catch {
      // Out of inotify watches or an unwatchable filesystem: fall back to re-walking each call.
      this.closeWatchers();
    }
  }

  private closeWatchers(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /** Forgets what the watchers said: the next refresh walks and re-stats everything. */
  invalidate(): void {
    this.dirty = 'all';
  }

  close(): void {
    this.closeWatchers();
  }

  /**
   * The cache file is one JSON header line, then one `[path, record with size and mtimeMs]` line per
   * file: written and read a slice at a time, so a 200k-file version never becomes one string.
   */
  private async loadDiskCache(): Promise<void> {
    this.loaded = true;
    if (!this.cacheFile) return;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.cacheFile);
    } catch {
      return; // No cache yet: the scan builds it.
    }
    try {
      let start = bytes.indexOf(10);
      const header = JSON.parse(bytes.toString('utf8', 0, Math.max(0, start))) as {
        format?: number;
        dir?: string;
      };
      if (header.format !== cacheFormat || header.dir !== this.dir) return;
      while (start >= 0 && start + 1 < bytes.length) {
        const end = bytes.indexOf(10, start + 1);
        const line = bytes.toString('utf8', start + 1, end < 0 ? bytes.length : end);
        start = end;
        if (!line) continue;
        const [path, record] = JSON.parse(line) as [string, Entry];
        this.entries.set(path, record);
      }
    } catch {
      // A damaged cache only costs speed: start over.
      this.entries.clear();
    }
  }

  /** Writes the cache if anything was read since the last save; failures only cost speed. */
  async save(): Promise<void> {
    if (!this.cacheFile || !this.changedSinceSave) return;
    this.changedSinceSave = false;
    const temp = `${this.cacheFile}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.cacheFile), { recursive: true });
      const handle = await open(temp, 'w');
      try {
        let chunk = `${JSON.stringify({ format: cacheFormat, dir: this.dir, files: this.entries.size })}\n`;
        for (const [path, e] of this.entries) {
          chunk += `${JSON.stringify([path, e])}\n`;
          if (chunk.length > 1 << 20) {
            await handle.write(chunk);
            chunk = '';
          }
        }
        await handle.write(chunk);
      } finally {
        await handle.close();
      }
      await rename(temp, this.cacheFile);
    } catch {
      this.changedSinceSave = true;
    }
  }
}

function readFully(fd: number, buffer: Buffer, length: number): number {
  let offset = 0;
  while (offset < length) {
    const n = readSync(fd, buffer, offset, length - offset, offset);
    if (n <= 0) break;
    offset += n;
  }
  return offset;
}

function unreadable(kind: RecordKind, reason: string): FileRecord {
  if (kind === 'image') return { kind, problem: `unreadable (${reason})`, hash: `unreadable:${reason}` };
  if (kind === 'coco') {
    const record: CocoRecord = {
      kind,
      images: [],
      categories: [],
      annotations: [],
      problem: `unreadable (${reason})`,
    };
    return record;
  }
  return { kind, rows: [], malformed: 1, firstMalformedLine: 0, hash: `unreadable:${reason}` };
}

/** Every non-hidden file under `root` (relative, `/`-separated, sorted) and every folder. */
export function walk(root: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    dirs.push(rel);
    // Streamed a few hundred entries at a time: a folder of 100k images never becomes one array.
    let handle: import('node:fs').Dir;
    try {
      handle = opendirSync(rel === '' ? root : join(root, rel), { bufferSize: 256 });
    } catch {
      continue;
    }
    try {
      for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
        if (entry.name.startsWith('.')) continue;
        const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) stack.push(path);
        else if (entry.isFile()) files.push(path);
        else if (entry.isSymbolicLink()) {
          // Linked files count; linked folders are not followed (no cycles, no escaping the root).
          const stats = statSync(join(root, path), { throwIfNoEntry: false });
          if (stats?.isFile()) files.push(path);
        }
      }
    } catch {
      // A folder that vanished or cannot be read mid-walk: keep what was listed.
    } finally {
      handle.closeSync();
    }
  }
  files.sort();
  return { files, dirs: sep === '/' ? dirs : dirs.map((d) => d.replaceAll(sep, '/')) };
}
