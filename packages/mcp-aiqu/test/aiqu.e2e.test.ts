import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SpawnedServer, spawnStdioServer } from '@nightshift/mcp-kit/testing';
import { afterEach, describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const bin = join(packageDir, 'bin', 'nightshift-mcp-aiqu.js');
const fixtures = join(packageDir, 'src', '__fixtures__', 'jobs');
const python = process.env.NIGHTSHIFT_PYTHON ?? 'python3';
const secret = 'e2e-events-secret-never-shown-123';

type Result = {
  isError?: boolean;
  content: Array<{ text?: string }>;
  structuredContent: Record<string, unknown>;
};

const spawned: SpawnedServer[] = [];
afterEach(async () => {
  for (const server of spawned.splice(0)) await server.close();
});

async function start(env: Record<string, string>): Promise<SpawnedServer> {
  const server = await spawnStdioServer(process.execPath, [bin], { env });
  spawned.push(server);
  return server;
}

async function call(
  server: SpawnedServer,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Result> {
  const raw = (await server.client.callTool({ name, arguments: args })) as Omit<
    Result,
    'structuredContent'
  > & {
    structuredContent?: Record<string, unknown>;
  };
  const result: Result = { ...raw, structuredContent: raw.structuredContent ?? {} };
  expect(JSON.stringify(result)).not.toContain(secret);
  return result;
}

async function waitFor(
  server: SpawnedServer,
  id: string,
  statuses: string[],
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await call(server, 'aiqu_get_job', { id, logLines: 5 });
    const job = r.structuredContent.job as Record<string, unknown>;
    if (statuses.includes(job.status as string)) return r.structuredContent as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error(`job ${id} stayed ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!existsSync(join(packageDir, 'dist', 'bundle', 'main.js')))('built bin over stdio', () => {
  it('submits from a template, follows the job through a server restart, and never shows the secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aiqu-e2e-'));
    const configPath = join(dir, 'aiqu.yaml');
    writeFileSync(
      configPath,
      `backends:
  local: { gpus: 1, cpus: 2, stopGraceSeconds: 1 }
templates:
  sleepy:
    command: [${python}, -u, ${join(fixtures, 'train_sleep.py')}, "{{seconds}}"]
    params: { seconds: "3" }
  boom:
    command: [${python}, ${join(fixtures, 'train_traceback.py')}]
`,
    );
    const env = {
      NIGHTSHIFT_AIQU_STATE_DIR: join(dir, 'state'),
      NIGHTSHIFT_AIQU_CONFIG: configPath,
      NIGHTSHIFT_EVENTS_URL: 'http://127.0.0.1:9/events',
      NIGHTSHIFT_EVENTS_SECRET: secret,
    };
    const first = await start(env);
    const { tools } = await first.client.listTools();
    expect(tools.map((t) => t.name)).toContain('aiqu_submit_job');

    const submitted = await call(first, 'aiqu_submit_job', {
      template: 'sleepy',
      name: 'customer-a/gripper-pose-v1',
    });
    const id = (submitted.structuredContent.job as { id: string }).id;
    expect((submitted.structuredContent.job as { status: string }).status).toBe('running');
    await first.close();
    spawned.splice(spawned.indexOf(first), 1);

    // A new server process over the same state keeps tracking the job the first one started.
    const second = await start(env);
    const running = await call(second, 'aiqu_get_job', { id });
    expect((running.structuredContent.job as { status: string }).status).toBe('running');
    const done = await waitFor(second, id, ['succeeded', 'failed']);
    expect(done.job).toMatchObject({ status: 'succeeded', exitCode: 0, name: 'customer-a/gripper-pose-v1' });
    expect((done.logTail as Array<{ text: string }>).map((l) => l.text)).toContain('woke up');

    const failed = await call(second, 'aiqu_submit_job', { template: 'boom' });
    const failedId = (failed.structuredContent.job as { id: string }).id;
    const ended = await waitFor(second, failedId, ['failed']);
    expect(ended.job).toMatchObject({ reason: 'nonzero_exit', exitCode: 1 });
    const errors = await call(second, 'aiqu_get_job_logs', { id: failedId, errorsOnly: true });
    expect((errors.structuredContent.errors as Array<{ kind: string }>)[0]?.kind).toBe('traceback');

    const listed = await call(second, 'aiqu_list_jobs', { status: ['failed', 'succeeded'] });
    expect((listed.structuredContent.jobs as Array<{ id: string }>).map((j) => j.id)).toEqual([failedId, id]);
    expect(second.stderr()).not.toContain(secret);
  });

  it('starts with only a state directory and explains how to add templates', async () => {
    const server = await start({ NIGHTSHIFT_AIQU_STATE_DIR: mkdtempSync(join(tmpdir(), 'aiqu-e2e-bare-')) });
    const r = await call(server, 'aiqu_submit_job', { template: 'anything' });
    expect(r.isError).toBe(true);
    expect(r.content[0]?.text).toMatch(/No job templates are configured/);
  });
});

const limitedKubeconfig = process.env.NIGHTSHIFT_TEST_KUBECONFIG_LIMITED;
const kubeNamespace = process.env.NIGHTSHIFT_TEST_KUBE_NAMESPACE ?? 'nightshift-test';

describe.skipIf(!existsSync(join(packageDir, 'dist', 'bundle', 'main.js')) || !limitedKubeconfig)(
  'built bin with the kubernetes backend',
  () => {
    it('submits, lists, inspects and stops a Job on the real API server with least-privilege credentials', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'aiqu-e2e-k8s-'));
      // The cluster outlives one test run: this run's jobs carry their own label value.
      const run = `e2e-${process.pid}-${Date.now()}`;
      const configPath = join(dir, 'aiqu.yaml');
      writeFileSync(
        configPath,
        `defaultBackend: kubernetes
backends:
  local: { enabled: false }
  kubernetes:
    kubeconfig: ${limitedKubeconfig}
    namespace: ${kubeNamespace}
    image: registry.local/trainer:1
templates:
  train:
    command: [python, train.py, --config, "{{config_path}}"]
    configRef: { repo: factory-configs, path: customer-b/pcb-inspect-v2/train_cfg.yaml }
    resources: { gpus: 1, cpus: 2 }
`,
      );
      const server = await start({
        NIGHTSHIFT_AIQU_STATE_DIR: join(dir, 'state'),
        NIGHTSHIFT_AIQU_CONFIG: configPath,
        NIGHTSHIFT_EVENTS_SECRET: secret,
      });
      const submitted = await call(server, 'aiqu_submit_job', { template: 'train', labels: { run } });
      expect(submitted.isError).toBeFalsy();
      const job = submitted.structuredContent.job as {
        id: string;
        backend: string;
        cluster: string;
        status: string;
      };
      expect(job).toMatchObject({ backend: 'kubernetes', cluster: 'nightshift-test', status: 'queued' });

      const listed = await call(server, 'aiqu_list_jobs', { labels: { run } });
      expect((listed.structuredContent.jobs as Array<{ id: string }>).map((j) => j.id)).toEqual([job.id]);
      const got = await call(server, 'aiqu_get_job', { id: job.id });
      expect(got.structuredContent.job).toMatchObject({
        name: 'customer-b/pcb-inspect-v2',
        configRef: { repo: 'factory-configs' },
      });
      const stopped = await call(server, 'aiqu_stop_job', { id: job.id });
      expect(stopped.structuredContent.job).toMatchObject({ status: 'stopped', reason: 'cancelled' });
      const queues = await call(server, 'aiqu_get_queue_status');
      expect(queues.structuredContent.queues).toMatchObject([{ backend: 'kubernetes', reachable: true }]);
      const missing = await call(server, 'aiqu_get_job', { id: 'nightshift-test/not-there' });
      expect(missing.isError).toBe(true);
      expect(missing.content[0]?.text).toMatch(/not found on cluster nightshift-test/);
    });
  },
);
