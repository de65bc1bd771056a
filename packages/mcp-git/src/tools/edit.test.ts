import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advanceRemote,
  git,
  remoteHead,
  seedFiles,
  seedRepo,
  showRemote,
} from '../../test/helpers/git-http-server.ts';
import { type Harness, remoteRepo, startHarness, tokenEnv } from '../../test/helpers/harness.ts';
import { editTools } from './edit.ts';

const weld = seedFiles['configs/weld.yaml'] as string;

describe('edit tools contract', () => {
  it('matches the reviewed snapshot', async () => {
    await expect(JSON.stringify(toolContract(editTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/edit.contract.json',
    );
  });
});

/** A server with two remote repos, `configs` and `other`; `env` is the one its token is read from. */
function startTwoRepos(env: NodeJS.ProcessEnv): Promise<Harness> {
  return startHarness({
    env: (server) => Object.assign(env, { [tokenEnv]: server.token }),
    repos: (server) => [remoteRepo(server), remoteRepo(server, 'other', { push_branches: ['main'] })],
  });
}

describe('propose and commit against a real smart-HTTP server', () => {
  let h: Harness;
  const env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    h = await startTwoRepos(env);
  });
  afterAll(() => h.close());

  async function propose(args: Record<string, unknown>) {
    const result = await h.call('git_propose_edit', { repo: 'configs', path: 'configs/weld.yaml', ...args });
    return result;
  }

  it('proposes a comment-preserving YAML edit, changes nothing, then commits and pushes exactly it', async () => {
    const before = remoteHead(h.server, 'configs');
    const proposal = await propose({
      set: [
        { key: 'train.image_size', value: 512 },
        { key: 'model.head_size', value: 512 },
      ],
      description: 'Match the head size',
    });
    expect(proposal.isError).toBe(false);
    const expected = weld
      .replace('head_size: 640        #', 'head_size: 512        #')
      .replace('image_size: 640       #', 'image_size: 512       #');
    expect(proposal.structured).toMatchObject({
      repo: 'configs',
      branch: 'main',
      path: 'configs/weld.yaml',
      baseCommit: before,
      additions: 2,
      deletions: 2,
    });
    expect(proposal.structured.diff).toContain(
      '-  image_size: 640       # must match model.head_size\n+  image_size: 512       # must match model.head_size',
    );
    expect(proposal.structured.newBlob).toBe(git(['hash-object', '--stdin'], undefined, expected).trim());
    expect(remoteHead(h.server, 'configs')).toBe(before);

    const committed = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'Match image_size to the head size',
    });
    expect(committed.isError, committed.text).toBe(false);
    expect(committed.structured).toMatchObject({ branch: 'main', ref: 'refs/heads/main', pushed: true });
    const commit = committed.structured.commit as string;
    expect(remoteHead(h.server, 'configs')).toBe(commit);
    expect(showRemote(h.server, 'configs', 'main', 'configs/weld.yaml')).toBe(expected);
    const meta = git([
      '--git-dir',
      h.server.bareDir('configs'),
      'log',
      '-1',
      '--format=%an <%ae>|%P|%s',
      'main',
    ]).trim();
    expect(meta).toBe(`Nightshift Bot <bot@example.com>|${before}|Match image_size to the head size`);
    const changed = git([
      '--git-dir',
      h.server.bareDir('configs'),
      'diff',
      '--name-only',
      before,
      commit,
    ]).trim();
    expect(changed).toBe('configs/weld.yaml');

    const again = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'again',
    });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(new RegExp(`already committed as ${commit}`));
    expect(remoteHead(h.server, 'configs')).toBe(commit);
  });

  it('keeps a proposal across a server restart', async () => {
    const proposal = await propose({ set: [{ key: 'train.epochs', value: 40 }] });
    await h.restart();
    const committed = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'More epochs',
    });
    expect(committed.isError, committed.text).toBe(false);
    expect(showRemote(h.server, 'configs', 'main', 'configs/weld.yaml')).toMatch(/epochs: 40\n/);
  });

  it('refuses when the remote advanced since the proposal, and loses nothing', async () => {
    const proposal = await propose({ set: [{ key: 'train.batch', value: 32 }] });
    const theirs = advanceRemote(
      h.server,
      'configs',
      'README.md',
      '# Configs (edited by a person)\n',
      'Edit README',
    );
    const result = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'Bigger batch',
    });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(
      /^conflict: branch main moved from [0-9a-f]{12} to [0-9a-f]{12} since the proposal.*nothing was written/,
    );
    expect(remoteHead(h.server, 'configs')).toBe(theirs);
    expect(showRemote(h.server, 'configs', 'main', 'README.md')).toBe('# Configs (edited by a person)\n');
    expect(showRemote(h.server, 'configs', 'main', 'configs/weld.yaml')).toMatch(/batch: 16\n/);
    // The proposal itself is still there, unconsumed, for a person to look at.
    const stored = await h.deps.proposals.get(proposal.structured.proposalId as string);
    expect(stored.committed).toBeUndefined();
    expect(stored.diff).toContain('+  batch: 32');
  });

  it('refuses when the file itself changed since the proposal', async () => {
    const proposal = await propose({ replace: { old: 'lr: 0.05', new: 'lr: 0.02' } });
    const current = showRemote(h.server, 'configs', 'main', 'configs/weld.yaml');
    const theirs = advanceRemote(
      h.server,
      'configs',
      'configs/weld.yaml',
      current.replace('lr: 0.05', 'lr: 0.01'),
      'Lower lr',
    );
    const result = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'lr',
    });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/^conflict: configs\/weld.yaml changed since the proposal/);
    expect(remoteHead(h.server, 'configs')).toBe(theirs);
    expect(showRemote(h.server, 'configs', 'main', 'configs/weld.yaml')).toMatch(/lr: 0.01\n/);
  });

  it('lets exactly one of two concurrent commits of the same proposal through', async () => {
    const proposal = await propose({ set: [{ key: 'data.version', value: 'v3' }] });
    const before = remoteHead(h.server, 'configs');
    const results = await Promise.all([
      h.call('git_commit_proposal', { proposalId: proposal.structured.proposalId, message: 'v3' }),
      h.call('git_commit_proposal', { proposalId: proposal.structured.proposalId, message: 'v3' }),
    ]);
    expect(results.filter((r) => !r.isError)).toHaveLength(1);
    expect(
      git(['--git-dir', h.server.bareDir('configs'), 'rev-list', '--count', `${before}..main`]).trim(),
    ).toBe('1');
  });

  it('refuses a branch that is not on the push list, at proposal and at commit', async () => {
    const result = await propose({ branch: 'release', set: [{ key: 'train.lr', value: 0.1 }] });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(
      /^branch release of "configs" is not on its push list \(allowed: main, configs\/\*\)/,
    );
    const proposal = await propose({ set: [{ key: 'train.lr', value: 0.1 }] });
    const repo = h.deps.repos.repo('configs');
    const saved = repo.push_branches;
    repo.push_branches = ['configs/*'];
    try {
      const before = remoteHead(h.server, 'configs');
      const refused = await h.call('git_commit_proposal', {
        proposalId: proposal.structured.proposalId,
        message: 'lr',
      });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/branch main of "configs" is not on its push list/);
      expect(remoteHead(h.server, 'configs')).toBe(before);
    } finally {
      repo.push_branches = saved;
    }
  });

  it('commits to a branch allowed by a push_branches glob, leaving main alone', async () => {
    const head = remoteHead(h.server, 'configs');
    git(['--git-dir', h.server.bareDir('configs'), 'branch', 'configs/tuning', head]);
    await h.call('git_fetch', { repo: 'configs' });
    const proposal = await propose({ branch: 'configs/tuning', set: [{ key: 'train.lr', value: 0.07 }] });
    const committed = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'tune lr',
    });
    expect(committed.isError, committed.text).toBe(false);
    expect(showRemote(h.server, 'configs', 'configs/tuning', 'configs/weld.yaml')).toMatch(/lr: 0.07\n/);
    expect(remoteHead(h.server, 'configs')).toBe(head);
  });

  it('reports a wrong token clearly, writes nothing, and never echoes it', async () => {
    const proposal = await propose({ set: [{ key: 'train.epochs', value: 50 }] });
    const before = remoteHead(h.server, 'configs');
    const good = env[tokenEnv];
    env[tokenEnv] = 'wrong-token-4f9c2e7d1b';
    try {
      const result = await h.call('git_commit_proposal', {
        proposalId: proposal.structured.proposalId,
        message: 'epochs',
      });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        `fetch of "configs" was refused by the server (authentication failed: the token in ${tokenEnv} was rejected; check it and its permissions); nothing was changed.`,
      );
      expect(remoteHead(h.server, 'configs')).toBe(before);
      expect(h.server.requests.some((r) => !r.authorized)).toBe(true);
    } finally {
      env[tokenEnv] = good;
    }
    const retried = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'epochs',
    });
    expect(retried.isError, retried.text).toBe(false);
    const all = [...h.seen, ...h.logs].join('\n');
    expect(all).not.toContain('wrong-token-4f9c2e7d1b');
  });

  it('reports a push the server refuses (a pre-receive hook) and changes nothing', async () => {
    const hook = join(h.server.bareDir('configs'), 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "pushes are frozen" >&2\nexit 1\n', { mode: 0o755 });
    try {
      const proposal = await propose({ set: [{ key: 'train.epochs', value: 60 }] });
      const before = remoteHead(h.server, 'configs');
      const result = await h.call('git_commit_proposal', {
        proposalId: proposal.structured.proposalId,
        message: 'epochs',
      });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        'the remote refused the push of "configs" (- refs/heads/main: pre-receive hook declined); nothing was changed on the remote.',
      );
      expect(remoteHead(h.server, 'configs')).toBe(before);
      expect(
        (await h.deps.proposals.get(proposal.structured.proposalId as string)).committed,
      ).toBeUndefined();
    } finally {
      rmSync(hook);
    }
  });

  it('refuses traversal and edits through escaping symlinks', async () => {
    for (const path of ['../outside.yaml', 'configs/../../outside.yaml', '/etc/passwd']) {
      const result = await propose({ path, replace: { old: 'a', new: 'b' } });
      expect(result.isError, path).toBe(true);
      expect(result.text).toMatch(/is refused/);
    }
    const escaping = await propose({ path: 'links/escape', replace: { old: 'root', new: 'x' } });
    expect(escaping.text).toMatch(/symlink that points outside the repository/);
    const inside = await propose({
      path: 'links/weld.yaml',
      set: [{ key: 'train.seed', value: 1, create: true }],
    });
    expect(inside.isError, inside.text).toBe(false);
    expect(inside.structured.path).toBe('configs/weld.yaml');
  });

  it('explains edits that cannot apply', async () => {
    const missing = await propose({ set: [{ key: 'train.warmup', value: 3 }] });
    expect(missing.text).toMatch(
      /^key train.warmup not found in configs\/weld.yaml under train; keys there: image_size, batch, epochs, lr.*Pass create: true/,
    );
    const toml = await propose({ path: 'configs/train.toml', set: [{ key: 'train.epochs', value: 3 }] });
    expect(toml.text).toMatch(/give an exact text replacement instead/);
    const both = await propose({ set: [{ key: 'a', value: 1 }], replace: { old: 'a', new: 'b' } });
    expect(both.text).toBe('Give exactly one of set (structured edits) or replace (exact text).');
    const noop = await propose({ replace: { old: 'arch: tiny-det', new: 'arch: tiny-det' } });
    expect(noop.text).toMatch(/leaves configs\/weld.yaml unchanged/);
    const ghost = await h.call('git_commit_proposal', { proposalId: 'p-0000000000000000', message: 'x' });
    expect(ghost.text).toBe('proposal p-0000000000000000 not found; make one with git_propose_edit.');
    const bad = await h.call('git_commit_proposal', { proposalId: '../../etc/passwd', message: 'x' });
    expect(bad.text).toMatch(/is not a proposal id/);
  });

  it('edits JSON keeping its layout', async () => {
    const proposal = await propose({ path: 'configs/model.json', set: [{ key: 'input.width', value: 640 }] });
    expect(proposal.isError, proposal.text).toBe(false);
    const committed = await h.call('git_commit_proposal', {
      proposalId: proposal.structured.proposalId,
      message: 'wider',
    });
    expect(committed.isError, committed.text).toBe(false);
    expect(showRemote(h.server, 'configs', 'main', 'configs/model.json')).toBe(
      (seedFiles['configs/model.json'] as string).replace('"width": 512', '"width": 640'),
    );
  });

  it('never put the token in any result or log line', () => {
    const all = [...h.seen, ...h.logs].join('\n');
    expect(h.seen.length).toBeGreaterThan(20);
    expect(all).not.toContain(h.server.token);
  });
});

