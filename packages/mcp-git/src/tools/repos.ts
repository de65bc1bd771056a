import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyTool } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { defineGitTool, type GitDeps } from './define.ts';

export const reposFileExample = `repos:
  - name: factory-configs
    url: https://git.example.com/ml/factory-configs.git
    default_branch: main
    push_branches: [main, "configs/*"]
    author: { name: Nightshift, email: nightshift@example.com }
    token_env: FACTORY_CONFIGS_TOKEN   # the variable's name, never the token
  - name: local-configs
    path: /srv/git/local-configs        # a local repository
    default_branch: main
`;

const repoName = z.string().min(1).max(64).describe('repository name as listed by git_list_repos');

export const repoTools: AnyTool<GitDeps>[] = [
  defineGitTool({
    name: 'git_list_repos',
    title: 'List configured repositories',
    description:
      'Lists the training-config repositories this server knows: name, source (URL or local path), default branch, the branches it may push to, and whether a local cache exists. Start here to learn repo names for the other git_ tools. When none are configured it says how to configure them.',
    toolset: 'read',
    input: z.object({}),
    output: z.object({
      configured: z.boolean(),
      repos: z.array(
        z.object({
          name: z.string(),
          source: z.enum(['url', 'path']),
          location: z.string(),
          defaultBranch: z.string(),
          pushBranches: z.array(z.string()),
          cached: z.boolean(),
          pushTokenSet: z.boolean(),
        }),
      ),
      howToConfigure: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(_input, { repos }) {
      const list = repos.repos.map((repo) => ({
        name: repo.name,
        source: repo.url ? ('url' as const) : ('path' as const),
        location: repo.url ?? repo.path ?? '',
        defaultBranch: repo.default_branch,
        pushBranches: repo.push_branches,
        cached: repo.url ? existsSync(join(repos.gitdir(repo), '.nightshift-cloned')) : true,
        pushTokenSet: repos.tokenSet(repo),
      }));
      if (list.length === 0) {
        const howToConfigure = `No repositories are configured${repos.reposFile ? ` (${repos.reposFile} lists none)` : ''}. Set NIGHTSHIFT_GIT_REPOS_FILE to a YAML file like this and restart the server:\n${reposFileExample}`;
        return { structured: { configured: false, repos: [], howToConfigure }, text: howToConfigure };
      }
      const text = list
        .map(
          (r) =>
            `${r.name}: ${r.location} (default ${r.defaultBranch}; push to: ${r.pushBranches.join(', ') || 'none'}${r.cached ? '' : '; not cloned yet'})`,
        )
        .join('\n');
      return { structured: { configured: true, repos: list }, text };
    },
  }),

  defineGitTool({
    name: 'git_fetch',
    title: 'Refresh a repository cache',
    description:
      "Fetches a remote repository into the server's cache (cloning it on first use) so reads see the latest branches. Safe to repeat. Returns each branch head before and after; local repositories need no fetch and just report their heads.",
    toolset: 'read',
    input: z.object({ repo: repoName }),
    output: z.object({
      repo: z.string(),
      cloned: z.boolean(),
      branches: z.array(
        z.object({
          branch: z.string(),
          before: z.string().optional(),
          after: z.string(),
          changed: z.boolean(),
        }),
      ),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler({ repo: name }, { repos }, { signal }) {
      const repo = repos.repo(name);
      const result = await repos.fetch(repo, signal);
      const branches = result.branches
        .slice(0, 200)
        .map((b) => ({ ...b, changed: !result.cloned && b.before !== b.after }));
      const moved = branches.filter((b) => b.changed);
      const text = result.cloned
        ? `cloned ${name}: ${branches.length} branch(es)`
        : moved.length === 0
          ? `${name} is up to date (${branches.length} branch(es))`
          : `${name}: ${moved.map((b) => `${b.branch} ${b.before?.slice(0, 12) ?? 'new'} → ${b.after.slice(0, 12)}`).join(', ')}`;
      return { structured: { repo: name, cloned: result.cloned, branches }, text };
    },
  }),
];
