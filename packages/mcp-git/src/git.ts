import { existsSync, promises as fsp } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, notFound, ToolError, timeoutSignal } from '@nightshift/mcp-kit';
import type { HttpClient, ReadCommitResult } from 'isomorphic-git';
import { createObjectFs } from './object-fs.ts';
import { symlinkTarget } from './paths.ts';
import type { RepoConfig } from './repos-file.ts';

/**
 * The only module that talks to git: isomorphic-git over the local object store and, for
 * remote repositories, smart HTTP. Everything is read from git objects at a commit, never
 * from a working tree, so a path can only name something inside the repository's tree.
 * The push token is read from the environment inside the `onAuth` callback and nowhere else.
 */
type Git = typeof import('isomorphic-git').default;

const modeSymlink = '120000';

export interface TreeFile {
  path: string;
  oid: string;
  /** `blob`, `executable` or `symlink` (submodules are skipped). */
  kind: 'blob' | 'executable' | 'symlink';
}

export interface ResolvedFile {
  commit: string;
  /** The path asked for and, when it went through in-repo symlinks, the path actually read. */
  path: string;
  resolvedPath: string;
  oid: string;
  mode: string;
  bytes: Uint8Array;
}

export interface Change {
  path: string;
  status: 'added' | 'deleted' | 'modified';
  oldOid?: string;
  newOid?: string;
}

export interface CommitSummary {
  oid: string;
  parents: string[];
  author: string;
  email: string;
  date: string;
  subject: string;
  body: string;
}

export interface GitReposOptions {
  repos: RepoConfig[];
  cacheDir: string;
  timeoutMs: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Shown by list_repos when no repos file is configured. */
  reposFile?: string | undefined;
}

export interface CommitRequest {
  repo: string;
  branch: string;
  baseCommit: string;
  path: string;
  oldBlob: string;
  newContent: string;
  message: string;
  signal?: AbortSignal;
}

export interface CommitOutcome {
  commit: string;
  ref: string;
  pushed: boolean;
}

/** Repository access for the tools; one instance per server process. */
export class GitRepos {
  readonly repos: RepoConfig[];
  readonly cacheDir: string;
  readonly reposFile: string | undefined;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private gitModule: Promise<Git> | undefined;
  /** isomorphic-git's object cache (pack indexes), shared by every call. */
  private readonly cache = {};
  /** isomorphic-git's view of the disk (see object-fs.ts). */
  private readonly fs = createObjectFs();
  private readonly clones = new Map<string, Promise<void>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** `treeOid:path` → object id; trees are immutable, so this never goes stale. */
  private readonly pathMemo = new Map<string, string | undefined>();
  private readonly tunedPacks = new WeakSet<object>();
  private readonly packsByGitdir = new Map<string, PackIndex[]>();

  constructor(options: GitReposOptions) {
    this.repos = options.repos;
    this.cacheDir = options.cacheDir;
    this.reposFile = options.reposFile;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    this.env = options.env ?? process.env;
  }

  /** isomorphic-git is large; it loads on the first call that needs it, not at start-up. */
  private git(): Promise<Git> {
    this.gitModule ??= import('isomorphic-git').then((m) => m.default);
    return this.gitModule;
  }

  repo(name: string): RepoConfig {
    const repo = this.repos.find((r) => r.name === name);
    if (!repo) {
      if (this.repos.length === 0) throw notConfigured();
      throw notFound(
        `repo "${name}"`,
        this.repos.map((r) => r.name),
        'List them with git_list_repos.',
      );
    }
    return repo;
  }

  gitdir(repo: RepoConfig): string {
    if (repo.path) {
      return existsSync(join(repo.path, '.git')) ? join(repo.path, '.git') : repo.path;
    }
    return join(this.cacheDir, 'repos', repo.name, '.git');
  }

  /** Whether the repo's token variable is set (the value itself never leaves this module). */
  tokenSet(repo: RepoConfig): boolean {
    return Boolean(repo.token_env && this.env[repo.token_env]);
  }

  isRemote(repo: RepoConfig): boolean {
    return repo.url !== undefined;
  }

  /** Whether `branch` is on the repo's push list (exact names or globs). */
  async branchAllowed(repo: RepoConfig, branch: string): Promise<boolean> {
    if (repo.push_branches.includes(branch)) return true;
    const { default: picomatch } = await import('picomatch');
    return repo.push_branches.some((pattern) => picomatch.isMatch(branch, pattern, { dot: true }));
  }

  /** Runs `work` while holding the repo's lock: clone, fetch and commit never interleave. */
  private async exclusive<T>(repo: RepoConfig, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(repo.name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.locks.set(repo.name, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(repo.name) === next) this.locks.delete(repo.name);
    }
  }

