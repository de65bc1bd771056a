import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectInMemory } from '@nightshift/mcp-kit/testing';
import { MlflowClient } from '@nightshift/mlflow-client';
import { createMlflowDeps, type MlflowDeps } from '../mlflow.ts';
import { createServer } from '../server.ts';

/** Test plumbing shared by the tool tests: a real MLflow server, the real SDK client in memory. */

export const mlflowUri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;
export const unique = () => `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

export function seedClient(): MlflowClient {
  return new MlflowClient({ trackingUri: mlflowUri ?? 'http://127.0.0.1:1' });
}

export async function connect(deps: MlflowDeps = createMlflowDeps({ MLFLOW_TRACKING_URI: mlflowUri })) {
  return connectInMemory(createServer(deps));
}

export interface ToolResult {
  content: CallToolResult['content'];
  isError?: boolean | undefined;
  structuredContent: Record<string, unknown>;
}

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  // Reading a 100k-point history from a busy two-core MLflow server takes a while.
  const result = (await client.callTool({ name, arguments: args }, undefined, {
    timeout: 170_000,
  })) as CallToolResult;
  // Error results carry no structured content; an empty object keeps assertions simple.
  return {
    content: result.content,
    isError: result.isError,
    structuredContent: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

export const textOf = (result: Pick<CallToolResult, 'content'>) =>
  result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');

/** Logs `points` as metric `key` in batches of 1000 (MLflow's per-call limit). */
export async function logSeries(
  client: MlflowClient,
  runId: string,
  key: string,
  values: readonly number[],
  options: { timestamp?: number; firstStep?: number } = {},
) {
  const timestamp = options.timestamp ?? Date.now();
  for (let from = 0; from < values.length; from += 1000) {
    await client.logBatch({
      runId,
      metrics: values.slice(from, from + 1000).map((value, i) => ({
        key,
        value,
        timestamp,
        step: (options.firstStep ?? 0) + from + i,
      })),
    });
  }
}
