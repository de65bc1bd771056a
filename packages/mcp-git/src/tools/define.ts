import { toolDefiner } from '@nightshift/mcp-kit';
import type { GitRepos } from '../git.ts';
import type { ProposalStore } from '../proposals.ts';

/** What every mcp-git tool handler receives. */
export interface GitDeps {
  repos: GitRepos;
  proposals: ProposalStore;
}

export const defineGitTool = toolDefiner<GitDeps>();
