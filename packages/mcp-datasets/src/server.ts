import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpServer, type RegisterOptions, type ServerProgram } from '@nightshift/mcp-kit';
import { cacheDirFor, datasetsEnv } from './config.ts';
import { DatasetStore } from './datasets.ts';
import { analysisTools } from './tools/analysis.ts';
import { catalogTools } from './tools/catalog.ts';
import type { DatasetsDeps } from './tools/define.ts';
import { sampleTools } from './tools/samples.ts';

/** Every tool this server offers, in the order clients list them. */
export const datasetsTools = [...catalogTools, ...analysisTools, ...sampleTools];

declare const process: NodeJS.Process & { env: { NIGHTSHIFT_PACKAGE_VERSION?: string } };

/** The server as data: `runServer(datasetsProgram)` serves it; tests build it with `createServer`. */
export const datasetsProgram: ServerProgram<typeof datasetsEnv, DatasetsDeps> = {
  name: 'nightshift-mcp-datasets',
  version: process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.1.0',
  summary:
    'Read-only MCP server for vision datasets (YOLO, COCO, image folders): versions, stats, validation, drift.',
  instructions:
    'Vision datasets under one root, each with versions. Start with datasets_list_datasets, then datasets_list_versions. ' +
    'datasets_get_stats describes a version, datasets_validate_version finds defects (corrupt images, bad labels, duplicates, train/val leakage), ' +
    'datasets_diff_versions tells what changed between versions and whether the class or box-size mix shifted, ' +
    'datasets_sample_images shows examples (optionally as a PNG contact sheet). Everything is read-only; the first scan of a large version takes a while and reports progress, later calls are cached.',
  env: datasetsEnv,
  tools: datasetsTools,
  setup(config) {
    return {
      store: new DatasetStore({ root: config.NIGHTSHIFT_DATASETS_ROOT, cacheDir: cacheDirFor(config) }),
    };
  },
  teardown(deps) {
    deps.store.close();
  },
};

/** Builds an MCP server over a datasets root, for tests and embedding. */
export function createServer(deps: DatasetsDeps, options: RegisterOptions = {}): McpServer {
  return createMcpServer(datasetsProgram, deps, options);
}
