#!/usr/bin/env node
import { runServer } from '@nightshift/mcp-kit';
import { aiquProgram } from './server.ts';

await runServer(aiquProgram);