describe('git_list_proposals', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTwoRepos({});
    seedRepo(h.server, 'other');
  });
  afterAll(() => h.close());

  type Listed = { proposals: Array<{ proposalId: string }>; nextCursor?: string };
  const list = async (args: Record<string, unknown>) => {
    const result = await h.call('git_list_proposals', args);
    return { ...result, listed: result.structured as Listed };
  };
  const ids = (listed: Listed) => listed.proposals.map((p) => p.proposalId);

  const propose = async (repo: string, key: string, value: number, description?: string) => {
    const result = await h.call('git_propose_edit', {
      repo,
      path: 'configs/weld.yaml',
      set: [{ key, value }],
      ...(description ? { description } : {}),
    });
    expect(result.isError, result.text).toBe(false);
    return result.structured.proposalId as string;
  };

  it('lists open and committed proposals newest first, by repo, across a restart, and pages without skipping', async () => {
    expect((await h.call('git_list_proposals', {})).text).toBe('no open proposals');
    const epochs = await propose('configs', 'train.epochs', 40, 'More epochs');
    const batch = await propose('configs', 'train.batch', 32);
    const elsewhere = await propose('other', 'train.epochs', 60);
    const committed = await h.call('git_commit_proposal', { proposalId: epochs, message: 'More epochs' });
    expect(committed.isError, committed.text).toBe(false);
    await h.restart();

    const open = await h.call('git_list_proposals', {});
    expect(open.structured.total).toBe(2);
    expect(open.structured.proposals).toEqual([
      expect.objectContaining({
        proposalId: elsewhere,
        repo: 'other',
        branch: 'main',
        additions: 1,
        deletions: 1,
      }),
      expect.objectContaining({
        proposalId: batch,
        repo: 'configs',
        path: 'configs/weld.yaml',
        description: '',
      }),
    ]);
    expect(open.text.split('\n')[1]).toMatch(
      new RegExp(`^${batch} configs:main configs/weld.yaml \\(\\+1 -1\\) \\d{4}-`),
    );

    const done = await h.call('git_list_proposals', { state: 'committed' });
    expect(done.structured.proposals).toEqual([
      expect.objectContaining({
        proposalId: epochs,
        description: 'More epochs',
        committed: expect.objectContaining({ commit: committed.structured.commit, ref: 'refs/heads/main' }),
      }),
    ]);
    expect(ids((await list({ repo: 'other', state: 'all' })).listed)).toEqual([elsewhere]);

    // One per page; a proposal made between pages lands before the cursor and shifts nothing.
    const first = (await list({ state: 'all', limit: 1 })).listed;
    const newer = await propose('configs', 'train.image_size', 512);
    const seen = ids(first);
    let cursor = first.nextCursor;
    while (cursor) {
      const page = (await list({ state: 'all', limit: 1, cursor })).listed;
      seen.push(...ids(page));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([elsewhere, batch, epochs]);
    expect(ids((await list({ state: 'all' })).listed)).toEqual([newer, elsewhere, batch, epochs]);

    const foreign = await list({ state: 'open', cursor: first.nextCursor });
    expect(foreign.isError).toBe(true);
    expect(foreign.text).toMatch(/belongs to a different request/);
  });
});

