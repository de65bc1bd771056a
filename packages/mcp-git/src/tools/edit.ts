import { type AnyTool, decodeCursor, encodeCursor, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { applySets, formatOf, replaceText } from '../config-files.ts';
import { branchRefused } from '../git.ts';
import { isBinary, textPatch } from '../patch.ts';
import { repoPath } from '../paths.ts';
import type { Proposal } from '../proposals.ts';
import { defineGitTool, type GitDeps } from './define.ts';

const maxEditableBytes = 1024 * 1024;

export const editTools: AnyTool<GitDeps>[] = [
  defineGitTool({
    name: 'git_propose_edit',
    title: 'Propose an edit (changes nothing)',
    description:
      'Computes an edit to one file on a branch and returns its unified diff and a proposal id; it changes nothing. Give either set (key paths and new values for a YAML or JSON file; comments, key order and formatting are kept) or replace (an exact text replacement, any text file). Show the diff to a person; only git_commit_proposal with the id applies it. The proposal is stored and stays valid until the branch or file changes.',
    toolset: 'edit',
    input: z.object({
      repo: z.string().min(1).max(64).describe('repository name as listed by git_list_repos'),
      path: z.string().min(1).max(1000).describe('repository-relative path of the file to edit'),
      branch: z
        .string()
        .max(200)
        .optional()
        .describe(
          "branch to edit and later push to (default: the repo's default branch); must be on its push list",
        ),
      set: z
        .array(
          z.object({
            key: z
              .string()
              .min(1)
              .max(500)
              .describe('key path, e.g. "train.image_size" or "model.classes[1]"'),
            value: z.json().describe('the new value (string, number, boolean, null, list or map)'),
            create: z.boolean().default(false).describe('allow adding a key that does not exist yet'),
          }),
        )
        .min(1)
        .max(50)
        .optional()
        .describe('structured edits for a YAML or JSON file'),
      replace: z
        .object({
          old: z.string().min(1).max(100_000).describe('exact text to find (whitespace included)'),
          new: z.string().max(100_000).describe('replacement text'),
          all: z
            .boolean()
            .default(false)
            .describe('replace every occurrence instead of requiring exactly one'),
        })
        .optional()
        .describe('an exact text replacement'),
      description: z
        .string()
        .max(500)
        .optional()
        .describe('why: kept with the proposal and suggested as the commit message'),
    }),
    output: z.object({
      proposalId: z.string(),
      repo: z.string(),
      branch: z.string(),
      path: z.string(),
      baseCommit: z.string(),
      oldBlob: z.string(),
      newBlob: z.string(),
      diff: z.string(),
      additions: z.number(),
      deletions: z.number(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(input, { repos, proposals }, { signal }) {
      const repo = repos.repo(input.repo);
      if (!input.set === !input.replace) {
        throw new ToolError(
          'invalid_input',
          'Give exactly one of set (structured edits) or replace (exact text).',
        );
      }
      const branch = input.branch ?? repo.default_branch;
      if (!(await repos.branchAllowed(repo, branch))) throw branchRefused(repo, branch);
      const requested = repoPath(input.path);
      if (repos.isRemote(repo)) await repos.fetch(repo, signal);
      const baseCommit = await repos.resolveCommit(repo, branch);
      const file = await repos.readFile(repo, baseCommit, requested);
      if (file.mode === '120000')
        throw new ToolError('invalid_input', `${requested} is a symlink; edit ${file.resolvedPath} instead.`);
      if (isBinary(file.bytes) || file.bytes.length > maxEditableBytes) {
        throw new ToolError(
          'invalid_input',
          `${requested} is binary or larger than ${maxEditableBytes} bytes; it cannot be edited here.`,
        );
      }
      const path = file.resolvedPath;
      const oldContent = Buffer.from(file.bytes).toString('utf8');
      const newContent = input.set
        ? await applySets(oldContent, formatOf(path), path, input.set)
        : replaceText(
            oldContent,
            path,
            input.replace?.old ?? '',
            input.replace?.new ?? '',
            input.replace?.all,
          );
      if (newContent === oldContent) {
        throw new ToolError('invalid_input', `the edit leaves ${path} unchanged; nothing to propose.`);
      }
      const { patch, additions, deletions } = await textPatch(path, oldContent, newContent, 3);
      const proposal = {
        id: proposals.newId(),
        repo: repo.name,
        branch,
        baseCommit,
        path,
        oldBlob: file.oid,
        newBlob: await repos.hashBlob(newContent),
        newContent,
        diff: patch,
        description: input.description ?? '',
        createdAt: new Date().toISOString(),
      };
      await proposals.save(proposal);
      const { newContent: _content, description: _description, createdAt: _created, id, ...rest } = proposal;
      return {
        structured: { proposalId: id, ...rest, diff: patch, additions, deletions },
        text: `proposal ${id} for ${repo.name}:${branch} ${path} (base ${baseCommit.slice(0, 12)}); nothing is changed until git_commit_proposal.\n${patch}`,
      };
    },
  }),

  defineGitTool({
    name: 'git_list_proposals',
    title: 'List edit proposals',
    description:
      'Lists the proposals git_propose_edit stored, newest first: id, repo, branch, file, the size of the change and its description, and for committed ones the commit. Use it to find a proposal made in an earlier conversation; git_commit_proposal takes the id. The diffs themselves are not listed (git_propose_edit returned them).',
    toolset: 'edit',
    input: z.object({
      repo: z.string().min(1).max(64).optional().describe('only proposals for this repository'),
      state: z
        .enum(['open', 'committed', 'all'])
        .default('open')
        .describe('open (not committed yet, the default), committed, or all'),
      limit: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(20)
        .describe('most proposals to return (1-100, default 20)'),
      cursor: z.string().optional().describe('nextCursor from the previous call'),
    }),
    output: z.object({
      proposals: z.array(
        z.object({
          proposalId: z.string(),
          repo: z.string(),
          branch: z.string(),
          path: z.string(),
          baseCommit: z.string(),
          description: z.string(),
          createdAt: z.string(),
          additions: z.number(),
          deletions: z.number(),
          committed: z.object({ commit: z.string(), ref: z.string(), at: z.string() }).optional(),
        }),
      ),
      total: z.number().describe('proposals matching the filter, across all pages'),
      nextCursor: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { proposals }) {
      const query = JSON.stringify([input.repo ?? null, input.state]);
      let after: { createdAt: string; id: string } | undefined;
      if (input.cursor) {
        const state = decodeCursor<{ q?: string; createdAt?: string; id?: string }>(input.cursor);
        if (state.q !== query || typeof state.createdAt !== 'string' || typeof state.id !== 'string') {
          throw new ToolError(
            'invalid_input',
            'This cursor belongs to a different request; repeat the call without a cursor.',
          );
        }
        after = { createdAt: state.createdAt, id: state.id };
      }
      const matching = (await proposals.list())
        .filter((p) => !input.repo || p.repo === input.repo)
        .filter((p) => input.state === 'all' || (input.state === 'committed') === Boolean(p.committed))
        .sort(newestFirst);
      // Keyed on (createdAt, id), not an offset: a proposal made between two pages shifts nothing.
      const rest = after ? matching.filter((p) => newestFirst(p, after as Proposal) > 0) : matching;
      const page = rest.slice(0, input.limit);
      const last = page.at(-1);
      const nextCursor =
        last && rest.length > page.length
          ? encodeCursor({ q: query, createdAt: last.createdAt, id: last.id })
          : undefined;
      const listed = page.map((p) => ({
        proposalId: p.id,
        repo: p.repo,
        branch: p.branch,
        path: p.path,
        baseCommit: p.baseCommit,
        description: p.description,
        createdAt: p.createdAt,
        ...diffSize(p.diff),
        ...(p.committed ? { committed: p.committed } : {}),
      }));
      const lines = listed.map(
        (p) =>
          `${p.proposalId} ${p.repo}:${p.branch} ${p.path} (+${p.additions} -${p.deletions}) ${p.createdAt}${p.committed ? ` committed ${p.committed.commit.slice(0, 12)}` : ''}${p.description ? ` — ${p.description}` : ''}`,
      );
      const text =
        listed.length === 0
          ? `no ${input.state === 'all' ? '' : `${input.state} `}proposals${input.repo ? ` for ${input.repo}` : ''}`
          : `${lines.join('\n')}${nextCursor ? `\n… ${rest.length - page.length} more; pass the cursor.` : ''}`;
      return {
        structured: { proposals: listed, total: matching.length, ...(nextCursor ? { nextCursor } : {}) },
        text,
      };
    },
  }),

  defineGitTool({
    name: 'git_commit_proposal',
    title: 'Commit and push a proposal',
    description:
      "Applies exactly the change of a proposal from git_propose_edit: checks that the branch head is still the proposal's base commit and the file is unchanged (after fetching), commits with the configured identity and pushes fast-forward only to an allowed branch (never force). On any conflict nothing is written. A proposal commits at most once. Returns the commit id and the pushed ref.",
    toolset: 'edit',
    input: z.object({
      proposalId: z.string().min(1).max(64).describe('the id returned by git_propose_edit'),
      message: z.string().min(1).max(5000).describe('the commit message'),
    }),
    output: z.object({
      proposalId: z.string(),
      repo: z.string(),
      branch: z.string(),
      path: z.string(),
      commit: z.string(),
      ref: z.string(),
      pushed: z.boolean(),
    }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async handler(input, { repos, proposals }, { signal }) {
      const proposal = await proposals.get(input.proposalId);
      if (proposal.committed) {
        throw new ToolError(
          'conflict',
          `proposal ${proposal.id} was already committed as ${proposal.committed.commit} (${proposal.committed.ref}) at ${proposal.committed.at}; a proposal commits once.`,
        );
      }
      if ((await repos.hashBlob(proposal.newContent)) !== proposal.newBlob) {
        throw new ToolError(
          'conflict',
          `proposal ${proposal.id} is damaged on disk (its content no longer matches); make a new proposal.`,
        );
      }
      const release = await proposals.claim(proposal.id);
      try {
        // Re-read under the claim: another process may have committed it meanwhile.
        const current = await proposals.get(proposal.id);
        if (current.committed) {
          throw new ToolError(
            'conflict',
            `proposal ${proposal.id} was already committed as ${current.committed.commit}.`,
          );
        }
        const outcome = await repos.commitChange({
          repo: proposal.repo,
          branch: proposal.branch,
          baseCommit: proposal.baseCommit,
          path: proposal.path,
          oldBlob: proposal.oldBlob,
          newContent: proposal.newContent,
          message: input.message,
          signal,
        });
        await proposals.markCommitted(proposal.id, {
          commit: outcome.commit,
          ref: outcome.ref,
          at: new Date().toISOString(),
        });
        return {
          structured: {
            proposalId: proposal.id,
            repo: proposal.repo,
            branch: proposal.branch,
            path: proposal.path,
            ...outcome,
          },
          text: `committed ${outcome.commit.slice(0, 12)} to ${proposal.repo}:${proposal.branch}${outcome.pushed ? ' and pushed' : ''} (${proposal.path})`,
        };
      } finally {
        await release();
      }
    },
  }),
];

/** Newest first; the id breaks ties between proposals made in the same millisecond. */
function newestFirst(a: Pick<Proposal, 'createdAt' | 'id'>, b: Pick<Proposal, 'createdAt' | 'id'>): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Changed lines in a unified diff; the file headers before the first hunk do not count. */
function diffSize(diff: string): { additions: number; deletions: number } {
  let additions = 0;
  let deletions = 0;
  let inHunks = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('@@')) inHunks = true;
    else if (!inHunks) continue;
    else if (line.startsWith('+')) additions++;
    else if (line.startsWith('-')) deletions++;
  }
  return { additions, deletions };
}
