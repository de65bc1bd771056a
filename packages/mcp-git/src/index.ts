export { type GitEnv, gitEnv } from './config.ts';
export { GitRepos } from './git.ts';
export { type Proposal, ProposalStore } from './proposals.ts';
export { loadReposFile, type RepoConfig } from './repos-file.ts';
export { createGitDeps, createServer, gitProgram } from './server.ts';
export type { GitDeps } from './tools/define.ts';
export { gitTools } from './tools/index.ts';
