import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectInMemory, toolContract, toolListProblems } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAiquFile } from '../config.ts';
import type { AiquDeps } from '../deps.ts';
import { createDeps, createServer } from '../server.ts';
import { controlTools } from './control.ts';
import { jobTools } from './jobs.ts';

const fixtures = join(import.meta.dirname, '..', '__fixtures__', 'jobs');
const python = process.env.NIGHTSHIFT_PYTHON ?? 'python3';
const secret = 'events-secret-value-do-not-show-0001';

const configYaml = `
backends:
  local:
    gpus: 2
    cpus: 4
    stopGraceSeconds: 1
templates:
  ok:
    description: logs and succeeds
    command: [${python}, ${join(fixtures, 'train_ok.py')}, --epochs, "{{epochs}}"]
    params: { epochs: 3 }
    configRef: { repo: factory-configs, path: customer-a/weld-defect-v4/train_cfg.yaml }
    resources: { gpus: 1, cpus: 1 }
  traceback:
    command: [${python}, ${join(fixtures, 'train_traceback.py')}]
  cuda-oom:
    command: [${python}, ${join(fixtures, 'train_cuda_oom.py')}]
  hang:
    command: [${python}, -u, ${join(fixtures, 'train_hang.py')}]
`;

type CallResult = {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent: Record<string, unknown>;
};

let deps: AiquDeps;
let client: Client;
let close: () => Promise<void>;

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallResult> {
  const raw = (await client.callTool({ name, arguments: args })) as Omit<CallResult, 'structuredContent'> & {
    structuredContent?: Record<string, unknown>;
  };
  const result: CallResult = { ...raw, structuredContent: raw.structuredContent ?? {} };
  // No result ever carries the event-signing secret.
  expect(JSON.stringify(result)).not.toContain(secret);
  return result;
}

const text = (r: CallResult) => r.content.map((c) => c.text ?? '').join('\n');

