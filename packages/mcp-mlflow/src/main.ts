#!/usr/bin/env node
import { runServer } from '@nightshift/mcp-kit';
import { program } from './server.ts';

await runServer(program);
