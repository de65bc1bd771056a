#!/usr/bin/env node
import { runServer } from '@nightshift/mcp-kit';
import { gitProgram } from './server.ts';

await runServer(gitProgram);
