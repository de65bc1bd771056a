import { type ToolContext, ToolError, toolDefiner } from '@nightshift/mcp-kit';
import { z } from 'zod';
import type { DatasetStore } from '../datasets.ts';
import type { ProgressFn } from '../scanner.ts';

/** What every datasets tool handler receives. */
export interface DatasetsDeps {
  store: DatasetStore;
}

export const defineDatasetsTool = toolDefiner<DatasetsDeps>();

/** Every datasets tool only reads. */
export const readOnly = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
} as const;

export const datasetName = z
  .string()
  .min(1)
  .max(200)
  .describe('dataset name as listed by datasets_list_datasets');
export const versionName = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .describe('version name as listed by datasets_list_versions; the latest version when omitted');

export const scanInfo = z
  .object({
    files: z.number().describe('files in the version folder'),
    read: z.number().describe('files read from disk in this call'),
    cached: z.number().describe('files whose cached record was reused'),
    walked: z.boolean().describe('whether the folder was walked (false: only changed paths were looked at)'),
    ms: z.number(),
  })
  .describe('how this call scanned the version');

/** Progress for a long scan as MCP progress notifications; stops the scan when the client cancels. */
export function progressOf(context: ToolContext): ProgressFn {
  return async (done, total, message) => {
    if (context.signal.aborted) throw new ToolError('refused', 'The scan was cancelled by the client.');
    await context.progress({ progress: done, total, message });
  };
}
