import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@nightshift/mcp-kit';
import { type ConnectedClient, connectInMemory } from '@nightshift/mcp-kit/testing';
import type { RepoConfig } from '../../src/repos-file.ts';
import { createGitDeps, createServer } from '../../src/server.ts';
import type { GitDeps } from '../../src/tools/define.ts';
import { type GitHttpServer, seedRepo, startGitHttpServer } from './git-http-server.ts';

export const tokenEnv = 'NS_TEST_GIT_TOKEN';

export interface CallResult {
  isError: boolean;
  text: string;
  structured: Record<string, unknown>;
}

export interface Harness {
  server: GitHttpServer;
  deps: GitDeps;
  cacheDir: string;
  logs: string[];
  /** Every text and structured result the client saw, for the "secret never printed" check. */
  seen: string[];
  call(name: string, args?: Record<string, unknown>): Promise<CallResult>;
  /** A fresh server process over the same cache dir, as after a host restart. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The configured repo pointing at the test server, with the token in `tokenEnv`. */
export function remoteRepo(
  server: GitHttpServer,
  name = 'configs',
  overrides: Partial<RepoConfig> = {},
): RepoConfig {
  return {
    name,
    url: server.repoUrl(name),
    default_branch: 'main',
    push_branches: ['main', 'configs/*'],
    author: { name: 'Nightshift Bot', email: 'bot@example.com' },
    token_env: tokenEnv,
    username: 'x-access-token',
    ...overrides,
  };
}

/**
 * Starts a real smart-HTTP git server with a seeded `configs` repo, builds the mcp-git
 * dependencies against it and connects the real SDK client in memory.
 */
export async function startHarness(
  options: {
    repos?: (server: GitHttpServer) => RepoConfig[];
    env?: (server: GitHttpServer) => NodeJS.ProcessEnv;
    timeoutMs?: number;
  } = {},
): Promise<Harness> {
  const server = await startGitHttpServer();
  seedRepo(server, 'configs');
  const cacheDir = mkdtempSync(join(tmpdir(), 'ns-git-cache-'));
  const logs: string[] = [];
  const seen: string[] = [];
  const logger = createLogger('mcp-git-test', { write: (line) => logs.push(line), level: 'debug' });
  const env = options.env?.(server) ?? { [tokenEnv]: server.token };
  const repos = options.repos?.(server) ?? [remoteRepo(server)];
  let connected: ConnectedClient;
  let deps: GitDeps;
  const connect = async () => {
    deps = await createGitDeps(
      {
        NIGHTSHIFT_GIT_CACHE_DIR: cacheDir,
        NIGHTSHIFT_GIT_TIMEOUT_MS: options.timeoutMs ?? 20_000,
        NIGHTSHIFT_GIT_REPOS_FILE: undefined,
      },
      logger,
      { repos, env },
    );
    connected = await connectInMemory(createServer(deps, { logger }));
  };
  await connect();
  const harness: Harness = {
    server,
    get deps() {
      return deps;
    },
    cacheDir,
    logs,
    seen,
    async call(name, args = {}) {
      const result = await connected.client.callTool({ name, arguments: args });
      const text = (result.content as Array<{ type: string; text?: string }>)
        .map((c) => c.text ?? '')
        .join('\n');
      seen.push(text, JSON.stringify(result.structuredContent ?? null));
      return {
        isError: result.isError === true,
        text,
        structured: (result.structuredContent ?? {}) as Record<string, unknown>,
      };
    },
    async restart() {
      await connected.close();
      await connect();
    },
    async close() {
      await connected.close();
      await server.close();
      rmSync(cacheDir, { recursive: true, force: true });
    },
  };
  return harness;
}
