import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectInMemory } from '@nightshift/mcp-kit/testing';
import { DatasetStore } from '../datasets.ts';
import { createServer } from '../server.ts';
import { makeRoot } from './make-datasets.ts';

export interface Harness {
  root: string;
  client: Client;
  store: DatasetStore;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** A generated datasets root served by a real MCP server, reached by the real SDK client in memory. */
export async function harness(build: (root: string) => void = makeRoot): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'ns-datasets-tools-'));
  build(root);
  const store = new DatasetStore({ root, cacheDir: join(root, '.cache') });
  const connected = await connectInMemory(createServer({ store }));
  return {
    root,
    client: connected.client,
    store,
    call: async (name, args = {}) =>
      (await connected.client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await connected.close();
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The text of a result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}
