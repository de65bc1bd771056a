import { fileURLToPath } from 'node:url';
import { spawnStdioServer } from '@nightshift/mcp-kit/testing';
import { MlflowClient } from '@nightshift/mlflow-client';
import { describe, expect, it } from 'vitest';

// Spawns the BUILT bin (run `pnpm build` first) over stdio with the real SDK client.
const bin = fileURLToPath(new URL('../bin/nightshift-mcp-mlflow.js', import.meta.url));
const authUri = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_URI;
const user = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_USERNAME ?? 'admin';
const password = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_PASSWORD ?? '';

type Result = {
  isError?: boolean;
  content: Array<{ type: string; text?: string; data?: string; mimeType?: string }>;
  structuredContent?: Record<string, unknown>;
};
const text = (r: Result) => r.content.map((c) => c.text ?? '').join('\n');

describe('nightshift-mcp-mlflow over stdio', () => {
  it('starts without MLFLOW_TRACKING_URI and answers how to configure', async () => {
    const server = await spawnStdioServer(process.execPath, [bin]);
    try {
      const { tools } = await server.client.listTools();
      expect(tools.map((t) => t.name)).toContain('mlflow_search_runs');
      const result = (await server.client.callTool({
        name: 'mlflow_list_active_runs',
        arguments: {},
      })) as Result;
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/MLflow is not configured.*MLFLOW_TRACKING_URI/);
    } finally {
      await server.close();
    }
  });

  it('drops the write tools with --read-only', async () => {
    const server = await spawnStdioServer(process.execPath, [bin, '--read-only']);
    try {
      const names = (await server.client.listTools()).tools.map((t) => t.name);
      expect(names).toHaveLength(14);
      expect(names).not.toContain('mlflow_set_model_alias');
      expect(names).not.toContain('mlflow_set_run_tag');
    } finally {
      await server.close();
    }
  });

  describe.skipIf(!authUri)('against a real MLflow server with basic auth', () => {
    it('reads, summarizes, plots and tags with credentials that never leak', async () => {
      const seed = new MlflowClient({ trackingUri: authUri ?? '', username: user, password });
      const experimentId = await seed.createExperiment(`e2e-${process.pid}-${Date.now()}`);
      const run = await seed.createRun({ experimentId, runName: 'e2e-run' });
      const runId = run.info.run_id;
      await seed.logBatch({
        runId,
        params: [{ key: 'lr', value: '0.01' }],
        metrics: Array.from({ length: 50 }, (_, i) => ({
          key: 'loss',
          value: 1 / (i + 1),
          timestamp: Date.now(),
          step: i,
        })),
      });

      const server = await spawnStdioServer(process.execPath, [bin], {
        env: {
          MLFLOW_TRACKING_URI: authUri ?? '',
          MLFLOW_TRACKING_USERNAME: user,
          MLFLOW_TRACKING_PASSWORD: password,
          NIGHTSHIFT_LOG_LEVEL: 'debug',
        },
      });
      const results: Result[] = [];
      const callTool = async (name: string, args: Record<string, unknown>) => {
        const result = (await server.client.callTool({ name, arguments: args })) as Result;
        results.push(result);
        return result;
      };
      try {
        expect((await server.client.listTools()).tools).toHaveLength(17);
        const found = await callTool('mlflow_find_run', { query: runId.slice(0, 12) });
        expect(found.structuredContent?.matches).toEqual([
          expect.objectContaining({ runId, runName: 'e2e-run' }),
        ]);
        const summary = await callTool('mlflow_summarize_metric_history', {
          run_id: runId,
          metric_keys: ['loss'],
        });
        expect(summary.structuredContent?.summaries).toEqual([
          expect.objectContaining({ pointsExisting: 50, min: { step: 49, value: 0.02 }, exact: true }),
        ]);
        const plot = await callTool('mlflow_plot_metrics', { run_ids: [runId], metric_keys: ['loss'] });
        const image = plot.content.find((c) => c.type === 'image');
        expect(image?.mimeType, text(plot)).toBe('image/png');
        expect(
          Buffer.from(image?.data ?? '', 'base64')
            .subarray(1, 4)
            .toString(),
        ).toBe('PNG');
        const tagged = await callTool('mlflow_set_run_tag', { run_id: runId, key: 'review', value: 'ok' });
        expect(tagged.isError).toBeFalsy();
        expect((await seed.getRun(runId)).data.tags).toContainEqual({ key: 'review', value: 'ok' });
        const missing = await callTool('mlflow_get_run', { run_id: 'ffffffffffffffffffffffffffffffff' });
        expect(missing.isError).toBe(true);
        expect(text(missing)).toMatch(/mlflow_find_run/);
      } finally {
        await server.close();
      }
      for (const result of results) expect(JSON.stringify(result)).not.toContain(password);
      expect(server.stderr()).not.toContain(password);
    }, 90_000);

    it('accepts credentials inside the URI and redacts them from its log', async () => {
      const url = new URL(authUri ?? '');
      url.username = user;
      url.password = password;
      const server = await spawnStdioServer(process.execPath, [bin], {
        env: { MLFLOW_TRACKING_URI: url.href, NIGHTSHIFT_LOG_LEVEL: 'debug' },
      });
      try {
        const result = (await server.client.callTool({
          name: 'mlflow_list_experiments',
          arguments: {},
        })) as Result;
        expect(result.isError).toBeFalsy();
        expect(JSON.stringify(result)).not.toContain(password);
      } finally {
        await server.close();
      }
      expect(server.stderr()).toContain('MLflow tracking URI: ');
      expect(server.stderr()).toContain('[redacted]');
      expect(server.stderr()).not.toContain(password);
    }, 30_000);

    it('answers a wrong password with what to check, without echoing it', async () => {
      const wrong = 'definitely-wrong-pw-123';
      const server = await spawnStdioServer(process.execPath, [bin], {
        env: {
          MLFLOW_TRACKING_URI: authUri ?? '',
          MLFLOW_TRACKING_USERNAME: user,
          MLFLOW_TRACKING_PASSWORD: wrong,
          NIGHTSHIFT_LOG_LEVEL: 'debug',
        },
      });
      try {
        const result = (await server.client.callTool({
          name: 'mlflow_list_experiments',
          arguments: {},
        })) as Result;
        expect(result.isError).toBe(true);
        expect(text(result)).toMatch(
          /not authenticated.*MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD/s,
        );
        expect(JSON.stringify(result)).not.toContain(wrong);
      } finally {
        await server.close();
      }
      expect(server.stderr()).not.toContain(wrong);
    }, 30_000);
  });
});
