#!/usr/bin/env node
import { z } from 'zod';
import { runServer } from '../program.ts';
import { type SampleDeps, sampleTools } from './sample-tools.ts';

// The kit's stdio and CLI tests spawn this file with Node's type stripping.
await runServer({
  name: 'nightshift-mcp-sample',
  version: '0.0.1',
  summary: 'A sample server for the kit tests.',
  env: z.object({
    SAMPLE_WORDS: z.string().describe('Comma-separated words the server starts with'),
    SAMPLE_LIMIT: z.coerce.number().int().positive().optional().describe('A number, to test validation'),
  }),
  tools: sampleTools,
  setup: (config): SampleDeps => ({ words: config.SAMPLE_WORDS.split(','), calls: [] }),
});
