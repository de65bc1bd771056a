import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SpawnedServer, spawnStdioServer } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GitHttpServer,
  remoteHead,
  seedFiles,
  seedRepo,
  showRemote,
  startGitHttpServer,
} from './helpers/git-http-server.ts';

const bin = new URL('../bin/nightshift-mcp-git.js', import.meta.url).pathname;
const built = existsSync(new URL('../dist/bundle/main.js', import.meta.url));

function textOf(result: unknown): string {
  return (((result as { content?: unknown }).content ?? []) as Array<{ text?: string }>)
    .map((c) => c.text ?? '')
    .join('\n');
}

describe('the built nightshift-mcp-git bin over stdio', () => {
  let server: GitHttpServer;
  let dir: string;
  let reposFile: string;
  const outputs: string[] = [];
  const spawned: SpawnedServer[] = [];

  beforeAll(async () => {
    if (!built) throw new Error('the bin is not built; run `pnpm --filter @nightshift/mcp-git build` first');
    server = await startGitHttpServer();
    seedRepo(server, 'configs');
    dir = mkdtempSync(join(tmpdir(), 'ns-git-e2e-'));
    reposFile = join(dir, 'repos.yaml');
    writeFileSync(
      reposFile,
      `repos:
  - name: configs
    url: ${server.repoUrl('configs')}
    default_branch: main
    push_branches: [main]
    author: { name: Nightshift E2E, email: e2e@example.com }
    token_env: NS_E2E_GIT_TOKEN
`,
    );
  });
  afterAll(async () => {
    for (const s of spawned) await s.close().catch(() => undefined);
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function spawnBin(env: Record<string, string>): Promise<SpawnedServer> {
    const s = await spawnStdioServer(process.execPath, [bin], {
      env: { NIGHTSHIFT_LOG_LEVEL: 'debug', ...env },
    });
    spawned.push(s);
    return s;
  }

  async function call(s: SpawnedServer, name: string, args: Record<string, unknown>) {
    const result = await s.client.callTool({ name, arguments: args });
    outputs.push(textOf(result), JSON.stringify(result.structuredContent ?? null));
    return result;
  }

  it('reads, proposes, commits and pushes over the real protocol, and never prints the token', async () => {
    const s = await spawnBin({
      NIGHTSHIFT_GIT_REPOS_FILE: reposFile,
      NIGHTSHIFT_GIT_CACHE_DIR: join(dir, 'cache'),
      NS_E2E_GIT_TOKEN: server.token,
    });
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'git_commit_proposal',
      'git_diff',
      'git_fetch',
      'git_grep',
      'git_list_files',
      'git_list_proposals',
      'git_list_repos',
      'git_log',
      'git_propose_edit',
      'git_read_config_value',
      'git_show_file',
    ]);
    expect(tools.find((t) => t.name === 'git_propose_edit')?.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
    });
    expect(tools.find((t) => t.name === 'git_commit_proposal')?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });

    const value = await call(s, 'git_read_config_value', {
      repo: 'configs',
      path: 'configs/weld.yaml',
      key: 'train.image_size',
    });
    expect(value.structuredContent).toMatchObject({ value: 640 });

    const proposal = await call(s, 'git_propose_edit', {
      repo: 'configs',
      path: 'configs/weld.yaml',
      set: [{ key: 'train.image_size', value: 512 }],
    });
    expect(proposal.isError).toBeFalsy();
    const id = (proposal.structuredContent as { proposalId: string }).proposalId;
    const committed = await call(s, 'git_commit_proposal', { proposalId: id, message: 'Use 512 px images' });
    expect(committed.isError, textOf(committed)).toBeFalsy();
    const commit = (committed.structuredContent as { commit: string }).commit;
    expect(remoteHead(server, 'configs')).toBe(commit);
    expect(showRemote(server, 'configs', 'main', 'configs/weld.yaml')).toBe(
      (seedFiles['configs/weld.yaml'] as string).replace(
        'image_size: 640       #',
        'image_size: 512       #',
      ),
    );

    const log = await call(s, 'git_log', { repo: 'configs', limit: 1 });
    expect(log.structuredContent).toMatchObject({
      commits: [{ oid: commit, subject: 'Use 512 px images', author: 'Nightshift E2E' }],
    });

    const traversal = await call(s, 'git_show_file', { repo: 'configs', path: '../../etc/passwd' });
    expect(traversal.isError).toBe(true);

    await s.close();
    const everything = [...outputs, s.stderr()].join('\n');
    expect(s.stderr()).toMatch(/cloning configs/);
    expect(everything).not.toContain(server.token);
  });

  it('answers a wrong token with a clear error and keeps it out of stderr', async () => {
    const wrong = 'e2e-wrong-token-7c1d93';
    const s = await spawnBin({
      NIGHTSHIFT_GIT_REPOS_FILE: reposFile,
      NIGHTSHIFT_GIT_CACHE_DIR: join(dir, 'cache-wrong'),
      NS_E2E_GIT_TOKEN: wrong,
    });
    const result = await call(s, 'git_fetch', { repo: 'configs' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/clone of "configs" was refused by the server \(authentication failed/);
    await s.close();
    expect([...outputs, s.stderr()].join('\n')).not.toContain(wrong);
  });

  it('matches a pattern that would stall a backtracking engine in linear time, and keeps answering', async () => {
    // (a+)+$ against 40 a's and a "!" takes a backtracking engine about 2^40 steps: the request
    // would time out and the server would answer nothing more.
    seedRepo(server, 'redos', { 'notes.txt': `${'a'.repeat(40)}!\nweld aaa\n` }, {});
    const file = join(dir, 'redos.yaml');
    writeFileSync(
      file,
      `repos:\n  - name: redos\n    url: ${server.repoUrl('redos')}\n    default_branch: main\n    token_env: NS_E2E_GIT_TOKEN\n`,
    );
    const s = await spawnBin({
      NIGHTSHIFT_GIT_REPOS_FILE: file,
      NIGHTSHIFT_GIT_CACHE_DIR: join(dir, 'cache-redos'),
      NS_E2E_GIT_TOKEN: server.token,
    });
    const grep = await s.client.callTool(
      { name: 'git_grep', arguments: { repo: 'redos', pattern: '(a+)+$' } },
      undefined,
      { timeout: 30_000 },
    );
    expect(grep.isError, textOf(grep)).toBeFalsy();
    expect(grep.structuredContent).toMatchObject({
      hits: [{ path: 'notes.txt', line: 2, text: 'weld aaa' }],
    });
    const after = await s.client.callTool({ name: 'git_list_repos', arguments: {} }, undefined, {
      timeout: 10_000,
    });
    expect(after.isError).toBeFalsy();
  });

  it('starts with only a cache dir and says how to configure repositories', async () => {
    const s = await spawnBin({ NIGHTSHIFT_GIT_CACHE_DIR: join(dir, 'cache-empty') });
    const result = await call(s, 'git_list_repos', {});
    expect(result.structuredContent).toMatchObject({ configured: false, repos: [] });
    expect(textOf(result)).toMatch(/Set NIGHTSHIFT_GIT_REPOS_FILE/);
  });
});
