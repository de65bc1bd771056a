import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type AnyTool, createMcpServer, type RegisterOptions, type ServerProgram } from '@nightshift/mcp-kit';
import { mlflowEnv, mlflowSecrets } from './config.ts';
import { createMlflowDeps, type MlflowDeps } from './mlflow.ts';
import { artifactTools } from './tools/artifacts.ts';
import { metricTools } from './tools/metrics.ts';
import { registryTools } from './tools/registry.ts';
import { runTools } from './tools/runs.ts';

/** Every tool, in the order clients list them; one array drives registration, docs and filters. */
export const tools: readonly AnyTool<MlflowDeps>[] = [
  ...runTools,
  ...metricTools,
  ...artifactTools,
  ...registryTools,
];

/** The whole server as data; `runServer(program)` serves it. */
export const program: ServerProgram<typeof mlflowEnv, MlflowDeps> = {
  name: 'nightshift-mcp-mlflow',
  version: process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.1.0',
  summary: 'MCP server for MLflow: experiments, runs, metric histories, artifacts and the model registry.',
  instructions:
    'MLflow tools. Find runs with mlflow_find_run (partial id, name, or latest failed/running) or ' +
    'mlflow_search_runs (MLflow filter grammar); mlflow_list_active_runs shows what is running and what went ' +
    'quiet. Prefer mlflow_summarize_metric_history over raw histories: it states points existing/read/returned ' +
    'and flags plateaus, NaN/inf, divergence and overfitting. Alias changes need the alias’s current version ' +
    '(mlflow_resolve_model_alias) and are refused if it moved.',
  env: mlflowEnv,
  tools,
  setup: (config, logger) => {
    // The configured URI is logged as given: credentials inside it are redacted by the logger.
    if (config.MLFLOW_TRACKING_URI) logger.info(`MLflow tracking URI: ${config.MLFLOW_TRACKING_URI}`);
    else logger.warn('MLFLOW_TRACKING_URI is not set: every tool will answer how to configure MLflow');
    return createMlflowDeps(config);
  },
  secrets: mlflowSecrets,
};

/** Builds a server on given dependencies: what tests use. */
export function createServer(deps: MlflowDeps, options: RegisterOptions = {}): McpServer {
  return createMcpServer(program, deps, options);
}
