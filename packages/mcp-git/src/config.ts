import { homedir } from 'node:os';
import { join } from 'node:path';
import { envPositiveInt } from '@nightshift/mcp-kit';
import { z } from 'zod';

/** The server's environment: where the repos file is and where clones and proposals live. */
export const gitEnv = z.object({
  NIGHTSHIFT_GIT_REPOS_FILE: z
    .string()
    .optional()
    .describe(
      'YAML file naming each repository (name, url or path, default branch, push branches, commit identity, token env var); without it the server starts with no repositories',
    ),
  NIGHTSHIFT_GIT_CACHE_DIR: z
    .string()
    .default(join(homedir(), '.cache', 'nightshift', 'git'))
    .describe('directory for clones, fetches and stored edit proposals (default ~/.cache/nightshift/git)'),
  NIGHTSHIFT_GIT_TIMEOUT_MS: envPositiveInt
    .default(60_000)
    .describe('deadline in milliseconds for one network operation (clone, fetch, push); default 60000'),
});

export type GitEnv = z.output<typeof gitEnv>;
