import fs from 'node:fs';

/**
 * The file system isomorphic-git reads repositories through, with the two lookups it repeats
 * for every object answered from memory: the list of pack files and whether a loose object
 * exists (and the gitdir's own stat). Without this, each object read costs a failed open and a directory listing, which
 * dominates walking a long history. Listings expire after `ttlMs`, so objects written by
 * another process (a local repository someone commits to) show up within that time; writes
 * through this file system drop the affected listing at once.
 */
export function createObjectFs(ttlMs = 5000): { promises: typeof fs.promises } {
  const listings = new Map<string, { at: number; names: Promise<Set<string>> }>();
  const notFound = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
  const looseObject = /^(.*\/objects\/[0-9a-f]{2})\/([0-9a-f]{38})$/;

  const listing = (dir: string): Promise<Set<string>> => {
    const hit = listings.get(dir);
    if (hit && performance.now() - hit.at < ttlMs) return hit.names;
    const names = fs.promises.readdir(dir).then(
      (entries) => new Set(entries),
      () => new Set<string>(),
    );
    listings.set(dir, { at: performance.now(), names });
    if (listings.size > 1024) listings.delete(listings.keys().next().value as string);
    return names;
  };
  const forget = (path: string) => {
    const slash = String(path).lastIndexOf('/');
    listings.delete(String(path).slice(0, slash));
  };

  const promises = Object.create(fs.promises) as typeof fs.promises;
  promises.readdir = (async (path: fs.PathLike, options?: unknown) => {
    if (typeof path === 'string' && path.endsWith('/objects/pack') && options === undefined) {
      return [...(await listing(path))];
    }
    return fs.promises.readdir(path, options as never);
  }) as typeof fs.promises.readdir;
  promises.readFile = (async (path: fs.PathLike | fs.promises.FileHandle, options?: unknown) => {
    // isomorphic-git probes every fs it is handed with readFile() and no path; answer cheaply.
    if (path === undefined) throw notFound;
    const match = typeof path === 'string' ? looseObject.exec(path) : null;
    if (match && !(await listing(match[1] as string)).has(match[2] as string)) throw notFound;
    return fs.promises.readFile(path, options as never);
  }) as typeof fs.promises.readFile;
  // Each API call stats the gitdir to tell a repository from a worktree link.
  const directories = new Map<string, { at: number; stats: fs.Stats }>();
  promises.stat = (async (path: fs.PathLike, options?: unknown) => {
    const key = String(path);
    const hit = directories.get(key);
    if (hit && performance.now() - hit.at < ttlMs) return hit.stats;
    const stats = await fs.promises.stat(path, options as never);
    if (stats.isDirectory()) {
      if (directories.size > 256) directories.clear();
      directories.set(key, { at: performance.now(), stats: stats as fs.Stats });
    }
    return stats;
  }) as typeof fs.promises.stat;
  for (const name of ['writeFile', 'unlink', 'rename', 'rm', 'rmdir', 'mkdir'] as const) {
    const original = fs.promises[name] as (...args: unknown[]) => Promise<unknown>;
    (promises as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await original.apply(fs.promises, args);
      } finally {
        forget(String(args[0]));
        directories.delete(String(args[0]));
        if (name === 'rename') forget(String(args[1]));
      }
    };
  }
  return { promises };
}
