import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toolContract, toolListProblems } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceRemote } from '../../test/helpers/git-http-server.ts';
import { type Harness, remoteRepo, startHarness } from '../../test/helpers/harness.ts';
import { gitTools } from './index.ts';
import { repoTools } from './repos.ts';

describe('repo tools contract', () => {
  it('matches the reviewed snapshot', async () => {
    await expect(JSON.stringify(toolContract(repoTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/repos.contract.json',
    );
  });
  it('every tool states its hints and describes every input', () => {
    expect(toolListProblems(gitTools)).toEqual([]);
  });
});

describe('git_list_repos and git_fetch against a real smart-HTTP server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ repos: (server) => [remoteRepo(server), remoteRepo(server, 'missing')] });
  });
  afterAll(() => h.close());

  it('lists the configured repos without revealing the token', async () => {
    const result = await h.call('git_list_repos');
    expect(result.isError).toBe(false);
    const repos = result.structured.repos as Array<Record<string, unknown>>;
    expect(repos.map((r) => r.name)).toEqual(['configs', 'missing']);
    expect(repos[0]).toMatchObject({
      source: 'url',
      defaultBranch: 'main',
      pushBranches: ['main', 'configs/*'],
      cached: false,
      pushTokenSet: true,
    });
    expect(result.text).toContain('configs: http://127.0.0.1');
  });

  it('clones on first fetch, then reports a branch that moved', async () => {
    const first = await h.call('git_fetch', { repo: 'configs' });
    expect(first.isError).toBe(false);
    expect(first.structured).toMatchObject({ repo: 'configs', cloned: true });
    const before = (first.structured.branches as Array<{ branch: string; after: string }>).find(
      (b) => b.branch === 'main',
    );
    expect(before?.after).toMatch(/^[0-9a-f]{40}$/);

    const again = await h.call('git_fetch', { repo: 'configs' });
    expect(again.structured).toMatchObject({ cloned: false, branches: [{ branch: 'main', changed: false }] });
    expect(again.text).toMatch(/up to date/);

    const head = advanceRemote(h.server, 'configs', 'notes.txt', 'hello\n', 'Add notes');
    const moved = await h.call('git_fetch', { repo: 'configs' });
    expect(moved.structured.branches).toEqual([
      { branch: 'main', before: before?.after, after: head, changed: true },
    ]);
    expect((await h.call('git_list_repos')).structured.repos).toMatchObject([
      { cached: true },
      { cached: false },
    ]);
  });

  it('names the known repos when asked for an unknown one', async () => {
    const result = await h.call('git_fetch', { repo: 'nope' });
    expect(result.isError).toBe(true);
    expect(result.text).toBe(
      'repo "nope" not found; known: configs, missing. List them with git_list_repos.',
    );
  });

  it('reports a repository the server does not have as a failed clone', async () => {
    const result = await h.call('git_fetch', { repo: 'missing' });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/clone of "missing" failed/);
  });
});

describe('with no repos configured', () => {
  it('git_list_repos says how to configure; other tools say it is not configured', async () => {
    const h = await startHarness({ repos: () => [] });
    try {
      const list = await h.call('git_list_repos');
      expect(list.isError).toBe(false);
      expect(list.structured.configured).toBe(false);
      expect(list.text).toMatch(/NIGHTSHIFT_GIT_REPOS_FILE/);
      expect(list.text).toMatch(/push_branches/);
      const fetch = await h.call('git_fetch', { repo: 'configs' });
      expect(fetch.isError).toBe(true);
      expect(fetch.text).toMatch(/No repositories are configured/);
    } finally {
      await h.close();
    }
  });
});

describe('a git server that never answers', () => {
  it('git_fetch gives up at the deadline with a timeout the model can act on', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const h = await startHarness({
      timeoutMs: 300,
      repos: (server) => [remoteRepo(server, 'hung', { url: `http://127.0.0.1:${port}/hung.git` })],
    });
    try {
      const result = await h.call('git_fetch', { repo: 'hung' });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        'clone of "hung" did not finish within 300 ms; try again or raise NIGHTSHIFT_GIT_TIMEOUT_MS.',
      );
    } finally {
      await h.close();
      silent.closeAllConnections();
      silent.close();
    }
  });
});
