import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config.ts';
import { createHost } from '../src/core/host.ts';
import type { Host } from '../src/core/types.ts';
import type { ModelAdapter, ModelRequest, ModelResponse } from '../src/models/types.ts';

// The gate with Nightshift's real git server (the built nightshift-mcp-git over stdio) and a
// real repository: the proposal's commit is held until an approver confirms it, and when the
// branch moved in between, git_commit_proposal refuses and nothing is written.

const gitBin = fileURLToPath(new URL('../../mcp-git/bin/nightshift-mcp-git.js', import.meta.url));
const gitBuilt = existsSync(fileURLToPath(new URL('../../mcp-git/dist/bundle/main.js', import.meta.url)));
const hasGit = (() => {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const git = (args: string[], cwd?: string) =>
  execFileSync(
    'git',
    ['-c', 'user.name=Test', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } },
  ).trim();

/**
 * A model that proposes the edit, then commits the proposal id it read from the tool result;
 * after that it only reports. Written for this test: the id is only known at run time.
 */
let diffSeen = '';
function gitModel(): ModelAdapter & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  let step = 0;
  const reply = (text: string, toolCalls: ModelResponse['toolCalls'] = []): ModelResponse => ({
    text,
    toolCalls,
    usage: { inputTokens: 0, outputTokens: 0 },
    stopReason: toolCalls.length ? 'tool_use' : 'end',
  });
  return {
    id: 'git-test',
    requests,
    async complete(request) {
      requests.push(request);
      step++;
      if (step === 1) {
        return reply('Proposing the fix.', [
          {
            id: 'c1',
            name: 'git_propose_edit',
            arguments: {
              repo: 'factory',
              path: 'configs/pcb/train_cfg.yaml',
              set: [{ key: 'image_size', value: 640 }],
              description: 'image_size 1280 -> 640: the head expects 640',
            },
          },
        ]);
      }
      if (step === 2) {
        const last = request.messages.at(-1);
        const text = last?.role === 'tool' ? (last.results[0]?.content ?? '') : '';
        const id = /\bproposal (p-[0-9a-f]+)\b/.exec(text)?.[1];
        diffSeen = text;
        if (!id) throw new Error(`no proposal id in: ${text.slice(0, 300)}`);
        return reply('Committing it.', [
          {
            id: 'c2',
            name: 'git_commit_proposal',
            arguments: { proposalId: id, message: 'fix: image_size 1280→640' },
          },
        ]);
      }
      return reply(step === 3 ? 'P-1 commits image_size: 640. Reply yes.' : 'Reported.');
    },
  };
}

let host: Host | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-git-gate-'));
  const bare = join(dir, 'factory.git');
  git(['init', '--bare', '--initial-branch=main', bare]);
  const work = join(dir, 'work');
  git(['clone', bare, work]);
  execFileSync('mkdir', ['-p', join(work, 'configs/pcb')]);
  writeFileSync(join(work, 'configs/pcb/train_cfg.yaml'), '# pcb-inspect-v2\nimage_size: 1280\nbatch: 64\n');
  git(['add', '.'], work);
  git(['commit', '-m', 'initial'], work);
  git(['push', 'origin', 'HEAD:main'], work);
  const reposFile = join(dir, 'repos.yaml');
  writeFileSync(
    reposFile,
    stringify({
      repos: [
        {
          name: 'factory',
          path: bare,
          default_branch: 'main',
          push_branches: ['main'],
          author: { name: 'Nightshift', email: 'nightshift@example.com' },
        },
      ],
    }),
  );
  const config = parseConfig(
    stringify({
      dataDir: join(dir, 'data'),
      brief: join(dir, 'brief.md'),
      mcpServers: {
        git: {
          command: process.execPath,
          args: [gitBin],
          env: { NIGHTSHIFT_GIT_REPOS_FILE: reposFile, NIGHTSHIFT_GIT_CACHE_DIR: join(dir, 'cache') },
        },
      },
      people: [{ name: 'Anna', role: 'approver', terminal: 'anna' }],
    }),
    { env: {} },
  );
  const model = gitModel();
  host = await createHost(config, { model, log: () => undefined });
  const say = (text: string) =>
    (host as Host).handleMessage({ channel: 'terminal', senderId: 'anna', conversationId: 'c', text });
  const head = () => git(['rev-parse', 'main'], bare);
  const fileAtHead = () => git(['show', 'main:configs/pcb/train_cfg.yaml'], bare);
  return { bare, work, say, head, fileAtHead, model };
}

describe.skipIf(!gitBuilt || !hasGit)('the gate with nightshift-mcp-git', () => {
  it('classifies git tools from their annotations (Nightshift’s own server is trusted by default)', async () => {
    await setup();
    const classes = Object.fromEntries((host as Host).tools().map((t) => [t.tool, t.policyClass]));
    expect(classes.git_propose_edit).toBe('read');
    expect(classes.git_show_file).toBe('read');
    expect(classes.git_commit_proposal).toBe('confirm');
  });

  it('holds the commit until an approver confirms, then commits exactly the proposal', async () => {
    const { say, head, fileAtHead } = await setup();
    const before = head();
    const held = await say('fix the pcb config');
    expect(held.proposals).toHaveLength(1);
    expect(held.proposals[0]?.tool).toBe('git_commit_proposal');
    expect(head()).toBe(before);
    expect(diffSeen).toMatch(/-image_size: 1280\n\+image_size: 640/);
    const done = await say('kör på');
    expect(done.reply).toMatch(/✔ P-1 git_commit_proposal done: committed [0-9a-f]{12} to factory:main/);
    expect(head()).not.toBe(before);
    // (the git helper trims the trailing newline)
    expect(fileAtHead()).toBe('# pcb-inspect-v2\nimage_size: 640\nbatch: 64');
  });

  it('when the branch moved, the held commit refuses and nothing is written', async () => {
    const { say, head, fileAtHead, work } = await setup();
    await say('fix the pcb config');
    // Someone else pushes to main while the proposal waits.
    writeFileSync(join(work, 'README.md'), 'moved\n');
    git(['add', '.'], work);
    git(['commit', '-m', 'someone else'], work);
    git(['push', 'origin', 'HEAD:main'], work);
    const moved = head();
    const result = await say('yes');
    expect(result.reply).toMatch(/✖ P-1 git_commit_proposal FAILED: /);
    expect(head()).toBe(moved);
    expect(fileAtHead()).toContain('image_size: 1280');
    expect((host as Host).audit.list().map((r) => r.kind)).toContain('proposal_failed');
  });
});