async function waitStatus(id: string, wanted: string[]): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await call('aiqu_get_job', { id, logLines: 0 });
    const job = r.structuredContent.job as { status: string };
    if (wanted.includes(job.status)) return r.structuredContent.job as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error(`job ${id} stayed ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'aiqu-tools-'));
  deps = await createDeps(
    {
      NIGHTSHIFT_AIQU_STATE_DIR: stateDir,
      NIGHTSHIFT_AIQU_TIMEOUT_MS: 15_000,
      NIGHTSHIFT_EVENTS_URL: 'http://127.0.0.1:9/events',
      NIGHTSHIFT_EVENTS_SECRET: secret,
    },
    undefined,
    await parseAiquFile(configYaml),
  );
  ({ client, close } = await connectInMemory(createServer(deps)));
});

afterAll(async () => {
  const { jobs } = await deps.jobs.list({ status: ['running', 'queued'] }, { limit: 100 });
  for (const job of jobs) await deps.jobs.owner(job.id).stop(job.id);
  await close();
  await deps.jobs.close();
});

describe('tool list', () => {
  it('matches the reviewed contract', async () => {
    const tools = [...jobTools, ...controlTools];
    expect(toolListProblems(tools)).toEqual([]);
    await expect(JSON.stringify(toolContract(tools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/aiqu.contract.json',
    );
  });

  it('annotates submit, stop and requeue as reversible writes and everything else as reads', async () => {
    const { tools } = await client.listTools();
    const mine = new Set([...jobTools, ...controlTools].map((t) => t.name));
    const hints = Object.fromEntries(
      tools
        .filter((t) => mine.has(t.name))
        .map((t) => [t.name, [t.annotations?.readOnlyHint, t.annotations?.destructiveHint]]),
    );
    expect(hints).toEqual({
      aiqu_list_jobs: [true, false],
      aiqu_get_job: [true, false],
      aiqu_get_job_logs: [true, false],
      aiqu_get_queue_status: [true, false],
      aiqu_list_templates: [true, false],
      aiqu_submit_job: [false, false],
      aiqu_stop_job: [false, false],
      aiqu_requeue_job: [false, false],
    });
  });
});

describe('aiqu_list_templates', () => {
  it('lists templates with their commands and defaults', async () => {
    const r = await call('aiqu_list_templates');
    const templates = r.structuredContent.templates as Array<{
      name: string;
      backend: string;
      params: object;
    }>;
    expect(templates.map((t) => t.name)).toEqual(['ok', 'traceback', 'cuda-oom', 'hang']);
    expect(templates[0]).toMatchObject({ backend: 'local', params: { epochs: '3' } });
  });
});

describe('aiqu_submit_job', () => {
  it('submits from a template with overrides and the job runs to success', async () => {
    const r = await call('aiqu_submit_job', {
      template: 'ok',
      params: { epochs: '5' },
      labels: { sweep: 's1' },
    });
    expect(r.isError).toBeFalsy();
    const job = r.structuredContent.job as Record<string, unknown>;
    expect(job).toMatchObject({
      name: 'customer-a/weld-defect-v4',
      template: 'ok',
      params: { epochs: '5' },
      labels: { sweep: 's1' },
      resources: { gpus: 1, cpus: 1 },
      configRef: { repo: 'factory-configs', path: 'customer-a/weld-defect-v4/train_cfg.yaml' },
      attempt: 1,
    });
    expect(text(r)).toContain(`Submitted ${job.id}`);
    const done = await waitStatus(job.id as string, ['succeeded', 'failed']);
    expect(done).toMatchObject({
      status: 'succeeded',
      exitCode: 0,
      mlflowRunId: '0123456789abcdef0123456789abcdef',
    });
  });

  it('names the templates that exist when the template is unknown', async () => {
    const r = await call('aiqu_submit_job', { template: 'nope' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/template nope not found; known: ok, traceback, cuda-oom, hang/);
  });

  it('refuses resources beyond capacity', async () => {
    const r = await call('aiqu_submit_job', { template: 'ok', resources: { gpus: 16 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/can never run here: 16 GPU\(s\) requested but this machine has 2/);
  });

  it('rejects bad input without crashing the server', async () => {
    const r = await call('aiqu_submit_job', { template: 'ok', resources: { gpus: -1 } });
    expect(r.isError).toBe(true);
    expect((await call('aiqu_list_templates')).isError).toBeFalsy();
  });
});

describe('aiqu_list_jobs', () => {
  it('filters by status, name and labels and pages with a cursor', async () => {
    const a = await call('aiqu_submit_job', {
      template: 'traceback',
      name: 'customer-b/pcb-inspect-v2',
      labels: { team: 'b' },
    });
    const b = await call('aiqu_submit_job', {
      template: 'traceback',
      name: 'customer-b/pcb-inspect-v3',
      labels: { team: 'b' },
    });
    const idA = (a.structuredContent.job as { id: string }).id;
    const idB = (b.structuredContent.job as { id: string }).id;
    await waitStatus(idA, ['failed']);
    await waitStatus(idB, ['failed']);
    const first = await call('aiqu_list_jobs', { name: 'customer-b/*', limit: 1 });
    expect((first.structuredContent.jobs as Array<{ id: string }>).map((j) => j.id)).toEqual([idB]);
    expect(first.structuredContent.total).toBe(2);
    const cursor = first.structuredContent.nextCursor as string;
    expect(cursor).toBeTruthy();
    const second = await call('aiqu_list_jobs', { name: 'customer-b/*', limit: 1, cursor });
    expect((second.structuredContent.jobs as Array<{ id: string }>).map((j) => j.id)).toEqual([idA]);
    expect(second.structuredContent.nextCursor).toBeUndefined();
    const failed = await call('aiqu_list_jobs', { status: ['failed'], labels: { team: 'b' } });
    expect(
      (failed.structuredContent.jobs as Array<{ reason: string }>).every((j) => j.reason === 'nonzero_exit'),
    ).toBe(true);
    expect(text(failed)).toContain('failed (nonzero_exit, exit 1)');
  });

  it('rejects a cursor it did not issue', async () => {
    const r = await call('aiqu_list_jobs', { cursor: 'garbage' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/cursor is not one this server issued/);
  });
});

describe('aiqu_get_job and aiqu_get_job_logs', () => {
  it('shows spec, reason and the last log lines of a CUDA OOM failure, and extracts errors with line numbers', async () => {
    const submitted = await call('aiqu_submit_job', { template: 'cuda-oom' });
    const id = (submitted.structuredContent.job as { id: string }).id;
    await waitStatus(id, ['failed']);
    const r = await call('aiqu_get_job', { id, logLines: 3 });
    expect(r.structuredContent.job).toMatchObject({ status: 'failed', reason: 'cuda_oom', exitCode: 1 });
    expect((r.structuredContent.logTail as unknown[]).length).toBe(3);
    expect(text(r)).toContain('reason: torch.OutOfMemoryError: CUDA out of memory');

    const errors = await call('aiqu_get_job_logs', { id, errorsOnly: true });
    const found = errors.structuredContent.errors as Array<{ kind: string; line: number; text: string }>;
    expect(found.map((e) => e.kind)).toEqual(['traceback', 'cuda_oom']);
    expect(found[0]?.text).toContain('File "train.py", line 88');
    expect(found[1]?.line).toBeGreaterThan(found[0]?.line as number);

    const grep = await call('aiqu_get_job_logs', { id, grep: 'epoch \\d' });
    expect(grep.structuredContent.lines).toEqual([{ n: expect.any(Number), text: 'epoch 0 loss 0.9' }]);
  });

  it('answers an unknown job with where to look', async () => {
    const r = await call('aiqu_get_job', { id: 'local-424242' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/job local-424242 not found; known: local-\d+/);
    const logs = await call('aiqu_get_job_logs', { id: 'weird-id' });
    expect(logs.isError).toBe(true);
    expect(text(logs)).toMatch(/job weird-id not found: no backend \(local\) has ids like it/);
  });
});

describe('aiqu_get_queue_status', () => {
  it('shows capacity and per-GPU use', async () => {
    const hang = await call('aiqu_submit_job', { template: 'hang', resources: { gpus: 1 } });
    const id = (hang.structuredContent.job as { id: string }).id;
    await waitStatus(id, ['running']);
    const r = await call('aiqu_get_queue_status');
    const [queue] = r.structuredContent.queues as Array<Record<string, unknown>>;
    expect(queue).toMatchObject({
      backend: 'local',
      reachable: true,
      running: 1,
      capacity: { gpus: 2, cpus: 4 },
      inUse: { gpus: 1 },
    });
    expect((queue as { gpus: Array<{ jobId?: string }> }).gpus.filter((g) => g.jobId === id)).toHaveLength(1);
    await call('aiqu_stop_job', { id });
  });

  it('names the backends that exist for an unknown one', async () => {
    const r = await call('aiqu_get_queue_status', { backend: 'kubernetes' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/backend kubernetes not found; known: local/);
  });
});

describe('aiqu_stop_job and aiqu_requeue_job', () => {
  it('stops a running job, then requeues it as attempt 2 with overrides', async () => {
    const hang = await call('aiqu_submit_job', { template: 'hang' });
    const id = (hang.structuredContent.job as { id: string }).id;
    await waitStatus(id, ['running']);
    const stopped = await call('aiqu_stop_job', { id });
    expect(stopped.structuredContent.job).toMatchObject({ status: 'stopped', reason: 'cancelled' });
    expect(text(stopped)).toContain(`Stopped ${id}`);
    const again = await call('aiqu_requeue_job', { id, params: { lr: '0.01' }, priority: 3 });
    expect(again.structuredContent).toMatchObject({
      previousJobId: id,
      job: { attempt: 2, previousAttemptId: id, params: { lr: '0.01' }, priority: 3, template: 'hang' },
    });
    await call('aiqu_stop_job', { id: (again.structuredContent.job as { id: string }).id });
  });

  it('fails clearly for unknown jobs', async () => {
    const stop = await call('aiqu_stop_job', { id: 'local-777777' });
    expect(stop.isError).toBe(true);
    expect(text(stop)).toMatch(/job local-777777 not found/);
    const requeue = await call('aiqu_requeue_job', { id: 'local-777777' });
    expect(requeue.isError).toBe(true);
    expect(text(requeue)).toMatch(/job local-777777 not found/);
  });
});

describe('without a config file', () => {
  it('starts with the local backend only, and submit says how to add templates', async () => {
    const bare = await createDeps({
      NIGHTSHIFT_AIQU_STATE_DIR: mkdtempSync(join(tmpdir(), 'aiqu-bare-')),
      NIGHTSHIFT_AIQU_TIMEOUT_MS: 1000,
    });
    const connected = await connectInMemory(createServer(bare));
    try {
      const r = (await connected.client.callTool({
        name: 'aiqu_submit_job',
        arguments: { template: 'x' },
      })) as CallResult;
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/No job templates are configured.*NIGHTSHIFT_AIQU_CONFIG/s);
      const queues = (await connected.client.callTool({
        name: 'aiqu_get_queue_status',
        arguments: {},
      })) as CallResult;
      expect((queues.structuredContent.queues as Array<{ backend: string }>).map((q) => q.backend)).toEqual([
        'local',
      ]);
    } finally {
      await connected.close();
      await bare.jobs.close();
    }
  });
});
