// MLflow tools against a real tracking server (scripts/services/mlflow.sh): search over 10k runs,
// the summary of a 100k-point history, and the bytes of each default tool result against the raw
// REST JSON answering the same question. Baselines are measured in the same run. Without
// NIGHTSHIFT_TEST_MLFLOW_URI every row is skipped.
//
//   set -a; . <(bash scripts/services/mlflow.sh start); set +a
//   pnpm --filter @nightshift/mcp-mlflow build && node bench/run.mjs mlflow
//
// Seed data is reused across runs on the same server (found by experiment name).
import { median } from './lib.mjs';

const uri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;
const repeats = Number(process.env.BENCH_RUNS ?? 5);
const experimentName = 'nightshift-bench-mlflow';
const runCount = 10_000;
const historyPoints = 100_000;

const log = (message) => process.stderr.write(`[bench:mlflow] ${message}\n`);

async function rest(method, path, body) {
  const response = await fetch(`${uri}${path}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
  return { text, json: JSON.parse(text) };
}

async function timed(fn) {
  const times = [];
  let last;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    last = await fn();
    times.push(performance.now() - start);
  }
  return { ms: median(times), last };
}

/** Runs tasks with bounded concurrency (the server serializes SQLite writes anyway). */
async function pool(count, concurrency, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function seed(client) {
  let experimentId;
  try {
    experimentId = (await client.getExperimentByName(experimentName)).experiment_id;
  } catch {
    experimentId = await client.createExperiment(experimentName);
  }
  const existing = [];
  for await (const run of client.iterateRuns({ experimentIds: [experimentId], maxResults: 1000 }))
    existing.push(run);
  let history = existing.find((r) => r.info.run_name === 'history-100k');
  if (!history) {
    log(`logging a ${historyPoints}-point history`);
    history = await client.createRun({ experimentId, runName: 'history-100k' });
    const t = Date.now();
    for (let from = 0; from < historyPoints; from += 1000) {
      const metrics = Array.from({ length: 1000 }, (_, i) => {
        const step = from + i;
        return {
          key: 'loss',
          value: 1 / (1 + step / 1000) + ((step * 7919) % 13) / 1000,
          timestamp: t,
          step,
        };
      });
      await client.logBatch({ runId: history.info.run_id, metrics });
    }
    await client.logBatch({
      runId: history.info.run_id,
      metrics: [{ key: 'acc', value: 0.9, timestamp: t, step: historyPoints - 1 }],
      params: [{ key: 'lr', value: '0.001' }],
    });
  }
  const missing = runCount - existing.filter((r) => r.info.run_name?.startsWith('r-')).length;
  if (missing > 0) {
    log(`creating ${missing} runs (once per server)`);
    const base = Date.now() - runCount * 1000;
    await pool(missing, 4, (i) =>
      client.createRun({
        experimentId,
        runName: `r-${runCount - missing + i}`,
        startTime: base + i * 1000,
        tags: [{ key: 'group', value: `g${i % 10}` }],
      }),
    );
  }
  return { experimentId, historyRunId: history.info.run_id };
}

export async function run() {
  if (!uri) {
    log('NIGHTSHIFT_TEST_MLFLOW_URI is not set; skipping (start scripts/services/mlflow.sh)');
    return [];
  }
  const { MlflowClient } = await import('../packages/mlflow-client/dist/index.js');
  const { createServer, createMlflowDeps } = await import('../packages/mcp-mlflow/dist/index.js');
  const { connectInMemory } = await import('../packages/mcp-kit/dist/testing.js');
  const client = new MlflowClient({ trackingUri: uri, timeoutMs: 300_000 });
  const { experimentId, historyRunId } = await seed(client);
  const { client: mcp, close } = await connectInMemory(
    createServer(createMlflowDeps({ MLFLOW_TRACKING_URI: uri })),
  );
  const call = async (name, args) => {
    const result = await mcp.callTool({ name, arguments: args }, undefined, { timeout: 600_000 });
    if (result.isError) throw new Error(`${name}: ${result.content[0]?.text}`);
    return result;
  };
  const bytes = (value) => Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value));
  const rows = [];
  try {
    // Search over 10k runs: one filtered, ordered page, tool against the raw REST call it makes.
    const filter = "tags.group = 'g7'";
    const searchArgs = { experiments: [experimentName], filter, order_by: ['attributes.start_time DESC'] };
    const tool = await timed(() => call('mlflow_search_runs', searchArgs));
    const raw = await timed(() =>
      rest('POST', '/api/2.0/mlflow/runs/search', {
        experiment_ids: [experimentId],
        filter,
        order_by: ['attributes.start_time DESC'],
        max_results: 10,
      }),
    );
    rows.push({
      bench: 'MLflow search over 10k runs (median)',
      case: `mlflow_search_runs ${filter}`,
      value: tool.ms,
      unit: 'ms',
      baseline: raw.ms,
      baselineName: 'raw runs/search',
      ratio: tool.ms / raw.ms,
      target: '≤ 2× raw',
    });
    const lastRun = (
      await client.searchRuns({
        experimentIds: [experimentId],
        maxResults: 1,
        orderBy: ['attributes.start_time ASC'],
      })
    ).items[0];
    const find = await timed(() =>
      call('mlflow_find_run', { query: lastRun.info.run_id.slice(0, 8), experiment: experimentName }),
    );
    const scan = await timed(async () => {
      let pageToken;
      let n = 0;
      do {
        const page = await client.searchRuns({ experimentIds: [experimentId], maxResults: 1000, pageToken });
        n += page.items.length;
        pageToken = page.nextPageToken;
      } while (pageToken);
      return n;
    });
    rows.push({
      bench: 'MLflow search over 10k runs (median)',
      case: 'mlflow_find_run by 8-char id prefix (oldest run)',
      value: find.ms,
      unit: 'ms',
      baseline: scan.ms,
      baselineName: 'paging all runs via REST',
      ratio: find.ms / scan.ms,
      target: '≤ 1.5× paging',
    });

    // 100k-point history: the exact summary against reading the same history raw.
    const summaryArgs = { run_id: historyRunId, metric_keys: ['loss'], max_points: 200 };
    const once = { ...summaryArgs };
    const summary = await timed(() => call('mlflow_summarize_metric_history', once));
    const rawHistory = await timed(async () => {
      let pageToken = '';
      const texts = [];
      do {
        const page = await rest(
          'GET',
          `/api/2.0/mlflow/metrics/get-history?run_id=${historyRunId}&metric_key=loss&max_results=25000${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ''}`,
        );
        texts.push(page.text);
        pageToken = page.json.next_page_token ?? '';
      } while (pageToken);
      return texts;
    });
    const s = summary.last.structuredContent.summaries[0];
    const values = rawHistory.last.flatMap((t) => JSON.parse(t).metrics.map((m) => m.value));
    const exact =
      s.min.value === Math.min(...values) &&
      s.max.value === Math.max(...values) &&
      s.last.value === values.at(-1);
    rows.push({
      bench: 'MLflow 100k-point history summary (median)',
      case: 'mlflow_summarize_metric_history exact',
      value: summary.ms,
      unit: 'ms',
      baseline: rawHistory.ms,
      baselineName: 'raw get-history pages',
      ratio: summary.ms / rawHistory.ms,
      target: '≤ 1.5× raw',
    });
    rows.push({
      bench: 'MLflow 100k-point history summary',
      case: `points returned (min/max/last exact: ${exact ? 'yes' : 'NO'})`,
      value: s.pointsReturned,
      unit: 'points',
      baseline: s.pointsRead,
      baselineName: 'points read',
      ratio: s.pointsReturned / s.pointsRead,
      target: '≤ 200, exact',
    });

    // Bytes of each default result against the raw REST JSON for the same question.
    const active = await client.createRun({ experimentId, runName: `bench-active-${Date.now()}` });
    const cases = [
      [
        'mlflow_list_experiments',
        {},
        () => rest('POST', '/api/2.0/mlflow/experiments/search', { max_results: 50 }),
      ],
      [
        'mlflow_search_runs',
        searchArgs,
        () =>
          rest('POST', '/api/2.0/mlflow/runs/search', {
            experiment_ids: [experimentId],
            filter,
            max_results: 10,
          }),
      ],
      [
        'mlflow_get_run',
        { run_id: historyRunId },
        () => rest('GET', `/api/2.0/mlflow/runs/get?run_id=${historyRunId}`),
      ],
      [
        'mlflow_list_active_runs',
        { experiments: [experimentName] },
        () =>
          rest('POST', '/api/2.0/mlflow/runs/search', {
            experiment_ids: [experimentId],
            filter: "attributes.status = 'RUNNING'",
            max_results: 10,
          }),
      ],
      [
        'mlflow_find_run',
        { query: 'r-9999', experiment: experimentName },
        () =>
          rest('POST', '/api/2.0/mlflow/runs/search', {
            experiment_ids: [experimentId],
            filter: "attributes.run_name ILIKE '%r-9999%'",
            max_results: 50,
          }),
      ],
      [
        'mlflow_summarize_metric_history',
        { run_id: historyRunId, metric_keys: ['loss'] },
        async () => ({ text: rawHistory.last.join('') }),
      ],
      [
        'mlflow_list_artifacts',
        { run_id: historyRunId },
        () => rest('GET', `/api/2.0/mlflow/artifacts/list?run_id=${historyRunId}`),
      ],
      [
        'mlflow_search_registered_models',
        {},
        () => rest('GET', '/api/2.0/mlflow/registered-models/search?max_results=20'),
      ],
    ];
    for (const [name, args, rawCall] of cases) {
      const result = await call(name, args);
      const rawText = (await rawCall()).text;
      const value = bytes(result);
      rows.push({
        bench: 'MLflow default result size',
        case: name,
        value: value / 1024,
        unit: 'KiB',
        baseline: bytes(rawText) / 1024,
        baselineName: 'raw REST JSON',
        ratio: value / bytes(rawText),
        target: '< 4 KiB',
      });
    }
    await client.updateRun({ runId: active.info.run_id, status: 'KILLED', endTime: Date.now() });
  } finally {
    await close();
  }
  return rows;
}
