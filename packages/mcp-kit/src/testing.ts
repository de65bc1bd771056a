import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AnyTool } from './define-tool.ts';

/** Test helpers for Nightshift servers; framework-free so any runner can use them. */

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

/** Connects the real SDK client to `server` over a linked in-memory pair (the real protocol path). */
export async function connectInMemory(server: McpServer): Promise<ConnectedClient> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'nightshift-test', version: '0.0.0' });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  return {
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

export interface SpawnedServer extends ConnectedClient {
  /** Everything the server wrote to stderr so far (its logs). */
  stderr(): string;
}

/** Spawns a server process (e.g. a built bin) and connects the real SDK client over stdio. */
export async function spawnStdioServer(
  command: string,
  args: string[] = [],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<SpawnedServer> {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stderr: 'pipe',
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'nightshift-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

/**
 * The model-facing contract of a tool list, as stable JSON for a snapshot: a change to a
 * name, description, schema or hint then shows up as a reviewed diff.
 */
export function toolContract(tools: readonly AnyTool<never>[]): unknown[] {
  return tools.map((tool) => ({
    name: tool.name,
    title: tool.title,
    toolset: tool.toolset,
    description: tool.description,
    annotations: tool.annotations,
    inputSchema: z.toJSONSchema(tool.input, { io: 'input' }),
    outputSchema: z.toJSONSchema(tool.output, { io: 'output' }),
  }));
}

/**
 * Problems that make a tool list unfit to ship: unstated hints, input fields without a
 * description, duplicate names. An empty list means fit.
 */
export function toolListProblems(tools: readonly AnyTool<never>[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const tool of tools) {
    if (seen.has(tool.name)) problems.push(`${tool.name}: duplicate name`);
    seen.add(tool.name);
    for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint'] as const) {
      if (typeof tool.annotations?.[hint] !== 'boolean')
        problems.push(`${tool.name}: annotations.${hint} not stated`);
    }
    if (!tool.description || tool.description.length < 20)
      problems.push(`${tool.name}: description too short`);
    for (const [field, schema] of Object.entries(tool.input.shape)) {
      if (!(schema as z.ZodType).description)
        problems.push(`${tool.name}: input field "${field}" has no .describe()`);
    }
  }
  return problems;
}
