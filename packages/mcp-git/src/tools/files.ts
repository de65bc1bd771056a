import { type AnyTool, decodeCursor, encodeCursor, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { formatKeyPath, formatOf, lookup, parseConfig, parseKeyPath } from '../config-files.ts';
import { isBinary } from '../patch.ts';
import { repoDir, repoPath } from '../paths.ts';
import { defineGitTool, type GitDeps } from './define.ts';

const repoName = z.string().min(1).max(64).describe('repository name as listed by git_list_repos');
const refField = z
  .string()
  .max(200)
  .optional()
  .describe('branch, tag or commit id (default: the default branch)');

/** Files larger than this are skipped by grep (training configs are small; this keeps a search bounded). */
const grepMaxFileBytes = 1024 * 1024;
const maxLineChars = 300;

/** A cursor is only valid for the query it came from (`query` holds that query's fields). */
function cursorState<T extends Record<string, unknown>>(cursor: string, repo: string, query: unknown): T {
  const state = decodeCursor<T>(cursor);
  if (state.repo !== repo || typeof state.commit !== 'string' || state.q !== JSON.stringify(query)) {
    throw new ToolError(
      'invalid_input',
      'This cursor belongs to a different request; repeat the call without a cursor.',
    );
  }
  return state;
}

/**
 * A line predicate for git_grep. Patterns come from a model or a person, so a regular expression
 * runs on RE2 (linear time): a pattern like `(a+)+$` cannot stall the server as a backtracking
 * engine would. Fixed strings need no engine at all.
 */
async function lineMatcher(
  pattern: string,
  ignoreCase: boolean,
  fixedString: boolean,
): Promise<(line: string) => boolean> {
  if (fixedString) {
    if (!ignoreCase) return (line) => line.includes(pattern);
    const needle = pattern.toLowerCase();
    return (line) => line.toLowerCase().includes(needle);
  }
  const { RE2JS } = await import('re2js');
  try {
    const regex = RE2JS.compile(RE2JS.translateRegExp(pattern), ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
    return (line) => regex.test(line);
  } catch (error) {
    const reason = (error as Error).message;
    let validElsewhere = true;
    try {
      new RegExp(pattern);
    } catch {
      validElsewhere = false;
    }
    throw new ToolError(
      'invalid_input',
      validElsewhere
        ? `pattern uses a construct the linear-time matcher does not support (lookahead, lookbehind or a backreference): ${reason}; rewrite it without that construct, or set fixedString: true to search literally.`
        : `pattern is not a valid regular expression (${reason}); correct it, or set fixedString: true to search literally.`,
    );
  }
}

export const fileTools: AnyTool<GitDeps>[] = [
  defineGitTool({
    name: 'git_show_file',
    title: 'Show a file at a ref',
    description:
      'Reads one file at a ref (default: the default branch), optionally a line range. Output is capped at maxBytes; the result says how many lines the file has so you can ask for the next range. For a single setting in a YAML/JSON/TOML config, git_read_config_value is shorter.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      path: z.string().min(1).max(1000).describe('repository-relative file path, e.g. "configs/train.yaml"'),
      ref: refField,
      startLine: z.number().int().min(1).optional().describe('first line to return (1-based, default 1)'),
      endLine: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('last line to return (inclusive, default: end of file)'),
      maxBytes: z
        .number()
        .int()
        .min(256)
        .max(256 * 1024)
        .default(64 * 1024)
        .describe('cap on returned content in bytes (default 65536)'),
    }),
    output: z.object({
      repo: z.string(),
      commit: z.string(),
      path: z.string(),
      resolvedPath: z.string(),
      blob: z.string(),
      size: z.number(),
      binary: z.boolean(),
      totalLines: z.number(),
      startLine: z.number(),
      endLine: z.number(),
      truncated: z.boolean(),
      content: z.string(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }) {
      const repo = repos.repo(input.repo);
      const path = repoPath(input.path);
      const commit = await repos.resolveCommit(repo, input.ref);
      const file = await repos.readFile(repo, commit, path);
      const base = {
        repo: repo.name,
        commit,
        path,
        resolvedPath: file.resolvedPath,
        blob: file.oid,
        size: file.bytes.length,
      };
      if (isBinary(file.bytes)) {
        return {
          structured: {
            ...base,
            binary: true,
            totalLines: 0,
            startLine: 0,
            endLine: 0,
            truncated: false,
            content: '',
          },
          text: `${path} is binary (${file.bytes.length} bytes); not shown.`,
        };
      }
      const lines = Buffer.from(file.bytes).toString('utf8').split('\n');
      if (lines.at(-1) === '') lines.pop();
      const startLine = input.startLine ?? 1;
      if (startLine > Math.max(lines.length, 1)) {
        throw new ToolError(
          'invalid_input',
          `${path} has ${lines.length} lines; startLine ${startLine} is past the end.`,
        );
      }
      let endLine = Math.min(input.endLine ?? lines.length, lines.length);
      if (endLine < startLine) throw new ToolError('invalid_input', 'endLine must not be before startLine.');
      let content = '';
      let truncated = false;
      for (let n = startLine; n <= endLine; n++) {
        const line = `${lines[n - 1]}\n`;
        if (Buffer.byteLength(content) + Buffer.byteLength(line) > input.maxBytes) {
          truncated = true;
          endLine = n - 1;
          break;
        }
        content += line;
      }
      const note = truncated
        ? `\n… cut at ${input.maxBytes} bytes after line ${endLine} of ${lines.length}; continue with startLine ${endLine + 1}.`
        : '';
      return {
        structured: {
          ...base,
          binary: false,
          totalLines: lines.length,
          startLine,
          endLine,
          truncated,
          content,
        },
        text: `${path} @ ${commit.slice(0, 12)} (lines ${startLine}-${endLine} of ${lines.length})\n${content}${note}`,
      };
    },
  }),

  defineGitTool({
    name: 'git_list_files',
    title: 'List files',
    description:
      'Lists files at a ref (default: the default branch), optionally under a directory and matching a glob such as "**/*.yaml". Pages with a cursor; the total says how many match.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      ref: refField,
      dir: z.string().max(1000).optional().describe('only files under this directory (repository-relative)'),
      glob: z
        .string()
        .max(500)
        .optional()
        .describe('only paths matching this glob, e.g. "configs/**/*.yaml"'),
      limit: z.number().int().min(1).max(1000).default(200).describe('files per page (1-1000, default 200)'),
      cursor: z.string().optional().describe('nextCursor from the previous page'),
    }),
    output: z.object({
      repo: z.string(),
      commit: z.string(),
      files: z.array(z.object({ path: z.string(), kind: z.enum(['blob', 'executable', 'symlink']) })),
      total: z.number(),
      nextCursor: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }) {
      const repo = repos.repo(input.repo);
      const dir = repoDir(input.dir);
      const query = [dir, input.glob ?? null];
      let commit: string;
      let offset = 0;
      if (input.cursor) {
        const state = cursorState<{ repo: string; commit: string; offset: number }>(
          input.cursor,
          repo.name,
          query,
        );
        commit = state.commit;
        offset = Number(state.offset) || 0;
      } else {
        commit = await repos.resolveCommit(repo, input.ref);
      }
      let files = await repos.listFiles(repo, commit, dir);
      if (input.glob) {
        const { default: picomatch } = await import('picomatch');
        const match = picomatch(input.glob, { dot: true });
        files = files.filter((f) => match(f.path));
      }
      const page = files.slice(offset, offset + input.limit).map((f) => ({ path: f.path, kind: f.kind }));
      const next = offset + page.length;
      const nextCursor =
        next < files.length
          ? encodeCursor({ repo: repo.name, commit, offset: next, q: JSON.stringify(query) })
          : undefined;
      const text =
        page.length === 0
          ? 'no files match'
          : `${page.map((f) => f.path + (f.kind === 'symlink' ? ' (symlink)' : '')).join('\n')}${nextCursor ? `\n… ${files.length - next} more; pass the cursor.` : ''}`;
      return {
        structured: {
          repo: repo.name,
          commit,
          files: page,
          total: files.length,
          ...(nextCursor ? { nextCursor } : {}),
        },
        text,
      };
    },
  }),

  defineGitTool({
    name: 'git_grep',
    title: 'Search file contents',
    description:
      'Searches text files at a ref for a regular expression (or a fixed string), optionally only in paths matching a glob. Returns at most maxHits matching lines (path, line number, text) and a cursor to continue. Matching takes time linear in the text (RE2 semantics: no lookahead or backreferences). Binary files and files over 1 MiB are skipped.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      pattern: z
        .string()
        .min(1)
        .max(500)
        .describe(
          'Regular expression in JavaScript syntax without lookahead or backreferences, e.g. "image_size:\\s*\\d+" (or a plain string with fixedString)',
        ),
      ref: refField,
      glob: z.string().max(500).optional().describe('only search paths matching this glob, e.g. "**/*.yaml"'),
      ignoreCase: z.boolean().default(false).describe('case-insensitive match'),
      fixedString: z
        .boolean()
        .default(false)
        .describe('treat pattern as a literal string, not a regular expression'),
      maxHits: z
        .number()
        .int()
        .min(1)
        .max(500)
        .default(50)
        .describe('most matching lines to return (1-500, default 50)'),
      cursor: z.string().optional().describe('nextCursor from the previous call'),
    }),
    output: z.object({
      repo: z.string(),
      commit: z.string(),
      hits: z.array(z.object({ path: z.string(), line: z.number(), text: z.string() })),
      filesSearched: z.number(),
      nextCursor: z.string().optional(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }, { signal }) {
      const repo = repos.repo(input.repo);
      const matches = await lineMatcher(input.pattern, input.ignoreCase, input.fixedString);
      const query = [input.pattern, input.glob ?? null, input.ignoreCase, input.fixedString];
      let commit: string;
      let fileIndex = 0;
      let skip = 0;
      if (input.cursor) {
        const state = cursorState<{ repo: string; commit: string; file: number; skip: number }>(
          input.cursor,
          repo.name,
          query,
        );
        commit = state.commit;
        fileIndex = Number(state.file) || 0;
        skip = Number(state.skip) || 0;
      } else {
        commit = await repos.resolveCommit(repo, input.ref);
      }
      let files = (await repos.listFiles(repo, commit)).filter((f) => f.kind !== 'symlink');
      if (input.glob) {
        const { default: picomatch } = await import('picomatch');
        const match = picomatch(input.glob, { dot: true });
        files = files.filter((f) => match(f.path));
      }
      const hits: Array<{ path: string; line: number; text: string }> = [];
      let searched = 0;
      let nextCursor: string | undefined;
      outer: for (let i = fileIndex; i < files.length; i++) {
        if (signal.aborted) throw new ToolError('timeout', 'the search was cancelled.');
        const file = files[i] as (typeof files)[number];
        const bytes = await repos.readBlob(repo, file.oid);
        searched++;
        if (bytes.length > grepMaxFileBytes || isBinary(bytes)) continue;
        const lines = Buffer.from(bytes).toString('utf8').split('\n');
        let seenInFile = 0;
        for (let n = 0; n < lines.length; n++) {
          const line = lines[n] as string;
          if (!matches(line)) continue;
          seenInFile++;
          if (i === fileIndex && seenInFile <= skip) continue;
          if (hits.length === input.maxHits) {
            nextCursor = encodeCursor({
              repo: repo.name,
              commit,
              file: i,
              skip: seenInFile - 1,
              q: JSON.stringify(query),
            });
            break outer;
          }
          hits.push({
            path: file.path,
            line: n + 1,
            text: line.length > maxLineChars ? `${line.slice(0, maxLineChars)}…` : line,
          });
        }
      }
      const text =
        hits.length === 0
          ? `no matches in ${searched} file(s)`
          : `${hits.map((h) => `${h.path}:${h.line}: ${h.text}`).join('\n')}${nextCursor ? `\n… more matches; pass the cursor or narrow with glob.` : ''}`;
      return {
        structured: {
          repo: repo.name,
          commit,
          hits,
          filesSearched: searched,
          ...(nextCursor ? { nextCursor } : {}),
        },
        text,
      };
    },
  }),

  defineGitTool({
    name: 'git_read_config_value',
    title: 'Read a config value',
    description:
      'Reads one value from a YAML, JSON or TOML file by key path, e.g. key "train.image_size" or "model.classes[0]", at a ref (default: the default branch). When the key is missing, the error lists the keys that exist there.',
    toolset: 'read',
    input: z.object({
      repo: repoName,
      path: z
        .string()
        .min(1)
        .max(1000)
        .describe('repository-relative path of a .yaml, .yml, .json or .toml file'),
      key: z.string().min(1).max(500).describe('key path with dots and [index], e.g. "train.image_size"'),
      ref: refField,
    }),
    output: z.object({
      repo: z.string(),
      commit: z.string(),
      path: z.string(),
      key: z.string(),
      format: z.enum(['yaml', 'json', 'toml']),
      type: z.string(),
      value: z.unknown(),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(input, { repos }) {
      const repo = repos.repo(input.repo);
      const path = repoPath(input.path);
      const format = formatOf(path);
      const keyPath = parseKeyPath(input.key);
      const commit = await repos.resolveCommit(repo, input.ref);
      const file = await repos.readFile(repo, commit, path);
      const data = await parseConfig(Buffer.from(file.bytes).toString('utf8'), format, path);
      const found = lookup(data, keyPath);
      if (!found.found) {
        const where =
          found.existing.length > 0 ? ` under ${formatKeyPath(found.existing)}` : ' at the top level';
        throw new ToolError(
          'not_found',
          `key ${input.key} not found in ${path}${where}; keys there: ${found.available.join(', ') || 'none'}.`,
        );
      }
      const value = found.value instanceof Date ? found.value.toISOString() : found.value;
      const json = JSON.stringify(value) ?? 'null';
      if (json.length > 16 * 1024) {
        throw new ToolError(
          'too_large',
          `${input.key} in ${path} is ${json.length} bytes; read a deeper key or use git_show_file with a line range.`,
        );
      }
      const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
      return {
        structured: { repo: repo.name, commit, path, key: input.key, format, type, value },
        text: `${path} ${input.key} = ${json}`,
      };
    },
  }),
];
