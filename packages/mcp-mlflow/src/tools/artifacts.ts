import { paginate, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { defineMlflowTool } from '../mlflow.ts';
import { cursorInput, runIdInput } from './shared.ts';

const listArtifacts = defineMlflowTool({
  name: 'mlflow_list_artifacts',
  title: 'List artifacts',
  description:
    'Lists the artifacts of a run in one directory (top level by default): path, whether it is a directory, ' +
    'size. Read text files with mlflow_read_artifact.',
  toolset: 'artifacts',
  input: z.object({
    run_id: runIdInput,
    path: z
      .string()
      .optional()
      .describe('Directory inside the run’s artifacts, e.g. "checkpoints"; omit for the top'),
    limit: z.number().int().min(1).max(500).default(100).describe('Entries per page (default 100)'),
    cursor: cursorInput,
  }),
  output: z.object({
    runId: z.string(),
    path: z.string(),
    files: z.array(z.object({ path: z.string(), isDir: z.boolean(), size: z.number().nullable() })),
    total: z.number(),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'Find the run with mlflow_find_run; list the top level without `path`.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const path = (input.path ?? '').replace(/^\/+|\/+$/g, '');
    const all = [];
    let pageToken: string | undefined;
    do {
      const page = await client.listArtifacts({
        runId: input.run_id,
        path: path || undefined,
        pageToken,
        signal: ctx.signal,
      });
      all.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken && all.length < 10_000);
    if (all.length === 0 && path) {
      // MLflow answers an empty list for a path that does not exist; say which.
      const top = await client.listArtifacts({ runId: input.run_id, signal: ctx.signal });
      throw new ToolError(
        'not_found',
        `Run ${input.run_id} has no artifacts under "${path}". Top level: ${
          top.items.map((f) => f.path + (f.is_dir ? '/' : '')).join(', ') || 'nothing'
        }.`,
      );
    }
    const files = all.map((f) => ({ path: f.path, isDir: f.is_dir, size: f.file_size ?? null }));
    const page = paginate(files, { cursor: input.cursor, limit: input.limit });
    return {
      structured: {
        runId: input.run_id,
        path,
        files: page.items,
        total: page.total,
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      },
      text:
        page.items.length === 0
          ? `Run ${input.run_id} has no artifacts.`
          : page.items.map((f) => (f.isDir ? `${f.path}/` : `${f.path}\t${f.size ?? '?'} B`)).join('\n') +
            (page.nextCursor ? `\nmore: cursor ${page.nextCursor}` : ''),
    };
  },
});

const readArtifact = defineMlflowTool({
  name: 'mlflow_read_artifact',
  title: 'Read a text artifact',
  description:
    'Reads a text artifact of a run (configs, logs), capped at `max_bytes`: the start of the file, or its end ' +
    'with from="end" (the last lines of a training log). Binary files are refused.',
  toolset: 'artifacts',
  input: z.object({
    run_id: runIdInput,
    path: z.string().min(1).describe('File path inside the run’s artifacts, e.g. "config/train.yaml"'),
    max_bytes: z
      .number()
      .int()
      .min(256)
      .max(262_144)
      .default(16_384)
      .describe('At most this many bytes (default 16384)'),
    from: z.enum(['start', 'end']).default('start').describe('Read the start of the file, or its end (logs)'),
  }),
  output: z.object({
    runId: z.string(),
    path: z.string(),
    text: z.string(),
    bytesReturned: z.number(),
    truncated: z.boolean(),
    from: z.enum(['start', 'end']),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: 'List the run’s files with mlflow_list_artifacts.' },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    // For the end of a file read up to 8 MiB and keep the tail: the artifact API has no ranges.
    const limit = input.from === 'end' ? 8 * 1024 * 1024 : input.max_bytes;
    const file = await client.downloadArtifact({
      runId: input.run_id,
      path: input.path,
      maxBytes: limit + 1,
      signal: ctx.signal,
    });
    if (file.bytes.subarray(0, 8192).includes(0)) {
      throw new ToolError(
        'invalid_input',
        `${input.path} looks binary (it contains NUL bytes); only text artifacts can be read. Its size is in mlflow_list_artifacts.`,
      );
    }
    let bytes = file.bytes;
    let truncated = file.truncated || bytes.length > input.max_bytes;
    if (input.from === 'end') {
      if (bytes.length > input.max_bytes) {
        bytes = bytes.subarray(bytes.length - input.max_bytes);
        // Start on a line boundary so the first line is whole.
        const newline = bytes.indexOf(10);
        if (newline >= 0 && newline < bytes.length - 1) bytes = bytes.subarray(newline + 1);
        truncated = true;
      }
    } else if (bytes.length > input.max_bytes) {
      bytes = bytes.subarray(0, input.max_bytes);
    }
    let text = bytes.toString('utf8');
    if (text.startsWith('\uFFFD')) text = text.slice(1);
    if (text.endsWith('\uFFFD')) text = text.slice(0, -1);
    const note = truncated
      ? input.from === 'end'
        ? `[… earlier content cut; showing the last ${bytes.length} bytes]\n`
        : `\n[… cut at ${bytes.length} bytes; raise max_bytes or read from="end"]`
      : '';
    return {
      structured: {
        runId: input.run_id,
        path: input.path,
        text,
        bytesReturned: bytes.length,
        truncated,
        from: input.from,
      },
      text: input.from === 'end' ? note + text : text + note,
    };
  },
});

/** Run artifacts: listing and reading text files. */
export const artifactTools = [listArtifacts, readArtifact];
