import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, logSeries, mlflowUri, seedClient, textOf, unique } from '../__fixtures__/harness.ts';
import { palette } from '../plot.ts';
import { metricTools } from './metrics.ts';

it('metrics tools match the reviewed contract', async () => {
  await expect(JSON.stringify(toolContract(metricTools as never), null, 2)).toMatchFileSnapshot(
    './__snapshots__/metrics.contract.json',
  );
});

type Summary = Record<string, unknown> & {
  key: string;
  series: Array<[number, number | null]>;
  min: { step: number; value: number };
  max: { step: number; value: number };
  last: { step: number; value: number };
};

describe.skipIf(!mlflowUri)('metrics tools against a real MLflow server', () => {
  const seed = seedClient();
  const runs: Record<string, string> = {};
  let client: Client;
  let close: () => Promise<void>;
  const longValues = Array.from({ length: 100_000 }, (_, i) => 1 / (1 + i / 1000) + ((i * 7919) % 13) / 1000);
  longValues[12_345] = 50;
  longValues[54_321] = -3;

  beforeAll(async () => {
    const experimentId = await seed.createExperiment(`metrics-tools-${unique()}`);
    const make = async (name: string) => {
      runs[name] = (await seed.createRun({ experimentId, runName: name })).info.run_id;
      return runs[name] as string;
    };
    await logSeries(seed, await make('long'), 'loss', longValues);
    const overfit = await make('overfit');
    await logSeries(
      seed,
      overfit,
      'train_loss',
      Array.from({ length: 100 }, (_, i) => 1 / (i + 1)),
    );
    await logSeries(
      seed,
      overfit,
      'val_loss',
      Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 - i / 100 : 0.5 + (i - 50) / 100)),
    );
    await logSeries(
      seed,
      await make('plateau'),
      'loss',
      Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 - i / 100 : 0.5)),
    );
    await logSeries(seed, await make('nan'), 'loss', [1, 0.5, 0.3, Number.NaN]);
    for (const [name, lr, accs] of [
      ['cmp-a', '0.1', [0.5, 0.8, 0.7]],
      ['cmp-b', '0.01', [0.6, 0.75, 0.78]],
    ] as const) {
      const runId = await make(name);
      await seed.logBatch({
        runId,
        params: [
          { key: 'lr', value: lr },
          { key: 'batch', value: '32' },
        ],
      });
      await logSeries(seed, runId, 'acc', accs);
      await logSeries(
        seed,
        runId,
        'loss',
        accs.map((a) => 1 - a),
      );
    }
    ({ client, close } = await connect());
  }, 300_000);
  afterAll(async () => close?.());

  describe('mlflow_summarize_metric_history', () => {
    it('summarizes a 100k-point history exactly in at most 200 points, listing keys without data', async () => {
      const result = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.long,
        metric_keys: ['loss', 'no_such_metric'],
        max_points: 200,
      });
      expect(result.isError).toBeFalsy();
      const [s] = result.structuredContent.summaries as Summary[];
      expect(s).toMatchObject({
        key: 'loss',
        pointsExisting: 100_000,
        pointsRead: 100_000,
        exact: true,
        min: { step: 54_321, value: -3 },
        max: { step: 12_345, value: 50 },
        last: { step: 99_999, value: longValues[99_999] },
        best: { step: 54_321, value: -3 },
      });
      expect(s?.pointsReturned).toBe(s?.series.length);
      expect(s?.series.length).toBeLessThanOrEqual(200);
      expect(s?.series).toEqual(
        expect.arrayContaining([
          [54_321, -3],
          [12_345, 50],
          [99_999, longValues[99_999]],
        ]),
      );
      expect(result.structuredContent.keysWithoutData).toEqual(['no_such_metric']);
      expect(textOf(result)).toMatch(/100000 points, 100000 read, \d+ returned/);
      expect(textOf(result)).toMatch(/no data for: no_such_metric/);
    }, 180_000);

    it('flags overfitting, a plateau and NaN divergence', async () => {
      const overfit = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.overfit,
        metric_keys: ['val_loss'],
        window_steps: 30,
      });
      expect((overfit.structuredContent.summaries as Summary[])[0]?.overfitting).toEqual({
        flag: true,
        trainKey: 'train_loss',
        trainTrend: 'improving',
      });
      expect(textOf(overfit)).toMatch(/OVERFITTING/);
      const plateau = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.plateau,
        metric_keys: ['loss'],
        window_steps: 30,
      });
      expect((plateau.structuredContent.summaries as Summary[])[0]?.plateau).toMatchObject({
        flag: true,
        windowSteps: 30,
      });
      const nan = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.nan,
        metric_keys: ['loss'],
      });
      expect((nan.structuredContent.summaries as Summary[])[0]).toMatchObject({
        nonFiniteCount: 1,
        firstNonFiniteStep: 3,
        diverging: true,
        last: { step: 3, value: null },
      });
      expect(textOf(nan)).toMatch(/NON-FINITE x1.*DIVERGING/);
    });

    it('uses the server’s sample when asked, and says the numbers are not exact', async () => {
      const result = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.long,
        metric_keys: ['loss'],
        mode: 'sampled',
        max_points: 100,
      });
      const [s] = result.structuredContent.summaries as Summary[];
      expect(s).toMatchObject({ exact: false, pointsExisting: null });
      expect(s?.pointsRead).toBeLessThan(100_000);
      expect(s?.last.step).toBe(99_999);
    }, 60_000);

    it('lists the run’s keys when none of the requested ones has data, and handles unknown runs', async () => {
      const none = await call(client, 'mlflow_summarize_metric_history', {
        run_id: runs.overfit,
        metric_keys: ['acc'],
      });
      expect(none.isError).toBe(true);
      expect(textOf(none)).toMatch(/no data for acc\. Its metric keys: train_loss, val_loss/);
      const unknown = await call(client, 'mlflow_summarize_metric_history', {
        run_id: 'ffffffffffffffffffffffffffffffff',
        metric_keys: ['loss'],
      });
      expect(unknown.isError).toBe(true);
      expect(textOf(unknown)).toMatch(/not found.*mlflow_find_run/);
    });
  });

  describe('mlflow_compare_runs', () => {
    it('shows only differing params, final and best per run, and the best run per metric', async () => {
      const a = runs['cmp-a'] as string;
      const b = runs['cmp-b'] as string;
      const result = await call(client, 'mlflow_compare_runs', { run_ids: [a, b] });
      expect(result.isError).toBeFalsy();
      const s = result.structuredContent as Record<string, unknown>;
      expect(s.differingParams).toEqual([{ key: 'lr', values: { [a]: '0.1', [b]: '0.01' } }]);
      expect(s.identicalParamCount).toBe(1);
      const metrics = Object.fromEntries((s.metrics as Array<{ key: string }>).map((m) => [m.key, m]));
      expect(metrics.acc).toEqual({
        key: 'acc',
        goal: 'maximize',
        values: {
          [a]: { final: 0.7, best: 0.8, bestStep: 1 },
          [b]: { final: 0.78, best: 0.78, bestStep: 2 },
        },
        bestRunId: a,
      });
      expect(metrics.loss).toMatchObject({ goal: 'minimize', bestRunId: a });
      expect(textOf(result)).toMatch(/params that differ: lr: cmp-a=0.1, cmp-b=0.01/);
    });

    it('says how to check ids when a run does not exist', async () => {
      const result = await call(client, 'mlflow_compare_runs', {
        run_ids: [runs['cmp-a'], 'ffffffffffffffffffffffffffffffff'],
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/not found.*mlflow_find_run/);
    });
  });

  describe('mlflow_plot_metrics', () => {
    it('returns a PNG chart with one coloured line per run and lists what had no data', async () => {
      const result = await call(client, 'mlflow_plot_metrics', {
        run_ids: [runs['cmp-a'], runs['cmp-b'], runs.plateau],
        metric_keys: ['acc'],
        width: 640,
        height: 360,
      });
      expect(result.isError).toBeFalsy();
      const image = result.content.find((c) => c.type === 'image');
      expect(image).toMatchObject({ mimeType: 'image/png' });
      const png = PNG.sync.read(Buffer.from((image as { data: string }).data, 'base64'));
      expect([png.width, png.height]).toEqual([640, 360]);
      const colours = new Set<string>();
      for (let i = 0; i < png.data.length; i += 4)
        colours.add(`${png.data[i]},${png.data[i + 1]},${png.data[i + 2]}`);
      expect(colours.has(palette[0]?.join(',') ?? '')).toBe(true);
      expect(colours.has(palette[1]?.join(',') ?? '')).toBe(true);
      expect(result.structuredContent.missing).toEqual([{ runId: runs.plateau, key: 'acc' }]);
      expect(result.structuredContent.lines).toEqual([
        expect.objectContaining({
          runName: 'cmp-a',
          points: 3,
          color: '#1f77b4',
          last: { step: 2, value: 0.7 },
        }),
        expect.objectContaining({ runName: 'cmp-b', points: 3, color: '#ff7f0e' }),
      ]);
    });

    it('lists the runs’ metric keys when nothing can be drawn', async () => {
      const result = await call(client, 'mlflow_plot_metrics', {
        run_ids: [runs.plateau],
        metric_keys: ['acc'],
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/data for acc in these runs not found; known: loss/);
    });
  });
});
