#!/usr/bin/env node
// Reuses V8's compiled code across starts: MCP clients spawn every server at start-up.
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/bundle/main.js');