  /** Makes sure a remote repo has a local clone; a local repo must exist. */
  async ensureReady(repo: RepoConfig, signal?: AbortSignal): Promise<void> {
    const gitdir = this.gitdir(repo);
    if (!this.isRemote(repo)) {
      if (!existsSync(join(gitdir, 'HEAD'))) {
        throw new ToolError(
          'unavailable',
          `repo "${repo.name}": ${repo.path} is not a git repository; fix its path in the repos file.`,
        );
      }
      return;
    }
    if (existsSync(join(gitdir, 'HEAD')) && existsSync(join(gitdir, '.nightshift-cloned'))) return;
    let pending = this.clones.get(repo.name);
    if (!pending) {
      pending = this.exclusive(repo, () => this.clone(repo, signal)).finally(() =>
        this.clones.delete(repo.name),
      );
      this.clones.set(repo.name, pending);
    }
    await pending;
  }

  private async clone(repo: RepoConfig, signal?: AbortSignal): Promise<void> {
    const gitdir = this.gitdir(repo);
    if (existsSync(join(gitdir, '.nightshift-cloned'))) return;
    const dir = join(this.cacheDir, 'repos', repo.name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const git = await this.git();
    this.logger.info(`cloning ${repo.name}`, { url: repo.url });
    try {
      await this.remoteCall(repo, 'clone', signal, (http, auth) =>
        git.clone({
          fs: this.fs,
          http,
          dir,
          gitdir,
          url: repo.url as string,
          noCheckout: true,
          ref: repo.default_branch,
          singleBranch: false,
          cache: this.cache,
          ...auth,
        }),
      );
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    await fsp.writeFile(join(gitdir, '.nightshift-cloned'), new Date().toISOString());
  }

  /** Refreshes a remote repo's cache (clones on first use); returns each branch's head before and after. */
  async fetch(
    repo: RepoConfig,
    signal?: AbortSignal,
  ): Promise<{ branches: Array<{ branch: string; before?: string; after: string }>; cloned: boolean }> {
    const gitdir = this.gitdir(repo);
    const cloned = this.isRemote(repo) && !existsSync(join(gitdir, '.nightshift-cloned'));
    await this.ensureReady(repo, signal);
    const before = await this.branchHeads(repo);
    if (this.isRemote(repo) && !cloned) {
      const git = await this.git();
      await this.exclusive(repo, () =>
        this.remoteCall(repo, 'fetch', signal, (http, auth) =>
          git.fetch({
            fs: this.fs,
            http,
            gitdir,
            remote: 'origin',
            tags: true,
            prune: true,
            singleBranch: false,
            cache: this.cache,
            ...auth,
          }),
        ),
      );
    }
    const after = await this.branchHeads(repo);
    return {
      cloned,
      branches: [...after.entries()].map(([branch, oid]) => ({
        branch,
        ...(before.get(branch) && !cloned ? { before: before.get(branch) } : {}),
        after: oid,
      })),
    };
  }

  /** Branch name → head commit, from the remote-tracking refs of a clone or a local repo's heads. */
  async branchHeads(repo: RepoConfig): Promise<Map<string, string>> {
    const git = await this.git();
    const gitdir = this.gitdir(repo);
    const remote = this.isRemote(repo) ? 'origin' : undefined;
    const names = await git.listBranches({ fs: this.fs, gitdir, ...(remote ? { remote } : {}) });
    const heads = new Map<string, string>();
    for (const name of names.sort()) {
      if (name === 'HEAD') continue;
      const ref = remote ? `refs/remotes/origin/${name}` : `refs/heads/${name}`;
      heads.set(name, await git.resolveRef({ fs: this.fs, gitdir, ref }));
    }
    return heads;
  }

  /**
   * Resolves a branch, tag, commit id (full or abbreviated) or any of those followed by
   * `~N` / `^` to a commit id. No ref means the default branch.
   */
  async resolveCommit(repo: RepoConfig, ref?: string): Promise<string> {
    await this.ensureReady(repo);
    const git = await this.git();
    const gitdir = this.gitdir(repo);
    const spec = ref ?? repo.default_branch;
    const match = /^(.*?)((?:~\d*|\^)*)$/.exec(spec);
    const base = match?.[1] ?? spec;
    const suffix = match?.[2] ?? '';
    if (!/^[A-Za-z0-9._/-]+$/.test(base) || base.includes('..') || base.startsWith('-')) {
      throw new ToolError('invalid_input', `ref "${spec}" is not a valid branch, tag or commit id.`);
    }
    let oid: string | undefined;
    const candidates = this.isRemote(repo)
      ? [`refs/remotes/origin/${base}`, `refs/tags/${base}`, `refs/heads/${base}`]
      : [`refs/heads/${base}`, `refs/tags/${base}`, `refs/remotes/${base}`];
    for (const candidate of candidates) {
      oid = await git.resolveRef({ fs: this.fs, gitdir, ref: candidate }).catch(() => undefined);
      if (oid) break;
    }
    if (!oid && /^[0-9a-f]{4,40}$/i.test(base)) {
      oid = await git
        .expandOid({ fs: this.fs, gitdir, oid: base.toLowerCase(), cache: this.cache })
        .catch(() => undefined);
    }
    if (!oid && base === 'HEAD') oid = await this.resolveCommit(repo);
    if (!oid) {
      const branches = [...(await this.branchHeads(repo)).keys()];
      throw notFound(
        `ref "${base}" in repo "${repo.name}"`,
        branches,
        'Pass a branch, a tag or a commit id; git_fetch refreshes the cache.',
      );
    }
    oid = await this.peelToCommit(repo, oid, spec);
    for (const step of suffix.match(/~\d*|\^/g) ?? []) {
      const count = step === '^' || step === '~' ? 1 : Number(step.slice(1));
      for (let i = 0; i < count; i++) {
        const { commit } = await this.readCommit(repo, oid);
        const parent = commit.parent[0];
        if (!parent)
          throw new ToolError('not_found', `ref "${spec}" goes past the first commit of "${repo.name}".`);
        oid = parent;
      }
    }
    return oid;
  }

  private async peelToCommit(repo: RepoConfig, oid: string, spec: string): Promise<string> {
    const git = await this.git();
    const gitdir = this.gitdir(repo);
    let current = oid;
    for (let depth = 0; depth < 5; depth++) {
      const object = await git.readObject({
        fs: this.fs,
        gitdir,
        oid: current,
        cache: this.cache,
        format: 'parsed',
      });
      if (object.type === 'commit') return current;
      if (object.type !== 'tag') break;
      current = (object.object as { object: string }).object;
    }
    throw new ToolError('invalid_input', `ref "${spec}" does not name a commit.`);
  }

  async treeOf(repo: RepoConfig, commit: string): Promise<string> {
    return (await this.readCommit(repo, commit)).commit.tree;
  }

  private async readCommit(repo: RepoConfig, oid: string): Promise<ReadCommitResult> {
    const packed = await this.readPacked(repo, oid);
    if (packed?.type === 'commit') {
      const parsed = parseCommit(oid, packed.object);
      if (parsed) return parsed;
    }
    const git = await this.git();
    const result = await git.readCommit({ fs: this.fs, gitdir: this.gitdir(repo), oid, cache: this.cache });
    await this.tunePacks();
    return result;
  }

  private async readTree(repo: RepoConfig, oid: string): Promise<TreeEntry[]> {
    const packed = await this.readPacked(repo, oid);
    if (packed?.type === 'tree') return parseTree(packed.object);
    const git = await this.git();
    const { tree } = await git.readTree({ fs: this.fs, gitdir: this.gitdir(repo), oid, cache: this.cache });
    await this.tunePacks();
    return tree;
  }

  /**
   * Reads an object straight from an already loaded pack of this repository, skipping the
   * per-call set-up of isomorphic-git's API (file system wrapper, gitdir discovery, loose
   * object probe) that dominates reading thousands of small objects. Undefined when the
   * object is not in a loaded pack; callers then use the API.
   */
  private async readPacked(
    repo: RepoConfig,
    oid: string,
  ): Promise<{ type: string; object: Buffer } | undefined> {
    for (const pack of this.packsByGitdir.get(this.gitdir(repo)) ?? []) {
      if (pack.offsets.has(oid)) {
        const { type, object } = await pack.read({ oid });
        return { type, object };
      }
    }
    return undefined;
  }

  /**
   * Gives every loaded pack a bounded cache of resolved objects. isomorphic-git's own cache
   * never engages (its depth counter starts undefined), so each read re-inflates the whole
   * delta chain, about 25 objects per read in a long history; git keeps a delta-base cache
   * for the same reason. Reaches the packs through the documented `cache` object.
   */
  private async tunePacks(): Promise<void> {
    for (const symbol of Object.getOwnPropertySymbols(this.cache)) {
      const packs = (this.cache as Record<symbol, unknown>)[symbol];
      if (!(packs instanceof Map)) continue;
      for (const [file, pending] of packs as Map<string, unknown>) {
        const pack = (await pending) as PackIndex | undefined;
        if (!pack || typeof pack.readSlice !== 'function' || this.tunedPacks.has(pack)) continue;
        if (!(pack.offsets instanceof Map) || typeof pack.read !== 'function') continue;
        this.tunedPacks.add(pack);
        pack.readSlice = objectCache(pack.readSlice.bind(pack), 32 * 1024 * 1024);
        const gitdir = String(file).replace(/\/objects\/pack\/[^/]+$/, '');
        this.packsByGitdir.set(gitdir, [...(this.packsByGitdir.get(gitdir) ?? []), pack]);
      }
    }
  }

  /**
   * Finds `path` in the commit's tree, following symlinks only while they stay inside the
   * repository: a link that points outside (absolute, or climbing above the root) is refused.
   */
  async resolvePath(
    repo: RepoConfig,
    commit: string,
    path: string,
  ): Promise<{ oid: string; mode: string; type: 'blob' | 'tree'; resolvedPath: string }> {
    let segments = path.split('/');
    let hops = 0;
    restart: for (;;) {
      let treeOid = await this.treeOf(repo, commit);
      for (let i = 0; i < segments.length; i++) {
        const name = segments[i] as string;
        const entry = (await this.readTree(repo, treeOid)).find((e) => e.path === name);
        const here = segments.slice(0, i + 1).join('/');
        if (!entry) {
          const known = (await this.readTree(repo, treeOid)).map((e) => e.path);
          const parent = segments.slice(0, i).join('/') || '(root)';
          throw notFound(
            `${here} at ${commit.slice(0, 12)}`,
            known.map((k) => (parent === '(root)' ? k : `${parent}/${k}`)),
            'List files with git_list_files.',
          );
        }
        if (entry.mode === modeSymlink) {
          const blob = await this.readBlob(repo, entry.oid);
          const target = symlinkTarget(here, Buffer.from(blob).toString('utf8'));
          if (target === undefined) {
            throw new ToolError(
              'permission_denied',
              `${here} is a symlink that points outside the repository; it is not followed.`,
            );
          }
          if (++hops > 8) throw new ToolError('invalid_input', `${path}: too many levels of symlinks.`);
          segments = [...target.split('/'), ...segments.slice(i + 1)];
          continue restart;
        }
        const last = i === segments.length - 1;
        if (last) {
          return {
            oid: entry.oid,
            mode: entry.mode,
            type: entry.type === 'tree' ? 'tree' : 'blob',
            resolvedPath: segments.join('/'),
          };
        }
        if (entry.type !== 'tree') throw new ToolError('not_found', `${here} is a file, not a directory.`);
        treeOid = entry.oid;
      }
      throw new ToolError('invalid_input', `${path} names no file.`);
    }
  }

  /** Reads a file's bytes at a commit. */
  async readFile(repo: RepoConfig, commit: string, path: string): Promise<ResolvedFile> {
    const found = await this.resolvePath(repo, commit, path);
    if (found.type === 'tree') {
      throw new ToolError(
        'invalid_input',
        `${path} is a directory; list it with git_list_files (dir: "${path}").`,
      );
    }
    if (found.mode === '160000') throw new ToolError('invalid_input', `${path} is a submodule, not a file.`);
    const git = await this.git();
    const { blob } = await git.readBlob({
      fs: this.fs,
      gitdir: this.gitdir(repo),
      oid: found.oid,
      cache: this.cache,
    });
    return { commit, path, resolvedPath: found.resolvedPath, oid: found.oid, mode: found.mode, bytes: blob };
  }

  /** Every file under `dir` at a commit, in path order (submodules skipped). */
  async listFiles(repo: RepoConfig, commit: string, dir = ''): Promise<TreeFile[]> {
    let rootOid = await this.treeOf(repo, commit);
    if (dir) {
      const found = await this.resolvePath(repo, commit, dir);
      if (found.type !== 'tree')
        throw new ToolError(
          'invalid_input',
          `${dir} is a file, not a directory; read it with git_show_file.`,
        );
      rootOid = found.oid;
      dir = found.resolvedPath;
    }
    const files: TreeFile[] = [];
    const visit = async (oid: string, prefix: string) => {
      for (const entry of await this.readTree(repo, oid)) {
        const path = prefix ? `${prefix}/${entry.path}` : entry.path;
        if (entry.type === 'tree') await visit(entry.oid, path);
        else if (entry.type === 'blob') {
          const kind =
            entry.mode === modeSymlink ? 'symlink' : entry.mode === '100755' ? 'executable' : 'blob';
          files.push({ path, oid: entry.oid, kind });
        }
      }
    };
    await visit(rootOid, dir);
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async readBlob(repo: RepoConfig, oid: string): Promise<Uint8Array> {
    const packed = await this.readPacked(repo, oid);
    if (packed?.type === 'blob') return packed.object;
    const git = await this.git();
    const { blob } = await git.readBlob({ fs: this.fs, gitdir: this.gitdir(repo), oid, cache: this.cache });
    await this.tunePacks();
    return blob;
  }

  /** Up to `limit` commits starting at `start` (inclusive), optionally only those touching `path`. */
  /**
   * Walks history newest first (by committer date, as `git log` does) from `starts`, returning
   * up to `limit` commits, only those that changed `path` when given (a merge counts when the
   * path differs from every parent). The walk stops early after `budgetMs`, so a path that
   * rarely changes in a long history cannot hold a tool call hostage; `frontier` then holds
   * the commits to continue from.
   */
  async log(
    repo: RepoConfig,
    starts: string[],
    limit: number,
    path?: string,
    budgetMs = 10_000,
  ): Promise<{ commits: CommitSummary[]; frontier: string[]; scanned: number; stoppedEarly: boolean }> {
    const deadline = performance.now() + budgetMs;
    const read = (oid: string) => this.readCommit(repo, oid);
    const queue: ReadCommitResult[] = await Promise.all(starts.map(read));
    const seen = new Set(starts);
    const commits: CommitSummary[] = [];
    let scanned = 0;
    let stoppedEarly = false;
    while (queue.length > 0 && commits.length < limit) {
      if (path && performance.now() > deadline) {
        stoppedEarly = true;
        break;
      }
      let newest = 0;
      for (let i = 1; i < queue.length; i++) {
        if (
          (queue[i] as ReadCommitResult).commit.committer.timestamp >
          (queue[newest] as ReadCommitResult).commit.committer.timestamp
        )
          newest = i;
      }
      const entry = queue.splice(newest, 1)[0] as ReadCommitResult;
      scanned++;
      const parents = await Promise.all(entry.commit.parent.map(read));
      if (!path || (await this.touches(repo, entry, parents, path))) commits.push(summarize(entry));
      for (const parent of parents) {
        if (seen.has(parent.oid)) continue;
        seen.add(parent.oid);
        queue.push(parent);
      }
    }
    return { commits, frontier: queue.map((c) => c.oid).slice(0, 50), scanned, stoppedEarly };
  }

  private async touches(
    repo: RepoConfig,
    entry: ReadCommitResult,
    parents: ReadCommitResult[],
    path: string,
  ): Promise<boolean> {
    const mine = await this.blobAt(repo, entry.commit.tree, path);
    if (parents.length === 0) return mine !== undefined;
    for (const parent of parents) {
      if ((await this.blobAt(repo, parent.commit.tree, path)) === mine) return false;
    }
    return true;
  }

  /** The object id at `path` in a tree (no symlink following), memoized by tree id. */
  private async blobAt(repo: RepoConfig, treeOid: string, path: string): Promise<string | undefined> {
    const key = `${treeOid}:${path}`;
    if (this.pathMemo.has(key)) return this.pathMemo.get(key);
    const slash = path.indexOf('/');
    const name = slash === -1 ? path : path.slice(0, slash);
    const entry = (await this.readTree(repo, treeOid)).find((e) => e.path === name);
    let oid: string | undefined;
    if (entry && slash === -1) oid = entry.oid;
    else if (entry?.type === 'tree') oid = await this.blobAt(repo, entry.oid, path.slice(slash + 1));
    if (this.pathMemo.size > 50_000) this.pathMemo.clear();
    this.pathMemo.set(key, oid);
    return oid;
  }

  async commitSummary(repo: RepoConfig, oid: string): Promise<CommitSummary> {
    return summarize(await this.readCommit(repo, oid));
  }

  /** Files that differ between two trees; identical subtrees are skipped without reading them. */
  async changedFiles(repo: RepoConfig, fromTree: string | undefined, toTree: string): Promise<Change[]> {
    const changes: Change[] = [];
    const empty = new Map<string, { oid: string; type: string }>();
    const entriesOf = async (oid: string | undefined) =>
      oid
        ? new Map((await this.readTree(repo, oid)).map((e) => [e.path, { oid: e.oid, type: e.type }]))
        : empty;
    const walk = async (a: string | undefined, b: string | undefined, prefix: string) => {
      if (a === b) return;
      const [left, right] = await Promise.all([entriesOf(a), entriesOf(b)]);
      const names = [...new Set([...left.keys(), ...right.keys()])].sort();
      for (const name of names) {
        const path = prefix ? `${prefix}/${name}` : name;
        const l = left.get(name);
        const r = right.get(name);
        if (l?.oid === r?.oid) continue;
        const lTree = l?.type === 'tree' ? l.oid : undefined;
        const rTree = r?.type === 'tree' ? r.oid : undefined;
        if (lTree || rTree) await walk(lTree, rTree, path);
        const lBlob = l?.type === 'blob' ? l.oid : undefined;
        const rBlob = r?.type === 'blob' ? r.oid : undefined;
        if (lBlob || rBlob) {
          changes.push({
            path,
            status: !lBlob ? 'added' : !rBlob ? 'deleted' : 'modified',
            ...(lBlob ? { oldOid: lBlob } : {}),
            ...(rBlob ? { newOid: rBlob } : {}),
          });
        }
      }
    };
    await walk(fromTree, toTree, '');
    return changes.sort((x, y) => (x.path < y.path ? -1 : 1));
  }

  /** The blob id git would give `content`, without writing anything. */
  async hashBlob(content: string): Promise<string> {
    const git = await this.git();
    return (await git.hashBlob({ object: Buffer.from(content, 'utf8') })).oid;
  }

  /**
   * Commits exactly one file change on top of `baseCommit` and publishes it to `branch`:
   * for a remote repo it fetches first and refuses unless the remote branch head is still
   * `baseCommit` and the file is still `oldBlob`, then pushes fast-forward only (never force);
   * for a local repo it advances the branch under the same checks.
   */
  async commitChange(request: CommitRequest): Promise<CommitOutcome> {
    const repo = this.repo(request.repo);
    if (!(await this.branchAllowed(repo, request.branch))) {
      throw branchRefused(repo, request.branch);
    }
    await this.ensureReady(repo, request.signal);
    const git = await this.git();
    const gitdir = this.gitdir(repo);
    return this.exclusive(repo, async () => {
      if (this.isRemote(repo)) {
        if (repo.token_env && !this.env[repo.token_env]) {
          throw new ToolError(
            'not_configured',
            `repo "${repo.name}": the environment variable ${repo.token_env} (the push token) is not set; set it and restart the server.`,
          );
        }
        await this.remoteCall(repo, 'fetch', request.signal, (http, auth) =>
          git.fetch({
            fs: this.fs,
            http,
            gitdir,
            remote: 'origin',
            ref: request.branch,
            singleBranch: true,
            tags: false,
            cache: this.cache,
            ...auth,
          }),
        );
      }
      const headRef = this.isRemote(repo)
        ? `refs/remotes/origin/${request.branch}`
        : `refs/heads/${request.branch}`;
      const head = await git.resolveRef({ fs: this.fs, gitdir, ref: headRef }).catch(() => undefined);
      if (!head) {
        throw new ToolError(
          'conflict',
          `branch ${request.branch} no longer exists in "${repo.name}"; nothing was written.`,
        );
      }
      if (head !== request.baseCommit) {
        const current = await this.resolvePath(repo, head, request.path).catch(() => undefined);
        const why =
          current?.oid === request.oldBlob
            ? `branch ${request.branch} moved from ${request.baseCommit.slice(0, 12)} to ${head.slice(0, 12)} since the proposal (other files changed)`
            : `${request.path} changed since the proposal (branch ${request.branch} is now at ${head.slice(0, 12)}, the proposal was made at ${request.baseCommit.slice(0, 12)})`;
        throw new ToolError(
          'conflict',
          `conflict: ${why}; nothing was written and the remote is untouched. Read the file again and make a new proposal with git_propose_edit.`,
        );
      }
      const current = await this.resolvePath(repo, head, request.path);
      if (current.oid !== request.oldBlob) {
        throw new ToolError(
          'conflict',
          `conflict: ${request.path} at ${head.slice(0, 12)} is not the version the proposal was made from; nothing was written. Make a new proposal with git_propose_edit.`,
        );
      }
      if (!this.isRemote(repo)) await this.refuseCheckedOut(repo, request.branch);

      const blob = await git.writeBlob({
        fs: this.fs,
        gitdir,
        blob: Buffer.from(request.newContent, 'utf8'),
      });
      const tree = await this.replaceBlob(repo, await this.treeOf(repo, head), request.path.split('/'), blob);
      const now = Math.floor(Date.now() / 1000);
      const offset = new Date().getTimezoneOffset();
      const person = {
        name: repo.author.name,
        email: repo.author.email,
        timestamp: now,
        timezoneOffset: offset,
      };
      const commit = await git.writeCommit({
        fs: this.fs,
        gitdir,
        commit: {
          message: request.message.endsWith('\n') ? request.message : `${request.message}\n`,
          tree,
          parent: [head],
          author: person,
          committer: person,
        },
      });
      const ref = `refs/heads/${request.branch}`;
      if (!this.isRemote(repo)) {
        const again = await git.resolveRef({ fs: this.fs, gitdir, ref });
        if (again !== head)
          throw new ToolError(
            'conflict',
            `conflict: branch ${request.branch} moved while committing; nothing was written.`,
          );
        await git.writeRef({ fs: this.fs, gitdir, ref, value: commit, force: true });
        return { commit, ref, pushed: false };
      }
      // The local branch ref is only the push source; reads use the remote-tracking refs.
      await git.writeRef({ fs: this.fs, gitdir, ref, value: commit, force: true });
      const result = await this.remoteCall(repo, 'push', request.signal, (http, auth) =>
        git.push({
          fs: this.fs,
          http,
          gitdir,
          remote: 'origin',
          ref,
          remoteRef: ref,
          force: false,
          cache: this.cache,
          ...auth,
        }),
      );
      const status = result.refs?.[ref];
      if (!result.ok || (status && !status.ok)) {
        throw new ToolError(
          'conflict',
          `the remote refused the push to ${request.branch} (${safeReason(status?.error ?? result.error)}); nothing was changed on the remote. Fetch, read the file again and make a new proposal.`,
        );
      }
      await git.writeRef({
        fs: this.fs,
        gitdir,
        ref: `refs/remotes/origin/${request.branch}`,
        value: commit,
        force: true,
      });
      return { commit, ref, pushed: true };
    });
  }

  private async replaceBlob(
    repo: RepoConfig,
    treeOid: string,
    segments: string[],
    blob: string,
  ): Promise<string> {
    const git = await this.git();
    const entries = await this.readTree(repo, treeOid);
    const [name, ...rest] = segments;
    const index = entries.findIndex((e) => e.path === name);
    const entry = entries[index];
    if (!entry) throw new ToolError('conflict', `${segments.join('/')} disappeared; nothing was written.`);
    const oid = rest.length === 0 ? blob : await this.replaceBlob(repo, entry.oid, rest, blob);
    const updated = entries.map((e, i) => (i === index ? { ...e, oid } : e));
    return git.writeTree({ fs: this.fs, gitdir: this.gitdir(repo), tree: updated });
  }

  /** A local non-bare repo's checked-out branch is refused: moving it would desync the working tree. */
  private async refuseCheckedOut(repo: RepoConfig, branch: string): Promise<void> {
    const gitdir = this.gitdir(repo);
    if (gitdir === repo.path) return;
    const git = await this.git();
    const current = await git.currentBranch({ fs: this.fs, gitdir, fullname: false }).catch(() => undefined);
    if (current === branch) {
      throw new ToolError(
        'refused',
        `branch ${branch} is checked out in ${repo.name}'s working tree; committing there would leave the working tree stale. Push to a bare repository or another branch.`,
      );
    }
  }

  /**
   * Runs one network operation with a deadline and the repo's credentials. The token is read
   * inside `onAuth` only; failures are rewritten into messages that never carry it.
   */
  private async remoteCall<T>(
    repo: RepoConfig,
    action: 'clone' | 'fetch' | 'push',
    parent: AbortSignal | undefined,
    work: (http: HttpClient, auth: AuthCallbacks) => Promise<T>,
  ): Promise<T> {
    const signal = timeoutSignal(this.timeoutMs, parent);
    let offeredToken = false;
    const auth: AuthCallbacks = {
      onAuth: () => {
        const token = repo.token_env ? this.env[repo.token_env] : undefined;
        if (!token) return { cancel: true };
        offeredToken = true;
        return { username: repo.username, password: token };
      },
      onAuthFailure: () => ({ cancel: true }),
    };
    try {
      return await work(fetchHttpClient(signal), auth);
    } catch (error) {
      if (ToolError.isInstance(error)) throw error;
      throw this.remoteFailure(repo, action, error, signal, offeredToken);
    }
  }

  private remoteFailure(
    repo: RepoConfig,
    action: string,
    error: unknown,
    signal: AbortSignal,
    offeredToken: boolean,
  ): ToolError {
    const code = (error as { code?: string }).code;
    const status = (error as { data?: { statusCode?: number } }).data?.statusCode;
    const where = `${action} of "${repo.name}"`;
    if (signal.aborted)
      return new ToolError(
        'timeout',
        `${where} did not finish within ${this.timeoutMs} ms; try again or raise NIGHTSHIFT_GIT_TIMEOUT_MS.`,
      );
    if (code === 'UserCanceledError' || status === 401 || status === 403) {
      const hint = !repo.token_env
        ? 'the repo has no token_env in the repos file'
        : offeredToken
          ? `the token in ${repo.token_env} was rejected; check it and its permissions`
          : `${repo.token_env} is not set`;
      return new ToolError(
        'permission_denied',
        `${where} was refused by the server (authentication failed: ${hint}); nothing was changed.`,
      );
    }
    if (code === 'PushRejectedError') {
      return new ToolError(
        'conflict',
        `${where} was rejected as not fast-forward (the branch moved); nothing was changed on the remote. Make a new proposal with git_propose_edit.`,
      );
    }
    if (code === 'GitPushError') {
      const reason = safeReason(
        (error as Error).message.replace(/^One or more branches were not updated:\s*/, ''),
      );
      return new ToolError(
        'refused',
        `the remote refused the push of "${repo.name}" (${reason.replace(/\s+/g, ' ').trim()}); nothing was changed on the remote.`,
      );
    }
    if (code === 'HttpError')
      return new ToolError('unavailable', `${where} failed: the server answered HTTP ${status}.`);
    if (code === 'NotFoundError')
      return new ToolError('not_found', `${where} failed: ${safeReason((error as Error).message)}.`);
    this.logger.warn(`${where} failed`, { code, error: safeReason((error as Error).message) });
    return new ToolError(
      'unavailable',
      `${where} failed (${code ?? 'network error'}: ${safeReason((error as Error).message)}).`,
    );
  }
}

type SliceReader = (at: { start: number }) => Promise<{ type: string; format: string; object: Buffer }>;

interface PackIndex {
  readSlice: SliceReader;
  offsets: Map<string, number>;
  read(at: { oid: string }): Promise<{ type: string; object: Buffer }>;
}

interface TreeEntry {
  mode: string;
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

/**
 * Parses a raw commit object into isomorphic-git's shape; undefined when it has a form this
 * parser does not expect (the caller then asks isomorphic-git).
 */
export function parseCommit(oid: string, buffer: Buffer): ReadCommitResult | undefined {
  const text = buffer.toString('utf8');
  const split = text.indexOf('\n\n');
  const head = split === -1 ? text : text.slice(0, split);
  const message = split === -1 ? '' : text.slice(split + 2);
  let tree: string | undefined;
  const parent: string[] = [];
  let author: ReturnType<typeof parsePerson>;
  let committer: ReturnType<typeof parsePerson>;
  for (const line of head.split('\n')) {
    if (line.startsWith(' ')) continue;
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parent.push(value);
    else if (key === 'author') author = parsePerson(value);
    else if (key === 'committer') committer = parsePerson(value);
  }
  if (!tree || !author || !committer) return undefined;
  return { oid, commit: { tree, parent, author, committer, message }, payload: '' };
}

function parsePerson(value: string) {
  const match = /^(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(value);
  if (!match) return undefined;
  const minutes = Number(match[5]) * 60 + Number(match[6]);
  return {
    name: match[1] as string,
    email: match[2] as string,
    timestamp: Number(match[3]),
    // isomorphic-git's convention: minutes west of UTC, like Date#getTimezoneOffset.
    timezoneOffset: match[4] === '-' ? minutes : -minutes,
  };
}

/**
 * Parses a raw tree object (`<mode> <name>\0<20-byte id>` repeated). Entries whose names git
 * itself refuses (".", "..", ".git", anything with "/") are dropped, as isomorphic-git does.
 */
export function parseTree(buffer: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let cursor = 0;
  while (cursor < buffer.length) {
    const space = buffer.indexOf(32, cursor);
    const nul = buffer.indexOf(0, space + 1);
    if (space === -1 || nul === -1 || nul + 21 > buffer.length) throw new Error('malformed tree object');
    let mode = buffer.toString('latin1', cursor, space);
    if (mode === '40000') mode = '040000';
    const path = buffer.toString('utf8', space + 1, nul);
    const oid = buffer.toString('hex', nul + 1, nul + 21);
    cursor = nul + 21;
    if (path === '.' || path === '..' || path.includes('/') || path.toLowerCase() === '.git') continue;
    const type = mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    entries.push({ mode, path, oid, type });
  }
  return entries;
}

/** Wraps a pack's object reader with an LRU of resolved objects, bounded in bytes. */
function objectCache(read: SliceReader, maxBytes: number): SliceReader {
  const entries = new Map<number, { type: string; object: Buffer }>();
  let bytes = 0;
  return async ({ start }) => {
    const hit = entries.get(start);
    if (hit) {
      entries.delete(start);
      entries.set(start, hit);
      return { type: hit.type, format: 'content', object: hit.object };
    }
    const result = await read({ start });
    if (result.object.byteLength <= maxBytes / 16) {
      entries.set(start, { type: result.type, object: result.object });
      bytes += result.object.byteLength;
      for (const [key, entry] of entries) {
        if (bytes <= maxBytes) break;
        entries.delete(key);
        bytes -= entry.object.byteLength;
      }
    }
    return result;
  };
}

interface AuthCallbacks {
  onAuth: () => { username?: string; password?: string; cancel?: boolean };
  onAuthFailure: () => { cancel: boolean };
}

/** Strips URLs (which could carry credentials a server echoed) from a message and bounds it. */
function safeReason(message: string | null | undefined): string {
  return (message ?? 'unknown reason').replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 300);
}

export function branchRefused(repo: RepoConfig, branch: string): ToolError {
  const allowed = repo.push_branches.length > 0 ? repo.push_branches.join(', ') : 'none';
  return new ToolError(
    'refused',
    `branch ${branch} of "${repo.name}" is not on its push list (allowed: ${allowed}); the server will not commit there. Propose against an allowed branch or ask an operator to extend push_branches.`,
  );
}

function summarize(entry: ReadCommitResult): CommitSummary {
  const message = entry.commit.message;
  const newline = message.indexOf('\n');
  const subject = (newline === -1 ? message : message.slice(0, newline)).trim();
  const body = newline === -1 ? '' : message.slice(newline + 1).trim();
  return {
    oid: entry.oid,
    parents: entry.commit.parent,
    author: entry.commit.author.name,
    email: entry.commit.author.email,
    date: new Date(entry.commit.author.timestamp * 1000).toISOString(),
    subject,
    body: body.length > 2000 ? `${body.slice(0, 2000)}…` : body,
  };
}

/** isomorphic-git's HTTP plugin on Node's fetch, so every request carries a deadline. */
function fetchHttpClient(signal: AbortSignal): HttpClient {
  return {
    async request({ url, method = 'GET', headers = {}, body }) {
      let payload: Buffer | undefined;
      if (body) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of body) chunks.push(chunk);
        payload = Buffer.concat(chunks);
      }
      const response = await fetch(url, { method, headers, ...(payload ? { body: payload } : {}), signal });
      const responseBody = response.body;
      return {
        url: response.url,
        method,
        statusCode: response.status,
        statusMessage: response.statusText,
        headers: Object.fromEntries(response.headers.entries()),
        body: (responseBody
          ? (responseBody as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
          : (async function* () {})()) as AsyncIterableIterator<Uint8Array>,
      };
    },
  };
}

/** The answer for any repo tool while no repos file is configured. */
export function notConfigured(): ToolError {
  return new ToolError(
    'not_configured',
    'No repositories are configured. Set NIGHTSHIFT_GIT_REPOS_FILE to a YAML repos file and restart the server; git_list_repos shows the format.',
  );
}
