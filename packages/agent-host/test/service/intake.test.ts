import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/service/service.ts';
import {
  type HostSetup,
  jobEvent,
  makeHost,
  postEvent,
  postMlflowEvent,
  rotatedSecret,
  startTestService,
  tempDir,
} from './helpers.ts';

describe('event intake', { timeout: 30_000 }, () => {
  const tmp = tempDir();
  let setup: HostSetup;
  let service: RunningService;

  beforeAll(async () => {
    // No model: the intake must store and show events whatever the reasoning core does.
    setup = await makeHost(tmp.dir, { noModel: true });
    service = await startTestService(setup);
  });
  afterAll(async () => {
    await service?.close();
    await setup?.host.close();
    tmp.cleanup();
  });

  const count = () => service.store.countEvents();

  it('stores a signed event before answering 202, with its run identity and type', async () => {
    const before = count();
    const answer = await postEvent(service.url, jobEvent('job.started', 'j-7', 'customer-a/weld'), {
      id: 'msg_ok',
    });
    expect(answer).toEqual({ status: 202, json: { id: 'job:msg_ok' } });
    // The answer came after the commit: the row is already there.
    const stored = service.store.getEvent('job:msg_ok');
    expect(count()).toBe(before + 1);
    expect(stored).toMatchObject({ type: 'job.started', runKey: 'customer-a/weld#j-7', status: 'pending' });
    expect(stored?.payload).toMatchObject({ job: { id: 'j-7', name: 'customer-a/weld' } });
  });

  it('accepts a secret being rotated in', async () => {
    const answer = await postEvent(service.url, jobEvent('job.epoch'), { secret: rotatedSecret });
    expect(answer.status).toBe(202);
  });

  it('accepts a repeated webhook-id once, never twice', async () => {
    const before = count();
    const first = await postEvent(service.url, jobEvent('job.epoch'), { id: 'msg_twice' });
    const second = await postEvent(service.url, jobEvent('job.epoch'), { id: 'msg_twice' });
    const concurrent = await Promise.all(
      [1, 2, 3].map(() => postEvent(service.url, jobEvent('job.epoch'), { id: 'msg_race' })),
    );
    expect(first.status).toBe(202);
    expect(second).toEqual({ status: 200, json: { id: 'job:msg_twice', duplicate: true } });
    expect(concurrent.map((a) => a.status).sort()).toEqual([200, 200, 202]);
    expect(count()).toBe(before + 2);
  });

  it('answers 401 and stores nothing for a bad, missing, foreign or stale signature', async () => {
    const before = count();
    const body = jobEvent('job.failed');
    const bad = await postEvent(service.url, body, {
      signature: `v1,${Buffer.alloc(32).toString('base64')}`,
    });
    const missing = await postEvent(service.url, body, { signature: null });
    const foreign = await postEvent(service.url, body, {
      secret: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
    });
    const stale = await postEvent(service.url, body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    for (const answer of [bad, missing, foreign, stale]) expect(answer.status).toBe(401);
    expect(stale.json.reason).toBe('timestamp outside the tolerance window');
    expect(missing.json.reason).toBe('missing webhook-signature');
    expect(JSON.stringify([bad, missing, foreign, stale])).not.toContain('whsec_');
    expect(count()).toBe(before);
  });

  it('answers 413 over 1 MiB and stores nothing', async () => {
    const before = count();
    const big = jobEvent('job.log', 'j-1', 'x', { text: 'x'.repeat(1024 * 1024) });
    const answer = await postEvent(service.url, big);
    expect(answer.status).toBe(413);
    // A body that lies about its length (chunked, no Content-Length) is cut off too.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${service.url}/v1/events`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 17; i++) req.write(Buffer.alloc(64 * 1024, 32));
      req.end();
    });
    expect(status).toBe(413);
    expect(count()).toBe(before);
  });

  it('answers 400 with the reason for malformed JSON, and stores nothing', async () => {
    const before = count();
    const answer = await postEvent(service.url, undefined, { raw: '{"type": "job.epoch",' });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('malformed_json');
    expect(String(answer.json.reason)).toMatch(/JSON/);
    expect(count()).toBe(before);
  });

  it('answers 400 naming the missing envelope field, and stores nothing', async () => {
    const before = count();
    const noType = await postEvent(service.url, { timestamp: new Date().toISOString(), job: { id: 'j' } });
    const noRun = await postEvent(service.url, { type: 'job.epoch', timestamp: new Date().toISOString() });
    const noTime = await postEvent(service.url, { type: 'job.epoch', job: { id: 'j' } });
    const notObject = await postEvent(service.url, [1, 2]);
    expect([noType, noRun, noTime, notObject].map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expect(noType.json.reason).toMatch(/^type:/);
    expect(noRun.json.reason).toMatch(/^job\.id:/);
    expect(noTime.json.reason).toMatch(/^timestamp:/);
    expect(count()).toBe(before);
  });

  it('takes MLflow registry webhooks signed with their scheme, and refuses bad ones', async () => {
    const body = {
      entity: 'model_version',
      action: 'created',
      timestamp: new Date().toISOString(),
      data: { name: 'weld-defect', version: '4', run_id: 'r-1' },
    };
    const good = await postMlflowEvent(service.url, body);
    expect(good.status).toBe(202);
    expect(service.store.getEvent(String(good.json.id))).toMatchObject({
      source: 'mlflow',
      type: 'mlflow.model_version.created',
      runKey: 'mlflow:model/weld-defect',
    });
    const before = count();
    expect((await postMlflowEvent(service.url, body, 'not-the-secret')).status).toBe(401);
    // A job signature is not an MLflow signature.
    const cross = await fetch(`${service.url}/v1/mlflow-events`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    expect(cross.status).toBe(401);
    expect(count()).toBe(before);
  });

  it('shows stored events on the health endpoint without a model', async () => {
    const health = (await (await fetch(`${service.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, modelConfigured: false });
    expect(health.events).toBe(count());
  });
});
