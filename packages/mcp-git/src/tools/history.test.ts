import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCursor } from '@nightshift/mcp-kit';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceRemote, git, seedFiles } from '../../test/helpers/git-http-server.ts';
import { type Harness, startHarness } from '../../test/helpers/harness.ts';
import { historyTools } from './history.ts';

describe('history tools contract', () => {
  it('matches the reviewed snapshot', async () => {
    await expect(JSON.stringify(toolContract(historyTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/history.contract.json',
    );
  });
});

describe('git_log and git_diff against a real smart-HTTP server', () => {
  let h: Harness;
  const heads: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
    heads.push(git(['--git-dir', h.server.bareDir('configs'), 'rev-parse', 'main']).trim());
    for (let i = 1; i <= 5; i++) {
      const path = i % 2 ? 'notes.txt' : 'configs/weld.yaml';
      const content =
        i % 2
          ? `note ${i}\n`
          : (seedFiles['configs/weld.yaml'] as string).replace('batch: 16', `batch: ${16 + i}`);
      heads.push(advanceRemote(h.server, 'configs', path, content, `Change ${i}\n\nBody of change ${i}.`));
    }
    await h.call('git_fetch', { repo: 'configs' });
  });
  afterAll(() => h.close());

  it('git_log pages newest first with a cursor, matching git log', async () => {
    const first = await h.call('git_log', { repo: 'configs', limit: 4 });
    expect(first.isError).toBe(false);
    const page1 = first.structured.commits as Array<{
      oid: string;
      subject: string;
      body: string;
      author: string;
    }>;
    expect(page1.map((c) => c.subject)).toEqual(['Change 5', 'Change 4', 'Change 3', 'Change 2']);
    expect(page1[0]).toMatchObject({ body: 'Body of change 5.', author: 'Test Person' });
    const second = await h.call('git_log', {
      repo: 'configs',
      limit: 4,
      cursor: first.structured.nextCursor,
    });
    const page2 = second.structured.commits as Array<{ oid: string }>;
    expect(second.structured.nextCursor).toBeUndefined();
    const cli = git(['--git-dir', h.server.bareDir('configs'), 'log', '--format=%H', 'main'])
      .trim()
      .split('\n');
    expect([...page1, ...page2].map((c) => c.oid)).toEqual(cli);
  });

  it('git_log filters by path', async () => {
    const result = await h.call('git_log', { repo: 'configs', path: 'configs/weld.yaml', limit: 10 });
    expect((result.structured.commits as Array<{ subject: string }>).map((c) => c.subject)).toEqual([
      'Change 4',
      'Change 2',
      'Initial configs',
    ]);
  });

  it('git_log rejects a cursor for another path and an unknown ref', async () => {
    const first = await h.call('git_log', { repo: 'configs', limit: 1 });
    const mixed = await h.call('git_log', {
      repo: 'configs',
      path: 'notes.txt',
      cursor: first.structured.nextCursor,
    });
    expect(mixed.isError).toBe(true);
    expect(mixed.text).toMatch(/cursor belongs to a different repo or path/);
    const unknown = await h.call('git_log', { repo: 'configs', ref: 'nope' });
    expect(unknown.text).toMatch(/^ref "nope" in repo "configs" not found; known: main/);
    const bad = await h.call('git_log', { repo: 'configs', ref: '--output=/tmp/x' });
    expect(bad.text).toMatch(/not a valid branch, tag or commit id/);
  });

  it('a path search that runs out of time returns a cursor that continues where it stopped', async () => {
    const repo = h.deps.repos.repo('configs');
    const head = await h.deps.repos.resolveCommit(repo);
    const stopped = await h.deps.repos.log(repo, [head], 10, 'configs/weld.yaml', 0);
    expect(stopped).toMatchObject({ commits: [], scanned: 0, stoppedEarly: true, frontier: [head] });
    const cursor = encodeCursor({ repo: 'configs', from: stopped.frontier, path: 'configs/weld.yaml' });
    const resumed = await h.call('git_log', { repo: 'configs', path: 'configs/weld.yaml', cursor });
    expect((resumed.structured.commits as Array<{ subject: string }>).map((c) => c.subject)).toEqual([
      'Change 4',
      'Change 2',
      'Initial configs',
    ]);
  });

  it('git_diff of one commit and between refs, like git diff', async () => {
    const one = await h.call('git_diff', { repo: 'configs', commit: heads[2] });
    expect(one.isError).toBe(false);
    expect(one.structured.files).toEqual([
      { path: 'configs/weld.yaml', status: 'modified', additions: 1, deletions: 1, inPatch: true },
    ]);
    expect(one.structured.patch).toContain('-  batch: 16\n+  batch: 18\n');
    const range = await h.call('git_diff', { repo: 'configs', from: heads[0], to: 'main' });
    expect(
      (range.structured.files as Array<{ path: string; status: string }>).map((f) => `${f.status} ${f.path}`),
    ).toEqual(['modified configs/weld.yaml', 'added notes.txt']);
    const cliStat = git([
      '--git-dir',
      h.server.bareDir('configs'),
      'diff',
      '--numstat',
      heads[0] as string,
      'main',
    ]).trim();
    expect(cliStat).toBe('1\t1\tconfigs/weld.yaml\n1\t0\tnotes.txt');
    expect(range.structured.files).toMatchObject([
      { additions: 1, deletions: 1 },
      { additions: 1, deletions: 0 },
    ]);
    const filtered = await h.call('git_diff', { repo: 'configs', from: 'main~5', glob: '**/*.txt' });
    expect((filtered.structured.files as Array<{ path: string }>).map((f) => f.path)).toEqual(['notes.txt']);
  });

  it('git_diff caps the patch and lists what it left out', async () => {
    git(['--git-dir', h.server.bareDir('configs'), 'branch', 'big', 'main']);
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n');
    advanceRemote(h.server, 'configs', 'a-big.txt', `${lines}\n`, 'Big file', 'big');
    await h.call('git_fetch', { repo: 'configs' });
    const capped = await h.call('git_diff', { repo: 'configs', from: 'main', to: 'big', maxBytes: 1024 });
    expect(capped.structured.files).toEqual([
      { path: 'a-big.txt', status: 'added', additions: 200, deletions: 0, inPatch: false },
    ]);
    expect(capped.structured.truncated).toBe(true);
    expect(Buffer.byteLength(capped.structured.patch as string)).toBeLessThanOrEqual(1024);
    expect(capped.text).toMatch(/patch capped at 1024 bytes; not shown: .*Narrow with glob/);
  });

  it('git_diff needs commit or from', async () => {
    const none = await h.call('git_diff', { repo: 'configs' });
    expect(none.isError).toBe(true);
    expect(none.text).toBe('Give commit (one commit against its parent) or from (and optionally to).');
  });
  it('git_log pages through merges without losing or repeating commits', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ns-git-merge-'));
    try {
      git(['clone', '-q', h.server.bareDir('configs'), work]);
      git(['checkout', '-q', '-b', 'side'], work);
      writeFileSync(join(work, 'side.txt'), 'side\n');
      git(['add', '-A'], work);
      git(['commit', '-q', '-m', 'Side work'], work);
      git(['checkout', '-q', 'main'], work);
      writeFileSync(join(work, 'main.txt'), 'main\n');
      git(['add', '-A'], work);
      git(['commit', '-q', '-m', 'Main work'], work);
      git(['merge', '-q', '--no-ff', '-m', 'Merge side', 'side'], work);
      git(['push', '-q', 'origin', 'main'], work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    await h.call('git_fetch', { repo: 'configs' });
    const seen: string[] = [];
    let cursor: unknown;
    for (let page = 0; page < 10; page++) {
      const result = await h.call('git_log', { repo: 'configs', limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...(result.structured.commits as Array<{ oid: string }>).map((c) => c.oid));
      cursor = result.structured.nextCursor;
      if (!cursor) break;
    }
    const cli = git(['--git-dir', h.server.bareDir('configs'), 'log', '--format=%H', 'main'])
      .trim()
      .split('\n');
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...cli].sort());
    expect(seen[0]).toBe(cli[0]);
  });
});
