import { type AnyTool, decodeCursor, encodeCursor, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { filePatch } from '../patch.ts';
import { repoPath } from '../paths.ts';
import { defineGitTool, type GitDeps } from './define.ts';

const repoName = z.string().min(1).max(64).describe('repository name as listed by git_list_repos');
const commitSchema = z.object({
  oid: z.string(),
  parents: z.array(z.string()),
  author: z.string(),
  email: z.string(),
  date: z.string(),
  subject: z.string(),
  body: z.string(),
});

export const historyTools: AnyTool<GitDeps>[] = [
  defineGitTool({
    name: 'git_log',
    title: 'Commit history',
    description:
      'Lists commits newest first from a ref (default: the default branch), optionally only those touching one path. Pages with a cursor; a path search over a long history may return fewer commits than asked for with a cursor to continue. Use it to see who changed a training config and when; then git_diff with commit to see the change.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      ref: z
        .string()
        .max(200)
        .optional()
        .describe('branch, tag or commit id to start from (default: the default branch)'),
      path: z
        .string()
        .max(1000)
        .optional()
        .describe('only commits that changed this file (repository-relative)'),
      limit: z.number().int().min(1).max(100).default(20).describe('commits per page (1-100, default 20)'),
      cursor: z.string().optional().describe('nextCursor from the previous page'),
    }),
    output: z.object({
      repo: z.string(),
      commits: z.array(commitSchema),
      scannedCommits: z.number(),
      nextCursor: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }) {
      const repo = repos.repo(input.repo);
      const path = input.path ? repoPath(input.path) : undefined;
      let starts: string[];
      if (input.cursor) {
        const state = decodeCursor<{ repo?: string; from?: unknown; path?: string | null }>(input.cursor);
        const valid =
          state.repo === repo.name &&
          Array.isArray(state.from) &&
          state.from.length > 0 &&
          state.from.every((oid) => typeof oid === 'string' && /^[0-9a-f]{40}$/.test(oid)) &&
          (state.path ?? undefined) === path;
        if (!valid) {
          throw new ToolError(
            'invalid_input',
            'This cursor belongs to a different repo or path; repeat the call without a cursor.',
          );
        }
        starts = state.from as string[];
      } else {
        starts = [await repos.resolveCommit(repo, input.ref)];
      }
      const { commits, frontier, scanned, stoppedEarly } = await repos.log(repo, starts, input.limit, path);
      const nextCursor =
        frontier.length > 0
          ? encodeCursor({ repo: repo.name, from: frontier, path: path ?? null })
          : undefined;
      const early = stoppedEarly
        ? `\n… searched ${scanned} commits for changes to ${path} without reaching ${input.limit}; continue with the cursor.`
        : '';
      const text =
        (commits.length === 0
          ? `no commits${path ? ` touching ${path}` : ''}${stoppedEarly ? ' yet' : ''}`
          : commits
              .map((c) => `${c.oid.slice(0, 12)} ${c.date.slice(0, 10)} ${c.author}: ${c.subject}`)
              .join('\n')) + early;
      return {
        structured: {
          repo: repo.name,
          commits,
          scannedCommits: scanned,
          ...(nextCursor ? { nextCursor } : {}),
        },
        text,
      };
    },
  }),

  defineGitTool({
    name: 'git_diff',
    title: 'Diff between refs or of one commit',
    description:
      'A unified diff, either of one commit against its first parent (give commit) or between two refs (give from, and optionally to; to defaults to the default branch). Optional glob filters files. The patch is capped at maxBytes; files past the cap are listed with their status so you can narrow with glob.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      commit: z
        .string()
        .max(200)
        .optional()
        .describe('show this commit against its first parent (instead of from/to)'),
      from: z.string().max(200).optional().describe('the older ref (branch, tag or commit id)'),
      to: z.string().max(200).optional().describe('the newer ref (default: the default branch)'),
      glob: z.string().max(500).optional().describe('only files matching this glob, e.g. "**/*.yaml"'),
      context: z
        .number()
        .int()
        .min(0)
        .max(20)
        .default(3)
        .describe('context lines around each change (default 3)'),
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .max(256 * 1024)
        .default(64 * 1024)
        .describe('cap on the patch size in bytes (default 65536)'),
    }),
    output: z.object({
      repo: z.string(),
      from: z.string().nullable(),
      to: z.string(),
      files: z.array(
        z.object({
          path: z.string(),
          status: z.enum(['added', 'deleted', 'modified']),
          additions: z.number().optional(),
          deletions: z.number().optional(),
          inPatch: z.boolean(),
        }),
      ),
      patch: z.string(),
      truncated: z.boolean(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }) {
      const repo = repos.repo(input.repo);
      let from: string | null;
      let to: string;
      if (input.commit) {
        if (input.from || input.to)
          throw new ToolError('invalid_input', 'Give either commit, or from (and to), not both.');
        to = await repos.resolveCommit(repo, input.commit);
        from = (await repos.commitSummary(repo, to)).parents[0] ?? null;
      } else {
        if (!input.from)
          throw new ToolError(
            'invalid_input',
            'Give commit (one commit against its parent) or from (and optionally to).',
          );
        from = await repos.resolveCommit(repo, input.from);
        to = await repos.resolveCommit(repo, input.to);
      }
      let changes = await repos.changedFiles(
        repo,
        from ? await repos.treeOf(repo, from) : undefined,
        await repos.treeOf(repo, to),
      );
      if (input.glob) {
        const { default: picomatch } = await import('picomatch');
        const match = picomatch(input.glob, { dot: true });
        changes = changes.filter((c) => match(c.path));
      }
      const files: Array<{
        path: string;
        status: 'added' | 'deleted' | 'modified';
        additions?: number;
        deletions?: number;
        inPatch: boolean;
      }> = [];
      let patch = '';
      let truncated = false;
      for (const change of changes.slice(0, 1000)) {
        if (truncated) {
          files.push({ path: change.path, status: change.status, inPatch: false });
          continue;
        }
        const oldBytes = change.oldOid ? await repos.readBlob(repo, change.oldOid) : undefined;
        const newBytes = change.newOid ? await repos.readBlob(repo, change.newOid) : undefined;
        const one = await filePatch(change.path, oldBytes, newBytes, input.context);
        if (Buffer.byteLength(patch) + Buffer.byteLength(one.patch) > input.maxBytes) {
          truncated = true;
          files.push({
            path: change.path,
            status: change.status,
            additions: one.additions,
            deletions: one.deletions,
            inPatch: false,
          });
          continue;
        }
        patch += one.patch;
        files.push({
          path: change.path,
          status: change.status,
          additions: one.additions,
          deletions: one.deletions,
          inPatch: true,
        });
      }
      if (changes.length > 1000) truncated = true;
      const omitted = files.filter((f) => !f.inPatch);
      const note = truncated
        ? `\n… patch capped at ${input.maxBytes} bytes; not shown: ${omitted
            .slice(0, 20)
            .map((f) => `${f.path} (${f.status})`)
            .join(', ')}${omitted.length > 20 ? ` and ${omitted.length - 20} more` : ''}. Narrow with glob.`
        : '';
      const text = files.length === 0 ? 'no differences' : `${patch}${note}`;
      return { structured: { repo: repo.name, from, to, files, patch, truncated }, text };
    },
  }),
];
