import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** The environment the server reads at start-up; `--help` prints these descriptions. */
export const datasetsEnv = z.object({
  NIGHTSHIFT_DATASETS_ROOT: z
    .string()
    .min(1)
    .describe(
      'folder holding one sub-folder per dataset, each with its versions as sub-folders or a versions.yaml',
    ),
  NIGHTSHIFT_DATASETS_CACHE_DIR: z
    .string()
    .optional()
    .describe(
      'where per-version scan caches are kept (default: $XDG_CACHE_HOME/nightshift/datasets, else ~/.cache/nightshift/datasets)',
    ),
});

export type DatasetsConfig = z.output<typeof datasetsEnv>;

/** The cache folder: the configured one, else the user's XDG cache. */
export function cacheDirFor(config: DatasetsConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (config.NIGHTSHIFT_DATASETS_CACHE_DIR) return config.NIGHTSHIFT_DATASETS_CACHE_DIR;
  const xdg =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'nightshift', 'datasets');
}
