import { describe, expect, it } from 'vitest';
import { HostConfigError } from '../../src/config.ts';
import { checkJobEnvelope, checkMlflowEnvelope } from '../../src/service/envelope.ts';
import type { StoredEvent } from '../../src/service/event-store.ts';
import { Router } from '../../src/service/routing.ts';
import { orderForTurn } from '../../src/service/scheduler.ts';
import { parseFullConfig } from '../../src/service/service-config.ts';

const secret = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;

describe('service configuration', () => {
  it('reads the service block beside the host config, substituting the environment', () => {
    const config = parseFullConfig(
      `people:
  - { name: Anna, role: approver, web: anna }
service:
  listen: { port: 7555 }
  events: { secrets: ['\${EVENTS_SECRET}'] }
  floodCap: { messages: 3, window: 5m }
  web: { logins: [{ id: anna, token: '\${ANNA_TOKEN}' }] }
  slack: { signingSecret: s3cr3t-signing, botToken: '\${SLACK_TOKEN}' }
`,
      {
        env: { EVENTS_SECRET: secret, ANNA_TOKEN: 'anna-token-0123456789', SLACK_TOKEN: 'xoxb-123456' },
        baseDir: '/tmp',
      },
    );
    expect(config.service.listen).toEqual({ host: '127.0.0.1', port: 7555 });
    expect(config.service.events.secrets).toEqual([secret]);
    expect(config.service.floodCap).toEqual({ messages: 3, window: 300_000 });
    expect(config.service.slack?.apiBaseUrl).toBe('https://slack.com/api');
    expect(config.host.people).toHaveLength(1);
    expect(config.secrets).toEqual(
      expect.arrayContaining([secret, 'anna-token-0123456789', 's3cr3t-signing', 'xoxb-123456']),
    );
  });

  it('lists every problem of both parts at once', () => {
    let error: unknown;
    try {
      parseFullConfig(
        `people: [{ name: Anna, role: boss, web: anna }]
service:
  events: { secrets: [not-a-whsec] }
  web: { logins: [{ id: bob }] }
  slack: { signingSecret: x }
  routs: []
`,
        { env: {} },
      );
    } catch (e) {
      error = e;
    }
    expect(HostConfigError.isInstance(error)).toBe(true);
    const problems = (error as HostConfigError).problems.join('\n');
    expect(problems).toMatch(/people\.0\.role/);
    expect(problems).toMatch(/service\.web\.logins\.0: needs passwordHash or token/);
    expect(problems).toMatch(/service\.slack\.botToken/);
    expect(problems).toMatch(/routs/);
  });

  it('binds 127.0.0.1 unless told otherwise', () => {
    expect(parseFullConfig('{}', { env: {} }).service.listen.host).toBe('127.0.0.1');
  });
});

describe('routing', () => {
  const router = new Router([
    { match: { run: 'customer-a/*' }, channel: 'slack', conversation: 'CA' },
    { match: { source: 'mlflow' }, channel: 'web', conversation: 'registry' },
    { match: { type: 'job.log' }, channel: 'web', conversation: 'logs' },
  ]);

  it('takes the first matching route, matching the run key or the job name alone', () => {
    expect(router.target({ runKey: 'customer-a/weld#j-1', type: 'job.failed', source: 'job' })).toEqual({
      channel: 'slack',
      conversation: 'CA',
    });
    expect(
      router.target({ runKey: 'mlflow:model/weld', type: 'mlflow.model_version.created', source: 'mlflow' }),
    ).toEqual({ channel: 'web', conversation: 'registry' });
    expect(router.target({ runKey: 'customer-b/x#j-2', type: 'job.log', source: 'job' }).conversation).toBe(
      'logs',
    );
    expect(router.target({ runKey: 'customer-b/x#j-2', type: 'job.epoch', source: 'job' })).toEqual({
      channel: 'web',
      conversation: 'events',
    });
  });
});

describe('envelope and turn order', () => {
  it('names the run by job name and id, and marks failures', () => {
    const checked = checkJobEnvelope({
      type: 'job.failed',
      timestamp: 1_790_000_000,
      job: { id: 'j-1', name: 'a/b' },
    });
    expect(checked).toEqual({
      ok: true,
      envelope: {
        type: 'job.failed',
        runKey: 'a/b#j-1',
        occurredAt: new Date(1_790_000_000_000).toISOString(),
        failure: true,
      },
    });
    expect(
      checkJobEnvelope({ type: 'job.epoch', time: '2026-11-23T09:00:00Z', job_id: 'j-2' }),
    ).toMatchObject({
      ok: true,
      envelope: { runKey: 'j-2', failure: false },
    });
    expect(checkJobEnvelope({ type: 'bad type!', timestamp: 1, job: { id: 'j' } })).toMatchObject({
      ok: false,
    });
    expect(checkMlflowEnvelope({ entity: 'model_version', action: 'created', data: {} })).toEqual({
      ok: false,
      reason: 'data.name: required, the registered model or prompt',
    });
  });

  it('orders a batch: runs with a failure first, each run in arrival order', () => {
    const event = (seq: number, runKey: string, failure = false) =>
      ({ seq, id: `e${seq}`, runKey, failure }) as StoredEvent;
    const ordered = orderForTurn([
      event(1, 'a'),
      event(2, 'b'),
      event(3, 'c'),
      event(4, 'a'),
      event(5, 'c', true),
      event(6, 'b'),
    ]);
    expect(ordered.map((e) => e.id)).toEqual(['e3', 'e5', 'e1', 'e4', 'e2', 'e6']);
  });
});
