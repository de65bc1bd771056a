// mcp-git read tools on a generated repository with 10,000 commits and 5,000 files: a log page,
// a path-filtered log page, showing a file and a whole-tree grep, each against the `git` CLI
// doing the same work in the same run. Tool calls go through the real MCP protocol (in-memory
// transport) into the built server; the CLI times include its process start, as a person's
// `git` call would.
//
// The repository is generated once with `git fast-import` and cached under
// $NIGHTSHIFT_CACHE/bench/git-<version>; `pnpm --filter @nightshift/mcp-git build` must have run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';

const version = 'v1-10000c-5000f';
const commits = 10_000;
const files = 5_000;
const runs = Number(process.env.BENCH_RUNS ?? 15);
const root = new URL('..', import.meta.url).pathname;
const cache =
  process.env.NIGHTSHIFT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nightshift');

/** Path of file `i`: 100 directories of 50 YAML configs. */
const fileName = (i) =>
  `models/m${String(Math.floor(i / 50)).padStart(3, '0')}/cfg_${String(i % 50).padStart(2, '0')}.yaml`;

function config(i, revision) {
  const needle = i === 4242 ? '\n# needle_4242: the grep target' : '';
  return `# model ${i}, revision ${revision}
model:
  arch: det-${i % 7}
  head_size: ${320 + (i % 4) * 160}
data:
  dataset: set-${i % 13}
  version: v${revision % 5}
train:
  image_size: ${320 + (i % 4) * 160}
  batch: ${8 + (revision % 4) * 8}
  epochs: ${10 + (i % 30)}
  lr: 0.0${1 + (revision % 9)}
  seed: ${revision}${needle}
`;
}

/** Generates the repository with one fast-import stream: an initial tree, then one change per commit. */
async function generate(dir) {
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir]);
  const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`git fast-import exited ${code}`)),
    );
  });
  let buffer = '';
  const flush = async (force = false) => {
    if (buffer.length < 1 << 20 && !force) return;
    if (!child.stdin.write(buffer)) await new Promise((r) => child.stdin.once('drain', r));
    buffer = '';
  };
  const data = (text) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const start = 1_700_000_000;
  for (let c = 0; c < commits; c++) {
    const who = `Person ${c % 11} <p${c % 11}@example.com> ${start + c * 600} +0000`;
    buffer += `commit refs/heads/main\nmark :${c + 1}\nauthor ${who}\ncommitter ${who}\n`;
    buffer += data(c === 0 ? 'Initial configs' : `Tune model ${(c * 7) % files} (change ${c})`);
    if (c > 0) buffer += `from :${c}\n`;
    if (c === 0) {
      for (let i = 0; i < files; i++) buffer += `M 100644 inline ${fileName(i)}\n${data(config(i, 0))}`;
    } else {
      const i = (c * 7) % files;
      buffer += `M 100644 inline ${fileName(i)}\n${data(config(i, c))}`;
    }
    await flush();
  }
  await flush(true);
  child.stdin.end();
  await done;
}

