import { createLogger } from '@nightshift/mcp-kit';
import { toolListProblems } from '@nightshift/mcp-kit/testing';
import { describe, expect, it } from 'vitest';
import { call, connect, textOf } from './__fixtures__/harness.ts';
import { mlflowSecrets } from './config.ts';
import { createMlflowDeps } from './mlflow.ts';
import { tools } from './server.ts';

/** Minimal valid arguments per tool, so the not-configured answer is what is tested. */
const minimalArgs: Record<string, Record<string, unknown>> = {
  mlflow_list_experiments: {},
  mlflow_search_runs: {},
  mlflow_get_run: { run_id: 'r' },
  mlflow_list_active_runs: {},
  mlflow_find_run: { query: 'r' },
  mlflow_set_run_tag: { run_id: 'r', key: 'k', value: 'v' },
  mlflow_summarize_metric_history: { run_id: 'r', metric_keys: ['loss'] },
  mlflow_compare_runs: { run_ids: ['a', 'b'] },
  mlflow_plot_metrics: { run_ids: ['a'], metric_keys: ['loss'] },
  mlflow_list_artifacts: { run_id: 'r' },
  mlflow_read_artifact: { run_id: 'r', path: 'x' },
  mlflow_search_registered_models: {},
  mlflow_get_model_version: { name: 'm', version: '1' },
  mlflow_resolve_model_alias: { name: 'm', alias: 'a' },
  mlflow_search_logged_models: {},
  mlflow_set_model_alias: { name: 'm', alias: 'a', version: '1', expected_current_version: null },
  mlflow_delete_model_alias: { name: 'm', alias: 'a', expected_current_version: '1' },
};

describe('the tool list', () => {
  it('is fit to ship: every hint stated, every input described, names unique and prefixed', () => {
    expect(toolListProblems(tools as never)).toEqual([]);
    for (const tool of tools) expect(tool.name).toMatch(/^mlflow_[a-z]+(_[a-z]+)+$/);
  });

  it('marks exactly the alias writes destructive and the tag write as a reversible write', () => {
    const writes = tools
      .filter((t) => !t.annotations.readOnlyHint)
      .map((t) => [t.name, t.annotations.destructiveHint]);
    expect(writes).toEqual([
      ['mlflow_set_run_tag', false],
      ['mlflow_set_model_alias', true],
      ['mlflow_delete_model_alias', true],
    ]);
  });

  it('has a minimal call for every tool in this test', () => {
    expect(Object.keys(minimalArgs).sort()).toEqual(tools.map((t) => t.name).sort());
  });
});

describe('without MLFLOW_TRACKING_URI', () => {
  it('starts, and every tool answers how to configure MLflow', async () => {
    const { client, close } = await connect(createMlflowDeps({}));
    try {
      const listed = await client.listTools();
      expect(listed.tools).toHaveLength(tools.length);
      for (const tool of tools) {
        const result = await call(client, tool.name, minimalArgs[tool.name] ?? {});
        expect(result.isError, tool.name).toBe(true);
        expect(textOf(result), tool.name).toMatch(/MLflow is not configured.*MLFLOW_TRACKING_URI/);
      }
    } finally {
      await close();
    }
  });

  it('explains an unusable tracking URI instead of failing to start', async () => {
    const { client, close } = await connect(createMlflowDeps({ MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' }));
    try {
      const result = await call(client, 'mlflow_list_experiments', {});
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/MLFLOW_TRACKING_URI is unusable.*http/);
    } finally {
      await close();
    }
  });
});

describe('credentials', () => {
  it('are all registered as secrets, including a password inside the URI', () => {
    const secrets = mlflowSecrets({
      MLFLOW_TRACKING_URI: 'http://u:in%2Furi-pass@host:5000',
      MLFLOW_TRACKING_PASSWORD: 'pw-1234',
      MLFLOW_TRACKING_TOKEN: 'tok-5678',
    });
    expect(secrets).toEqual(expect.arrayContaining(['pw-1234', 'tok-5678', 'in%2Furi-pass', 'in/uri-pass']));
  });

  it('are redacted by the logger the program sets up', () => {
    const lines: string[] = [];
    const config = {
      MLFLOW_TRACKING_URI: 'http://alice:uri-pass-42@host:5000',
      MLFLOW_TRACKING_PASSWORD: 'pw-secret-1',
      MLFLOW_TRACKING_TOKEN: 'tok-secret-2',
    };
    const logger = createLogger('t', { write: (line) => lines.push(line), secrets: mlflowSecrets(config) });
    logger.info(`uri ${config.MLFLOW_TRACKING_URI}`, { password: 'pw-secret-1', token: 'tok-secret-2' });
    expect(lines.join('\n')).not.toMatch(/uri-pass-42|pw-secret-1|tok-secret-2/);
    expect(lines.join('\n')).toContain('[redacted]');
  });

  it('never appear in an answer when the server is unreachable', async () => {
    const { client, close } = await connect(
      createMlflowDeps({
        MLFLOW_TRACKING_URI: 'http://alice:uri-secret-77@127.0.0.1:1',
        MLFLOW_TRACKING_PASSWORD: 'pw-secret-88',
        NIGHTSHIFT_MLFLOW_TIMEOUT_MS: 2000,
      }),
    );
    try {
      const result = await call(client, 'mlflow_list_experiments', {});
      expect(result.isError).toBe(true);
      const text = textOf(result);
      expect(text).toContain('http://127.0.0.1:1');
      expect(text).toMatch(/unreachable/);
      expect(JSON.stringify(result)).not.toMatch(/uri-secret-77|pw-secret-88|alice/);
    } finally {
      await close();
    }
  });
});
