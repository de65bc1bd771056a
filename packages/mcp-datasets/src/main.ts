#!/usr/bin/env node
import { runServer } from '@nightshift/mcp-kit';
import { datasetsProgram } from './server.ts';

await runServer(datasetsProgram);
