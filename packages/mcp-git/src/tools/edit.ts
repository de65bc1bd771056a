import { type AnyTool, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { applySets, formatOf, replaceText } from '../config-files.ts';
import { branchRefused } from '../git.ts';
import { isBinary, textPatch } from '../patch.ts';
import { repoPath } from '../paths.ts';
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
