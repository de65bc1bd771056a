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
