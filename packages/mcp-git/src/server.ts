import { mkdir } from 'node:fs/promises';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpServer, type Logger, type RegisterOptions, type ServerProgram } from '@nightshift/mcp-kit';
import { type GitEnv, gitEnv } from './config.ts';
import { GitRepos } from './git.ts';
import { ProposalStore } from './proposals.ts';
import { loadReposFile, type RepoConfig } from './repos-file.ts';
import type { GitDeps } from './tools/define.ts';
import { gitTools } from './tools/index.ts';

const version = process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.0.0-dev';

/** Builds the server's dependencies from its configuration. */
export async function createGitDeps(
  config: GitEnv,
  logger: Logger,
  options: { repos?: RepoConfig[]; env?: NodeJS.ProcessEnv } = {},
): Promise<GitDeps> {
  const repos =
    options.repos ??
    (config.NIGHTSHIFT_GIT_REPOS_FILE ? await loadReposFile(config.NIGHTSHIFT_GIT_REPOS_FILE) : []);
  await mkdir(config.NIGHTSHIFT_GIT_CACHE_DIR, { recursive: true });
  const env = options.env ?? process.env;
  for (const repo of repos) {
    if (repo.token_env) logger.addSecret(env[repo.token_env]);
  }
  return {
    repos: new GitRepos({
      repos,
      cacheDir: config.NIGHTSHIFT_GIT_CACHE_DIR,
      timeoutMs: config.NIGHTSHIFT_GIT_TIMEOUT_MS,
      logger,
      env,
      reposFile: config.NIGHTSHIFT_GIT_REPOS_FILE,
    }),
    proposals: new ProposalStore(config.NIGHTSHIFT_GIT_CACHE_DIR),
  };
}

/** The whole server as data; `runServer(gitProgram)` serves it. */
export const gitProgram: ServerProgram<typeof gitEnv, GitDeps> = {
  name: 'nightshift-mcp-git',
  version,
  summary:
    'MCP server for training-config repositories: read, search, diff, propose an edit, commit and push.',
  instructions:
    'Training-config git repositories. Read with git_log, git_show_file, git_list_files, git_grep, git_diff and git_read_config_value (git_fetch refreshes the cache). To change a file: git_propose_edit returns a diff and a proposal id and changes nothing; show the diff to a person, and only after they agree call git_commit_proposal with that id (git_list_proposals finds proposals made earlier). It commits exactly that change, fast-forward only, and refuses if the branch moved meanwhile.',
  env: gitEnv,
  tools: gitTools,
  setup: (config, logger) => createGitDeps(config, logger),
};

/** One MCP server over given dependencies: the factory tests use. */
export function createServer(deps: GitDeps, options: RegisterOptions = {}): McpServer {
  return createMcpServer(gitProgram, deps, options);
}
