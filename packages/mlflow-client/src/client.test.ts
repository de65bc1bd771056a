import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowClient } from './client.ts';
import { MlflowError } from './errors.ts';

const uri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;
const authUri = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_URI;
const authUser = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_USERNAME ?? 'admin';
const authPassword = process.env.NIGHTSHIFT_TEST_MLFLOW_AUTH_PASSWORD ?? '';
const unique = `${process.pid}-${Date.now()}`;

async function caught(promise: Promise<unknown>): Promise<MlflowError> {
  try {
    await promise;
  } catch (error) {
    if (MlflowError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe.skipIf(!uri)('MlflowClient against a real MLflow server', () => {
  const client = new MlflowClient({ trackingUri: uri ?? 'http://127.0.0.1:1' });
  // The same tests run against MLflow 2.x; where 2.x behaves differently, both are asserted.
  let major = 3;
  let experimentId = '';
  let experimentName = '';
  const runIds: string[] = [];

  beforeAll(async () => {
    const version = await fetch(`${uri}/version`).then((r) => r.text());
    major = Number(version.split('.')[0]);
    experimentName = `client-test-${unique}`;
    experimentId = await client.createExperiment(experimentName, {
      tags: [{ key: 'team', value: 'vision' }],
    });
    for (let i = 0; i < 5; i++) {
      const run = await client.createRun({ experimentId, runName: `run-${i}`, startTime: 1_000_000 + i });
      runIds.push(run.info.run_id);
      await client.logBatch({
        runId: run.info.run_id,
        metrics: [{ key: 'acc', value: i / 10, timestamp: Date.now(), step: 0 }],
        params: [{ key: 'lr', value: String(0.1 * (i + 1)) }],
      });
    }
  });

  it('gets experiments by id and name, and searches them page by page', async () => {
    expect(await client.health()).toBe(true);
    const byId = await client.getExperiment(experimentId);
    expect(byId.name).toBe(experimentName);
    expect(byId.tags).toContainEqual({ key: 'team', value: 'vision' });
    expect((await client.getExperimentByName(experimentName)).experiment_id).toBe(experimentId);
    const page = await client.searchExperiments({ filter: `name = '${experimentName}'`, maxResults: 1 });
    expect(page.items.map((e) => e.experiment_id)).toEqual([experimentId]);
    const all: string[] = [];
    for await (const e of client.iterateExperiments({ maxResults: 1 })) all.push(e.experiment_id);
    expect(all).toContain(experimentId);
    expect(all.length).toBeGreaterThanOrEqual(2);
  });

  it('searches runs with a filter, order-by and page tokens', async () => {
    const first = await client.searchRuns({
      experimentIds: [experimentId],
      filter: 'metrics.acc >= 0.2',
      orderBy: ['metrics.acc DESC'],
      maxResults: 2,
    });
    expect(first.items.map((r) => r.info.run_name)).toEqual(['run-4', 'run-3']);
    expect(first.nextPageToken).toBeTruthy();
    const second = await client.searchRuns({
      experimentIds: [experimentId],
      filter: 'metrics.acc >= 0.2',
      orderBy: ['metrics.acc DESC'],
      maxResults: 2,
      pageToken: first.nextPageToken,
    });
    expect(second.items.map((r) => r.info.run_name)).toEqual(['run-2']);
    expect(second.nextPageToken).toBeUndefined();
    const names: string[] = [];
    for await (const r of client.iterateRuns({ experimentIds: [experimentId], maxResults: 2 }))
      names.push(r.info.run_name ?? '');
    expect(names.sort()).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4']);
  });

  it('passes MLflow’s own message through for an invalid filter', async () => {
    const error = await caught(
      client.searchRuns({ experimentIds: [experimentId], filter: 'metrics.acc >>> 1' }),
    );
    expect(error.kind).toBe('invalid_parameter');
    expect(error.errorCode).toBe('INVALID_PARAMETER_VALUE');
    expect(error.message).toContain('>>>');
  });

  it('maps an unknown run to not_found', async () => {
    const error = await caught(client.getRun('0123456789abcdef0123456789abcdef'));
    expect(error.kind).toBe('not_found');
    expect(error.status).toBe(404);
    expect(error.endpoint).toBe('/api/2.0/mlflow/runs/get');
  });

  it('reads params, tags, dataset inputs; sets and deletes a run tag', async () => {
    const runId = runIds[0] as string;
    await client.logInputs({
      runId,
      datasets: [
        {
          tags: [{ key: 'mlflow.data.context', value: 'train' }],
          dataset: { name: 'coco-mini', digest: 'd1', source_type: 'local', source: '{"uri":"/data/coco"}' },
        },
      ],
    });
    await client.setRunTag(runId, 'reviewed', 'yes');
    let run = await client.getRun(runId);
    expect(run.data.params).toContainEqual({ key: 'lr', value: '0.1' });
    expect(run.data.tags).toContainEqual({ key: 'reviewed', value: 'yes' });
    expect(run.inputs.dataset_inputs[0]?.dataset.name).toBe('coco-mini');
    await client.deleteRunTag(runId, 'reviewed');
    run = await client.getRun(runId);
    expect(run.data.tags.find((t) => t.key === 'reviewed')).toBeUndefined();
  });

  it('pages a full metric history, samples it, and decodes non-finite values', async () => {
    const runId = runIds[1] as string;
    const t = Date.now();
    for (let b = 0; b < 3; b++) {
      await client.logBatch({
        runId,
        metrics: Array.from({ length: 1000 }, (_, i) => ({
          key: 'loss',
          value: 1 / (b * 1000 + i + 1),
          timestamp: t,
          step: b * 1000 + i,
        })),
      });
    }
    await client.logBatch({ runId, metrics: [{ key: 'bad', value: Number.NaN, timestamp: t, step: 0 }] });
    const page = await client.getMetricHistory({ runId, key: 'loss', maxResults: 1000 });
    if (major >= 3) {
      expect(page.items).toHaveLength(1000);
      expect(page.nextPageToken).toBeTruthy();
    } else {
      // MLflow 2.x ignores the page size and answers the whole history at once.
      expect(page.items).toHaveLength(3000);
      expect(page.nextPageToken).toBeUndefined();
    }
    const steps: number[] = [];
    for await (const m of client.iterateMetricHistory({ runId, key: 'loss', maxResults: 700 }))
      steps.push(m.step);
    expect(steps).toHaveLength(3000);
    expect(new Set(steps).size).toBe(3000);
    const sampled = await client.getSampledMetricHistory({ runIds: [runId], key: 'loss', maxResults: 50 });
    // MLflow 2.x may add the last step on top of the requested count.
    expect(sampled.length).toBeLessThanOrEqual(major >= 3 ? 50 : 51);
    expect(sampled.length).toBeGreaterThanOrEqual(40);
    expect(sampled.map((m) => m.step)).toContain(2999);
    const bad = await client.getMetricHistory({ runId, key: 'bad' });
    expect(Number.isNaN(bad.items[0]?.value)).toBe(true);
  });

  it('uploads, lists and downloads artifacts through the proxy, capped in size', async () => {
    const runId = runIds[2] as string;
    await client.uploadArtifact({ runId, path: 'config/train.yaml', content: 'lr: 0.1\nepochs: 10\n' });
    const top = await client.listArtifacts({ runId });
    expect(top.items).toContainEqual({ path: 'config', is_dir: true });
    const inner = await client.listArtifacts({ runId, path: 'config' });
    expect(inner.items).toEqual([{ path: 'config/train.yaml', is_dir: false, file_size: 19 }]);
    const whole = await client.downloadArtifact({ runId, path: 'config/train.yaml' });
    expect(whole.bytes.toString()).toBe('lr: 0.1\nepochs: 10\n');
    expect(whole.truncated).toBe(false);
    const head = await client.downloadArtifact({ runId, path: 'config/train.yaml', maxBytes: 7 });
    expect(head.bytes.toString()).toBe('lr: 0.1');
    expect(head.truncated).toBe(true);
    const missing = await caught(client.downloadArtifact({ runId, path: 'nope.txt' }));
    // MLflow 2.x's artifact proxy answers a missing file with a 500.
    expect(missing.kind).toBe(major >= 3 ? 'not_found' : 'server_error');
  });

  it('manages registry aliases and version descriptions', async () => {
    const name = `client-model-${unique}`;
    await client.createRegisteredModel(name);
    const source = async (runId: string) => ({
      source: (await client.getRun(runId)).info.artifact_uri ?? '',
      runId,
    });
    const v1 = await client.createModelVersion({ name, ...(await source(runIds[0] as string)) });
    const v2 = await client.createModelVersion({ name, ...(await source(runIds[1] as string)) });
    await client.setRegisteredModelAlias(name, 'champion', v1.version);
    expect((await client.getModelVersionByAlias(name, 'champion')).version).toBe(v1.version);
    await client.setRegisteredModelAlias(name, 'champion', v2.version);
    expect((await client.getRegisteredModel(name)).aliases).toEqual([
      { alias: 'champion', version: v2.version },
    ]);
    await client.deleteRegisteredModelAlias(name, 'champion');
    expect((await client.getRegisteredModel(name)).aliases).toEqual([]);
    const updated = await client.updateModelVersionDescription(name, v1.version, 'baseline');
    expect(updated.description).toBe('baseline');
    expect((await client.getModelVersion(name, v1.version)).description).toBe('baseline');
    const found = await client.searchRegisteredModels({ filter: `name = '${name}'` });
    expect(found.items.map((m) => m.name)).toEqual([name]);
    const versions = await client.searchModelVersions({ filter: `name = '${name}'` });
    expect(versions.items.map((v) => v.version).sort()).toEqual(['1', '2']);
    const error = await caught(client.getModelVersion(name, '99'));
    expect(error.kind).toBe('not_found');
  });

  it('creates, gets and searches MLflow 3 logged models (not_found on MLflow 2.x)', async () => {
    if (major < 3) {
      expect((await caught(client.searchLoggedModels({ experimentIds: [experimentId] }))).kind).toBe(
        'not_found',
      );
      return;
    }
    const model = await client.createLoggedModel({
      experimentId,
      name: 'detector',
      sourceRunId: runIds[0],
      params: [{ key: 'arch', value: 'yolo' }],
    });
    expect(model.info.model_id).toMatch(/^m-/);
    const fetched = await client.getLoggedModel(model.info.model_id);
    expect(fetched.info.name).toBe('detector');
    expect(fetched.data.params).toEqual([{ key: 'arch', value: 'yolo' }]);
    const found = await client.searchLoggedModels({ experimentIds: [experimentId] });
    expect(found.items.map((m) => m.info.model_id)).toContain(model.info.model_id);
  });
});

describe.skipIf(!authUri)('MlflowClient against MLflow’s basic-auth app', () => {
  it('is refused without credentials and with a wrong password, never echoing the password', async () => {
    const anonymous = new MlflowClient({ trackingUri: authUri ?? '' });
    expect((await caught(anonymous.searchExperiments())).kind).toBe('unauthenticated');
    const wrong = new MlflowClient({
      trackingUri: authUri ?? '',
      username: authUser,
      password: 'wrong-password-x',
    });
    const error = await caught(wrong.searchExperiments());
    expect(error.kind).toBe('unauthenticated');
    expect(error.message).not.toContain('wrong-password-x');
  });

  it('works with basic auth given as options or inside the URI', async () => {
    const client = new MlflowClient({
      trackingUri: authUri ?? '',
      username: authUser,
      password: authPassword,
    });
    const experiments = await client.searchExperiments();
    expect(experiments.items.map((e) => e.name)).toContain('Default');
    const url = new URL(authUri ?? '');
    url.username = authUser;
    url.password = authPassword;
    const inUri = new MlflowClient({ trackingUri: url.href });
    expect(inUri.uri).not.toContain(authPassword);
    expect((await inUri.searchExperiments()).items.length).toBeGreaterThan(0);
  });

  it('reads MLflow’s environment conventions', async () => {
    const client = MlflowClient.fromEnv({
      MLFLOW_TRACKING_URI: authUri,
      MLFLOW_TRACKING_USERNAME: authUser,
      MLFLOW_TRACKING_PASSWORD: authPassword,
    });
    expect(client?.uri).toBe(authUri);
    expect((await client?.searchExperiments())?.items.length).toBeGreaterThan(0);
    expect(MlflowClient.fromEnv({})).toBeUndefined();
  });
});

/**
 * Behaviours a healthy MLflow server cannot be made to show on demand (5xx answers, hanging,
 * header forms for a token) are checked against a local HTTP peer speaking MLflow's wire format.
 */
describe('MlflowClient wire behaviour', () => {
  let server: Server;
  let peer = '';
  const seen: IncomingMessage[] = [];
  let failuresLeft = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      if (req.url?.startsWith('/hang')) return; // never answers
      if (failuresLeft > 0) {
        failuresLeft--;
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (req.url?.includes('experiments/search')) res.end(JSON.stringify({ experiments: [] }));
      else res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends a bearer token in preference to basic auth', async () => {
    seen.length = 0;
    const client = new MlflowClient({ trackingUri: peer, token: 'tok-123456', username: 'u', password: 'p' });
    await client.searchExperiments();
    expect(seen[0]?.headers.authorization).toBe('Bearer tok-123456');
  });

  it('retries idempotent reads on 5xx with backoff, but never writes', async () => {
    const client = new MlflowClient({ trackingUri: peer, retryBaseMs: 1, maxRetries: 3 });
    seen.length = 0;
    failuresLeft = 2;
    await client.searchExperiments();
    expect(seen).toHaveLength(3);
    seen.length = 0;
    failuresLeft = 1;
    const error = await caught(client.setRunTag('r', 'k', 'v'));
    expect(error.kind).toBe('server_error');
    expect(seen).toHaveLength(1);
    failuresLeft = 0;
  });

  it('answers within its deadline when the server hangs, naming the URI', async () => {
    const client = new MlflowClient({ trackingUri: `${peer}/hang`, timeoutMs: 300, maxRetries: 0 });
    const error = await caught(client.searchExperiments());
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain(`${peer}/hang`);
    expect(error.message).toContain('300 ms');
  });

  it('reports an unreachable server with the URI and never the credentials in it', async () => {
    const client = new MlflowClient({ trackingUri: 'http://someone:s3cret-pass@127.0.0.1:1' });
    const error = await caught(client.searchExperiments());
    expect(error.kind).toBe('unreachable');
    expect(error.message).toContain('http://127.0.0.1:1');
    expect(error.message).not.toContain('s3cret-pass');
    expect(JSON.stringify(error)).not.toContain('s3cret-pass');
  });

  it('rejects tracking URIs that have no REST API', () => {
    expect(() => new MlflowClient({ trackingUri: 'file:///tmp/mlruns' })).toThrow(/http/);
    expect(() => new MlflowClient({ trackingUri: 'not a url' })).toThrow(/not a valid URL/);
  });
});
