import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, mlflowUri, seedClient, textOf, unique } from '../__fixtures__/harness.ts';
import { runTools } from './runs.ts';

it('runs tools match the reviewed contract', async () => {
  await expect(JSON.stringify(toolContract(runTools as never), null, 2)).toMatchFileSnapshot(
    './__snapshots__/runs.contract.json',
  );
});

describe.skipIf(!mlflowUri)('runs tools against a real MLflow server', () => {
  const seed = seedClient();
  const id = unique();
  const experimentName = `runs-tools-${id}`;
  let experimentId = '';
  const runs: Record<string, string> = {};
  let client: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    experimentId = await seed.createExperiment(experimentName);
    const now = Date.now();
    const make = async (name: string, startTime: number) => {
      const run = await seed.createRun({ experimentId, runName: name, startTime });
      runs[name] = run.info.run_id;
      return run.info.run_id;
    };
    const baseline = await make('baseline', now - 5 * 3600_000);
    await seed.logBatch({
      runId: baseline,
      params: [
        { key: 'lr', value: '0.1' },
        { key: 'epochs', value: '10' },
      ],
      metrics: [{ key: 'acc', value: 0.71, timestamp: now - 4 * 3600_000, step: 9 }],
      tags: [
        { key: 'team', value: 'vision' },
        { key: 'mlflow.note.content', value: 'the first try' },
      ],
    });
    await seed.logInputs({
      runId: baseline,
      datasets: [
        {
          tags: [{ key: 'mlflow.data.context', value: 'train' }],
          dataset: { name: 'coco-mini', digest: 'abc123', source_type: 'local', source: '{"uri":"/data"}' },
        },
      ],
    });
    await seed.uploadArtifact({ runId: baseline, path: 'config.yaml', content: 'lr: 0.1\n' });
    await seed.updateRun({ runId: baseline, status: 'FINISHED', endTime: now - 4 * 3600_000 });
    const child = await make('baseline-fold-1', now - 5 * 3600_000 + 1000);
    await seed.setRunTag(child, 'mlflow.parentRunId', baseline);
    await seed.updateRun({ runId: child, status: 'FINISHED', endTime: now - 4 * 3600_000 });

    const tuned = await make('tuned', now - 3 * 3600_000);
    await seed.logBatch({
      runId: tuned,
      params: [{ key: 'lr', value: '0.01' }],
      metrics: [{ key: 'acc', value: 0.83, timestamp: now - 2 * 3600_000, step: 9 }],
    });
    await seed.updateRun({ runId: tuned, status: 'FINISHED', endTime: now - 2 * 3600_000 });
    const crashed = await make('crashed', now - 2 * 3600_000);
    await seed.updateRun({ runId: crashed, status: 'FAILED', endTime: now - 3600_000 });
    const fresh = await make('active-fresh', now - 600_000);
    await seed.logBatch({
      runId: fresh,
      params: [{ key: 'epochs', value: '10' }],
      metrics: [
        { key: 'epoch', value: 5, timestamp: now - 60_000, step: 5 },
        { key: 'loss', value: 0.4, timestamp: now - 60_000, step: 5 },
      ],
    });
    const quiet = await make('active-quiet', now - 3 * 3600_000);
    await seed.logBatch({
      runId: quiet,
      metrics: [{ key: 'loss', value: 0.9, timestamp: now - 2 * 3600_000, step: 1 }],
    });
    ({ client, close } = await connect());
  }, 120_000);
  afterAll(async () => close?.());

  describe('mlflow_list_experiments', () => {
    it('lists experiments by name and pages with a cursor', async () => {
      const result = await call(client, 'mlflow_list_experiments', { name_contains: experimentName });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent.experiments).toEqual([
        expect.objectContaining({ id: experimentId, name: experimentName }),
      ]);
      const first = await call(client, 'mlflow_list_experiments', { limit: 1 });
      expect(first.structuredContent.nextCursor).toEqual(expect.any(String));
      const second = await call(client, 'mlflow_list_experiments', {
        limit: 1,
        cursor: first.structuredContent.nextCursor,
      });
      expect(second.structuredContent.experiments).not.toEqual(first.structuredContent.experiments);
    });

    it('refuses a cursor it did not issue', async () => {
      const result = await call(client, 'mlflow_list_experiments', { cursor: 'garbage' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/cursor is not one this server issued/);
    });
  });

  describe('mlflow_search_runs', () => {
    it('filters and orders with MLflow’s grammar, showing chosen metrics and params', async () => {
      const result = await call(client, 'mlflow_search_runs', {
        experiments: [experimentName],
        filter: 'metrics.acc > 0.5',
        order_by: ['metrics.acc DESC'],
        metrics: ['acc'],
        params: ['lr'],
      });
      expect(result.isError).toBeFalsy();
      const rows = result.structuredContent.runs as Array<Record<string, unknown>>;
      expect(rows.map((r) => r.runName)).toEqual(['tuned', 'baseline']);
      expect(rows[0]).toMatchObject({ status: 'FINISHED', metrics: { acc: 0.83 }, params: { lr: '0.01' } });
      expect(rows[0]?.durationSeconds).toBe(3600);
      expect(textOf(result)).toContain('tuned');
    });

    it('passes MLflow’s message for a bad filter through with the grammar', async () => {
      const result = await call(client, 'mlflow_search_runs', {
        experiments: [experimentId],
        filter: 'metrics.acc >>> 1',
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/Invalid comparator '>>>'/);
      expect(textOf(result)).toMatch(/single quotes/);
    });

    it('names the known experiments for an unknown one', async () => {
      const result = await call(client, 'mlflow_search_runs', { experiments: ['no-such-experiment'] });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/experiment "no-such-experiment" not found; known: .*Default/);
    });
  });

  describe('mlflow_get_run', () => {
    it('gives params, latest metrics, user tags, note, datasets, children and artifacts', async () => {
      const result = await call(client, 'mlflow_get_run', { run_id: runs.baseline });
      expect(result.isError).toBeFalsy();
      const s = result.structuredContent as Record<string, unknown>;
      expect(s.params).toEqual({ epochs: '10', lr: '0.1' });
      expect(s.latestMetrics).toEqual({ acc: { value: 0.71, step: 9 } });
      expect(s.tags).toEqual({ team: 'vision' });
      expect(s.note).toBe('the first try');
      expect(s.datasets).toEqual([
        { name: 'coco-mini', digest: 'abc123', context: 'train', sourceType: 'local' },
      ]);
      expect((s.childRuns as Array<{ runName: string }>).map((c) => c.runName)).toEqual(['baseline-fold-1']);
      expect(s.artifacts).toEqual([{ path: 'config.yaml', isDir: false, size: 8 }]);
    });

    it('says how to find a run when the id is unknown', async () => {
      const result = await call(client, 'mlflow_get_run', { run_id: 'ffffffffffffffffffffffffffffffff' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/not found.*mlflow_find_run/);
    });
  });

  describe('mlflow_list_active_runs', () => {
    it('shows running runs with progress and flags the quiet one', async () => {
      const result = await call(client, 'mlflow_list_active_runs', { experiments: [experimentName] });
      expect(result.isError).toBeFalsy();
      const rows = result.structuredContent.runs as Array<Record<string, unknown>>;
      const byName = Object.fromEntries(rows.map((r) => [r.runName, r]));
      expect(Object.keys(byName).sort()).toEqual(['active-fresh', 'active-quiet']);
      expect(byName['active-fresh']).toMatchObject({
        quiet: false,
        progress: { current: 5, total: 10, unit: 'epoch', fraction: 0.5 },
        latestStep: 5,
      });
      expect(byName['active-quiet']).toMatchObject({ quiet: true, progress: null });
      expect(byName['active-quiet']?.minutesSinceLastMetric).toBeGreaterThanOrEqual(119);
      expect(result.structuredContent).toMatchObject({ running: 2, quiet: 1 });
      expect(textOf(result)).toMatch(/QUIET .*active-quiet/);
    });

    it('names the known experiments for an unknown one', async () => {
      const result = await call(client, 'mlflow_list_active_runs', { experiments: ['nope-nope'] });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/experiment "nope-nope" not found/);
    });
  });

  describe('mlflow_find_run', () => {
    it('finds by partial id, by name, and the latest FAILED run in an experiment', async () => {
      const tuned = runs.tuned as string;
      const byPrefix = await call(client, 'mlflow_find_run', {
        query: tuned.slice(0, 10),
        experiment: experimentName,
      });
      expect(byPrefix.structuredContent.matches).toEqual([
        expect.objectContaining({ runId: tuned, matchedBy: 'run id prefix' }),
      ]);
      const byFullId = await call(client, 'mlflow_find_run', { query: tuned });
      expect(byFullId.structuredContent.matches).toEqual([
        expect.objectContaining({ runId: tuned, matchedBy: 'run id' }),
      ]);
      const byName = await call(client, 'mlflow_find_run', { query: 'baseline', experiment: experimentName });
      const names = (byName.structuredContent.matches as Array<{ runName: string; matchedBy: string }>).map(
        (m) => [m.runName, m.matchedBy],
      );
      expect(names).toEqual([
        ['baseline', 'run name'],
        ['baseline-fold-1', 'partial run name'],
      ]);
      const failed = await call(client, 'mlflow_find_run', {
        experiment: experimentName,
        status: 'FAILED',
        limit: 1,
      });
      expect(failed.structuredContent.matches).toEqual([
        expect.objectContaining({ runId: runs.crashed, matchedBy: 'latest FAILED run' }),
      ]);
    });

    it('says what to try when nothing matches, and asks for something to look for', async () => {
      const none = await call(client, 'mlflow_find_run', {
        query: 'zzz-no-such-run',
        experiment: experimentName,
      });
      expect(none.isError).toBe(true);
      expect(textOf(none)).toMatch(/No run matches "zzz-no-such-run".*mlflow_search_runs/);
      const empty = await call(client, 'mlflow_find_run', {});
      expect(empty.isError).toBe(true);
      expect(textOf(empty)).toMatch(/Give a query/);
    });
  });

  describe('mlflow_set_run_tag', () => {
    it('sets a tag and reports the previous value', async () => {
      const runId = runs.tuned as string;
      const first = await call(client, 'mlflow_set_run_tag', {
        run_id: runId,
        key: 'review',
        value: 'promising',
      });
      expect(first.structuredContent).toEqual({
        runId,
        key: 'review',
        value: 'promising',
        previousValue: null,
      });
      const second = await call(client, 'mlflow_set_run_tag', {
        run_id: runId,
        key: 'review',
        value: 'checked',
      });
      expect(second.structuredContent.previousValue).toBe('promising');
      expect((await seed.getRun(runId)).data.tags).toContainEqual({ key: 'review', value: 'checked' });
    });

    it('refuses MLflow’s reserved tags and unknown runs', async () => {
      const reserved = await call(client, 'mlflow_set_run_tag', {
        run_id: runs.tuned,
        key: 'mlflow.runName',
        value: 'x',
      });
      expect(reserved.isError).toBe(true);
      expect(textOf(reserved)).toMatch(/reserved by MLflow/);
      const unknown = await call(client, 'mlflow_set_run_tag', {
        run_id: 'ffffffffffffffffffffffffffffffff',
        key: 'k',
        value: 'v',
      });
      expect(unknown.isError).toBe(true);
      expect(textOf(unknown)).toMatch(/not found.*mlflow_find_run/);
    });
  });
});
