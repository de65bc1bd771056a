#!/usr/bin/env node
// A plain SDK server without annotations whose tool list grows at run time: calling
// `dyn_add_tool` registers `dyn_late`, and the SDK sends notifications/tools/list_changed.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'fixture-dynamic', version: '0.0.0' });
server.registerTool('dyn_add_tool', { description: 'Adds the dyn_late tool.' }, async () => {
  server.registerTool('dyn_late', { description: 'A tool that appeared later.' }, async () => ({
    content: [{ type: 'text', text: 'late tool ran' }],
  }));
  return { content: [{ type: 'text', text: 'added' }] };
});
// A name some providers reject (dots): the host must expose it under a safe name.
server.registerTool('dyn.dotted', { description: 'A tool with a dotted name.' }, async () => ({
  content: [{ type: 'text', text: 'dotted ran' }],
}));
await server.connect(new StdioServerTransport());
