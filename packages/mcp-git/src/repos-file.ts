import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { loadYaml } from './lazy.ts';

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

const repoSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64')
      .describe('the name tools use for this repository'),
    url: z
      .string()
      .optional()
      .describe('HTTPS clone URL (plain http only on 127.0.0.1/localhost); no credentials in it'),
    path: z.string().optional().describe('a local repository instead of a URL (relative to this file)'),
    default_branch: z.string().default('main').describe('branch read when a tool is given no ref'),
    push_branches: z
      .array(z.string().min(1))
      .default([])
      .describe('branches the server may commit to (exact names or globs such as "configs/*"); empty: none'),
    author: z
      .object({ name: z.string().min(1), email: z.string().min(3) })
      .default({ name: 'Nightshift', email: 'nightshift@localhost' })
      .describe('commit identity'),
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe('name of the environment variable holding the HTTPS token (never the token itself)'),
    username: z
      .string()
      .default('x-access-token')
      .describe('user name sent with the token in HTTP Basic auth'),
  })
  .strict()
  .superRefine((repo, ctx) => {
    if (!repo.url === !repo.path) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of url or path' });
      return;
    }
    if (repo.url) {
      let parsed: URL;
      try {
        parsed = new URL(repo.url);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'url is not a URL' });
        return;
      }
      if (parsed.username || parsed.password)
        ctx.addIssue({ code: 'custom', message: 'url must not contain credentials; use token_env' });
      const plainLoopback = parsed.protocol === 'http:' && loopbackHosts.has(parsed.hostname);
      if (parsed.protocol !== 'https:' && !plainLoopback)
        ctx.addIssue({ code: 'custom', message: 'url must be https:// (http:// only on 127.0.0.1)' });
    }
  });

const reposFileSchema = z.object({ repos: z.array(repoSchema) }).strict();

/** One configured repository, with `path` made absolute. */
export type RepoConfig = z.output<typeof repoSchema>;

/**
 * Reads and validates the repos file; every problem is listed in one ConfigError so one
 * failed start is enough to fix the file.
 */
export async function loadReposFile(file: string): Promise<RepoConfig[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`cannot read NIGHTSHIFT_GIT_REPOS_FILE ${file}: ${(error as Error).message}`]);
  }
  // Loaded only when a repos file is configured: the YAML parser is not needed to start.
  const { parse } = await loadYaml();
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigError([`${file} is not valid YAML: ${(error as Error).message}`]);
  }
  const parsed = reposFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`),
      'The repos file is invalid',
    );
  }
  const names = new Set<string>();
  const problems: string[] = [];
  for (const repo of parsed.data.repos) {
    if (names.has(repo.name)) problems.push(`${file}: repo name "${repo.name}" appears twice`);
    names.add(repo.name);
    if (repo.path && !isAbsolute(repo.path)) repo.path = resolve(dirname(file), repo.path);
  }
  if (problems.length > 0) throw new ConfigError(problems, 'The repos file is invalid');
  return parsed.data.repos;
}