describe('a local repository (path) as the target', () => {
  it('advances an allowed branch in a bare repo and refuses a checked-out branch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-git-local-'));
    let h: Harness | undefined;
    try {
      const work = join(dir, 'work');
      git(['init', '-q', '-b', 'main', work]);
      git(['-C', work, 'commit', '-q', '--allow-empty', '-m', 'root']);
      git(['-C', work, 'commit', '-q', '--allow-empty', '-m', 'root2']);
      git(['clone', '-q', '--bare', work, join(dir, 'bare.git')]);
      const seed = join(dir, 'seed');
      git(['clone', '-q', join(dir, 'bare.git'), seed]);
      git(['-C', seed, 'checkout', '-q', 'main']);
      writeFileSync(join(seed, 'cfg.yaml'), 'lr: 0.1 # keep\n');
      git(['-C', seed, 'add', '-A']);
      git(['-C', seed, 'commit', '-q', '-m', 'cfg']);
      git(['-C', seed, 'push', '-q', 'origin', 'main']);
      h = await startHarness({
        repos: () => [
          {
            name: 'bare',
            path: join(dir, 'bare.git'),
            default_branch: 'main',
            push_branches: ['main'],
            author: { name: 'N', email: 'n@example.com' },
            username: 'x',
          },
          {
            name: 'checkout',
            path: seed,
            default_branch: 'main',
            push_branches: ['main'],
            author: { name: 'N', email: 'n@example.com' },
            username: 'x',
          },
        ],
      });
      const proposal = await h.call('git_propose_edit', {
        repo: 'bare',
        path: 'cfg.yaml',
        set: [{ key: 'lr', value: 0.2 }],
      });
      expect(proposal.isError, proposal.text).toBe(false);
      const committed = await h.call('git_commit_proposal', {
        proposalId: proposal.structured.proposalId,
        message: 'lr',
      });
      expect(committed.structured).toMatchObject({ pushed: false, ref: 'refs/heads/main' });
      expect(git(['--git-dir', join(dir, 'bare.git'), 'show', 'main:cfg.yaml'])).toBe('lr: 0.2 # keep\n');

      const second = await h.call('git_propose_edit', {
        repo: 'checkout',
        path: 'cfg.yaml',
        set: [{ key: 'lr', value: 0.3 }],
      });
      const refused = await h.call('git_commit_proposal', {
        proposalId: second.structured.proposalId,
        message: 'lr',
      });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/branch main is checked out/);
      expect(existsSync(join(seed, 'cfg.yaml'))).toBe(true);
    } finally {
      await h?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