async function ensureRepo() {
  const dir = join(cache, 'bench', `git-${version}`, 'repo.git');
  if (existsSync(join(dir, 'refs', 'heads', 'main')) || existsSync(join(dir, 'packed-refs'))) return dir;
  mkdirSync(join(cache, 'bench'), { recursive: true });
  const temp = mkdtempSync(join(cache, 'bench', 'git-gen-'));
  const started = performance.now();
  await generate(join(temp, 'repo.git'));
  mkdirSync(join(cache, 'bench', `git-${version}`), { recursive: true });
  renameSync(join(temp, 'repo.git'), dir);
  rmSync(temp, { recursive: true, force: true });
  process.stderr.write(
    `[bench] generated ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return dir;
}

function timeGit(args) {
  const start = performance.now();
  execFileSync('git', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  return performance.now() - start;
}

export async function run() {
  const dist = join(root, 'packages', 'mcp-git', 'dist', 'index.js');
  if (!existsSync(dist)) throw new Error('build mcp-git first: pnpm --filter @nightshift/mcp-git build');
  const repoDir = await ensureRepo();
  const { createGitDeps, createServer } = await import(dist);
  const { createLogger } = await import(join(root, 'packages', 'mcp-kit', 'dist', 'index.js'));
  const { connectInMemory } = await import(join(root, 'packages', 'mcp-kit', 'dist', 'testing.js'));
  const scratch = mkdtempSync(join(tmpdir(), 'nightshift-bench-git-'));
  const logger = createLogger('bench', { level: 'error' });
  // A fresh server: its own pack index, object cache and path memo.
  const startServer = async () => {
    const deps = await createGitDeps(
      { NIGHTSHIFT_GIT_CACHE_DIR: scratch, NIGHTSHIFT_GIT_TIMEOUT_MS: 60_000 },
      logger,
      {
        repos: [
          {
            name: 'bench',
            path: repoDir,
            default_branch: 'main',
            push_branches: [],
            author: { name: 'b', email: 'b@example.com' },
            username: 'x',
          },
        ],
      },
    );
    return connectInMemory(createServer(deps, { logger }));
  };
  let connected = await startServer();
  const call = async (name, args) => {
    const result = await connected.client.callTool({ name, arguments: { repo: 'bench', ...args } });
    if (result.isError) throw new Error(`${name}: ${result.content?.[0]?.text}`);
    return result.structuredContent;
  };
  const gitDir = ['--git-dir', repoDir];
  const target = join('models', 'm084', 'cfg_42.yaml');
  const cases = [
    {
      name: 'log page (50 commits)',
      tool: () => call('git_log', { limit: 50 }),
      cli: ['log', '-n', '50', '--format=%H%x00%an%x00%ae%x00%aI%x00%B', 'main'],
      check: (r) => r.commits.length === 50,
      target: '≤ 5× git',
    },
    {
      // A file changes every 5,000 commits here, so this walks the whole history.
      name: 'log of one file (whole history)',
      tool: () => call('git_log', { limit: 20, path: target }),
      cli: ['log', '-n', '20', '--format=%H%x00%an%x00%ae%x00%aI%x00%B', 'main', '--', target],
      // Counts what one call covers within the tool's time budget (it returns a cursor when
      // the budget runs out); the CLI walks the whole history.
      check: (r) => r.commits.length >= 1 || r.nextCursor !== undefined,
      target: 'informational',
      runs: Math.min(runs, 3),
    },
    {
      name: 'show file',
      tool: () => call('git_show_file', { path: target }),
      cli: ['show', `main:${target}`],
      check: (r) => r.content.startsWith('# model 4242') && r.totalLines > 10,
      target: '≤ 5× git',
    },
    {
      name: `grep, whole tree (${files} files)`,
      tool: () => call('git_grep', { pattern: 'needle_4242' }),
      cli: ['grep', '-n', 'needle_4242', 'main'],
      check: (r) => r.hits.length === 1,
      target: '≤ 10× git',
      runs: Math.min(runs, 7),
    },
  ];
  const rows = [];
  try {
    for (const c of cases) {
      const n = c.runs ?? runs;
      // Cold: a fresh server that has loaded the pack index (one small call) but has no object
      // cache yet, as after a restart. Then warm: the same call repeated on a running server.
      const cold = [];
      for (let i = 0; i < Math.min(n, 3); i++) {
        await connected.close();
        connected = await startServer();
        await call('git_log', { limit: 1 });
        const start = performance.now();
        const first = await c.tool();
        cold.push(performance.now() - start);
        if (!c.check(first))
          throw new Error(`${c.name}: unexpected result ${JSON.stringify(first).slice(0, 200)}`);
      }
      timeGit([...gitDir, ...c.cli]);
      const tool = [];
      const cli = [];
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        await c.tool();
        tool.push(performance.now() - start);
        cli.push(timeGit([...gitDir, ...c.cli]));
      }
      const value = median(tool);
      const baseline = median(cli);
      rows.push({
        bench: 'mcp-git on 10k commits / 5k files (median)',
        case: `${c.name}, first call`,
        value: median(cold),
        unit: 'ms',
        baseline,
        baselineName: `git ${c.cli[0]}`,
        ratio: median(cold) / baseline,
        target: c.target,
      });
      rows.push({
        bench: 'mcp-git on 10k commits / 5k files (median)',
        case: `${c.name}, repeated`,
        value,
        unit: 'ms',
        baseline,
        baselineName: `git ${c.cli[0]}`,
        ratio: value / baseline,
        target: c.target,
      });
    }
  } finally {
    await connected.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}
