import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createKubernetesBackend, type KubernetesBackend } from './kubernetes.ts';
import { isTerminal, type Job, type JobSpec, jobSpecSchema } from './types.ts';

/**
 * The Kubernetes backend against a real kube-apiserver and kube-controller-manager (Job
 * controller). No kubelet runs: the test plays its part — a Node, pod bindings, pod status
 * writes, and an HTTPS endpoint answering the apiserver's container-log requests.
 */
const adminConfig = process.env.NIGHTSHIFT_TEST_KUBECONFIG;
const limitedConfig = process.env.NIGHTSHIFT_TEST_KUBECONFIG_LIMITED;
const namespace = process.env.NIGHTSHIFT_TEST_KUBE_NAMESPACE ?? 'nightshift-test';
const foreign = process.env.NIGHTSHIFT_TEST_KUBE_FOREIGN_NAMESPACE ?? 'nightshift-foreign';
const kubeletCert = process.env.NIGHTSHIFT_TEST_KUBELET_CERT;
const kubeletKey = process.env.NIGHTSHIFT_TEST_KUBELET_KEY;
const nodeName = 'fake-gpu-0';
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let kubelet: HttpsServer;
/** What the stand-in kubelet serves as each pod's log. */
const podLogs = new Map<string, string>();
const backends: KubernetesBackend[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'aiqu-k8s-'));

function backend(
  overrides: Partial<Parameters<typeof createKubernetesBackend>[0]['config']> = {},
  timeoutMs = 10_000,
) {
  const created = createKubernetesBackend({
    config: {
      enabled: true,
      kubeconfig: limitedConfig,
      namespace,
      image: 'registry.local/trainer:1',
      imagePullSecrets: [],
      ...overrides,
    },
    timeoutMs,
    eventsUrl: 'http://events.local/hook',
  });
  backends.push(created);
  return created;
}

function spec(name: string, extra: Partial<JobSpec> = {}): JobSpec {
  return jobSpecSchema.parse({
    name,
    command: ['python', 'train.py', '--epochs', '{{epochs}}'],
    params: { epochs: '5' },
    resources: { gpus: 1, cpus: 2, memoryMiB: 1024 },
    labels: { team: 'vision' },
    ...extra,
  });
}

const jobNameOf = (job: Job) => job.id.slice(job.id.indexOf('/') + 1);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits for the Job controller to create the job's pod, then binds it to the fake node. */
async function scheduledPod(job: Job, ns = namespace): Promise<string> {
  const jobName = jobNameOf(job);
  const pod = await until(`a pod for ${jobName}`, async () => {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `batch.kubernetes.io/job-name=${jobName}`,
    });
    return pods.items[0];
  });
  const name = pod.metadata?.name as string;
  await core.createNamespacedPodBinding({
    name,
    namespace: ns,
    body: {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name },
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    },
  });
  return name;
}

/** Writes a pod's status the way the kubelet would. */
async function setPodStatus(name: string, status: k8s.V1PodStatus, ns = namespace): Promise<void> {
  await core.patchNamespacedPodStatus({ name, namespace: ns, body: { status } }, mergePatch);
}

const now = () => new Date();
const running = (): k8s.V1PodStatus => ({
  phase: 'Running',
  startTime: now(),
  containerStatuses: [
    {
      name: 'train',
      image: 'registry.local/trainer:1',
      imageID: '',
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: now() } },
    },
  ],
});
const terminated = (
  exitCode: number,
  reason: string,
  extra: Partial<k8s.V1PodStatus> = {},
): k8s.V1PodStatus => ({
  phase: exitCode === 0 ? 'Succeeded' : 'Failed',
  startTime: now(),
  containerStatuses: [
    {
      name: 'train',
      image: 'registry.local/trainer:1',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode, reason, startedAt: now(), finishedAt: now() } },
    },
  ],
  ...extra,
});

async function waitStatus(b: KubernetesBackend, id: string, done: (job: Job) => boolean): Promise<Job> {
  return until(`job ${id}`, async () => {
    const job = await b.get(id);
    return done(job) ? job : undefined;
  });
}

describe.skipIf(!adminConfig || !limitedConfig)('kubernetes backend against a real API server', () => {
  beforeAll(async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(adminConfig as string);
    core = kc.makeApiClient(k8s.CoreV1Api);
    batch = kc.makeApiClient(k8s.BatchV1Api);

    // The stand-in kubelet: the apiserver fetches container logs from it over TLS.
    kubelet = createHttpsServer(
      { cert: readFileSync(kubeletCert as string), key: readFileSync(kubeletKey as string) },
      (req, res) => {
        const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
        const text = match ? podLogs.get(`${match[1]}/${match[2]}`) : undefined;
        if (text === undefined) {
          res.writeHead(404).end('not found');
          return;
        }
        const tail = Number(new URL(req.url ?? '', 'https://x').searchParams.get('tailLines') ?? 0);
        const lines = text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
        res
          .writeHead(200, { 'Content-Type': 'text/plain' })
          .end(`${(tail > 0 ? lines.slice(-tail) : lines).join('\n')}\n`);
      },
    );
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
    const port = (kubelet.address() as { port: number }).port;

    await core.deleteNode({ name: nodeName }).catch(() => undefined);
    await core.createNode({
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: nodeName, labels: { 'nvidia.com/gpu.present': 'true' } },
      },
    });
    await core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            capacity: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '2', pods: '110' },
            allocatable: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '2', pods: '110' },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                lastHeartbeatTime: now(),
                lastTransitionTime: now(),
              },
            ],
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: port } },
          },
        },
      },
      mergePatch,
    );
  });

  afterAll(async () => {
    for (const b of backends) await b.close();
    kubelet?.close();
    for (const ns of [namespace, foreign]) {
      await batch
        .deleteCollectionNamespacedJob({ namespace: ns, propagationPolicy: 'Background' })
        .catch(() => undefined);
      await core
        .deleteCollectionNamespacedPod({ namespace: ns, gracePeriodSeconds: 0 })
        .catch(() => undefined);
    }
  });

  it('submits a batch/v1 Job with nightshift labels, a GPU limit and job variables, as the least-privilege ServiceAccount', async () => {
    const b = backend();
    const job = await b.submit(
      spec('customer-a/weld-defect-v4', {
        template: 'weld',
        configRef: { repo: 'cfg', path: 'a/b.yaml', commit: 'abc123' },
      }),
    );
    expect(job).toMatchObject({
      status: 'queued',
      backend: 'kubernetes',
      cluster: 'nightshift-test',
      attempt: 1,
      name: 'customer-a/weld-defect-v4',
    });
    expect(job.id).toMatch(/^nightshift-test\/customer-a-weld-defect-v4-[a-z0-9]{5}$/);

    const created = await batch.readNamespacedJob({ name: jobNameOf(job), namespace });
    expect(created.metadata?.labels).toMatchObject({
      'nightshift.dev/managed-by': 'nightshift-aiqu',
      'nightshift.dev/job-name': 'customer-a_weld-defect-v4',
      'nightshift.dev/attempt': '1',
      'nightshift.dev/template': 'weld',
    });
    expect(created.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBeUndefined();
    expect(created.spec?.backoffLimit).toBe(0);
    const container = created.spec?.template.spec?.containers[0];
    expect(container?.image).toBe('registry.local/trainer:1');
    expect(container?.command).toEqual(['python', 'train.py', '--epochs', '5']);
    // The API server canonicalises quantities (1024Mi → 1Gi).
    expect(container?.resources?.limits).toEqual({ cpu: '2', memory: '1Gi', 'nvidia.com/gpu': '1' });
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      NIGHTSHIFT_JOB_ID: job.id,
      NIGHTSHIFT_JOB_NAME: 'customer-a/weld-defect-v4',
      NIGHTSHIFT_PARAM_EPOCHS: '5',
      NIGHTSHIFT_CONFIG_COMMIT: 'abc123',
      NIGHTSHIFT_EVENTS_URL: 'http://events.local/hook',
    });
  });

  it('follows a job from pending through running to succeeded, with pod logs', async () => {
    const b = backend();
    const job = await b.submit(spec('customer-b/pcb-inspect-v2'));
    const pod = await scheduledPod(job);
    podLogs.set(
      `${namespace}/${pod}`,
      'epoch 0 loss 0.9\nepoch 1 loss 0.5\nmlflow_run_id=fedcba9876543210fedcba9876543210\n',
    );
    await setPodStatus(pod, running());
    const run = await waitStatus(b, job.id, (j) => j.status === 'running');
    expect(run.startedAt).toBeDefined();

    const logs = await b.logs(job.id, { tailLines: 2 });
    expect(logs.lines).toEqual(['epoch 1 loss 0.5', 'mlflow_run_id=fedcba9876543210fedcba9876543210']);
    expect(logs.source).toContain(pod);
    const whole = await b.logs(job.id, { tailLines: 100 });
    expect(whole).toMatchObject({ firstLineNumber: 1, totalLines: 3 });

    await setPodStatus(pod, terminated(0, 'Completed'));
    const done = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(done).toMatchObject({ status: 'succeeded', reason: 'completed', exitCode: 0 });
    expect(done.endedAt).toBeDefined();
  });

  it('reports an OOMKilled container as oom_killed with exit 137', async () => {
    const b = backend();
    const job = await b.submit(spec('oom-job'));
    const pod = await scheduledPod(job);
    await setPodStatus(pod, terminated(137, 'OOMKilled'));
    const failed = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(failed).toMatchObject({ status: 'failed', reason: 'oom_killed', exitCode: 137 });
  });

  it('reads a CUDA OOM from the failed pod’s log', async () => {
    const b = backend();
    const job = await b.submit(spec('cuda-oom-job'));
    const pod = await scheduledPod(job);
    podLogs.set(
      `${namespace}/${pod}`,
      'epoch 0\nTraceback (most recent call last):\n  File "train.py", line 9, in <module>\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n',
    );
    await setPodStatus(pod, terminated(1, 'Error'));
    const failed = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(failed).toMatchObject({ status: 'failed', reason: 'cuda_oom', exitCode: 1 });
    expect(failed.reasonDetail).toContain('CUDA out of memory');
  });

  it('reports an evicted pod as evicted', async () => {
    const b = backend();
    const job = await b.submit(spec('evicted-job'));
    const pod = await scheduledPod(job);
    await setPodStatus(pod, {
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: memory.',
      startTime: now(),
    });
    const failed = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(failed).toMatchObject({
      status: 'failed',
      reason: 'evicted',
      reasonDetail: 'The node was low on resource: memory.',
    });
  });

  it('reports a preempted pod as preempted, from its DisruptionTarget condition', async () => {
    const b = backend();
    const job = await b.submit(spec('preempted-job'));
    const pod = await scheduledPod(job);
    await setPodStatus(
      pod,
      terminated(143, 'Error', {
        conditions: [
          {
            type: 'DisruptionTarget',
            status: 'True',
            reason: 'PreemptionByScheduler',
            message: 'Preempted in order to admit critical pod',
            lastTransitionTime: now(),
          },
        ],
      }),
    );
    const failed = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(failed).toMatchObject({ status: 'failed', reason: 'preempted', exitCode: 143 });
  });

  it('reports a Job past its deadline as timeout, from the Job condition', async () => {
    const b = backend();
    const job = await b.submit(spec('deadline-job', { timeoutSeconds: 1 }));
    expect(
      (await batch.readNamespacedJob({ name: jobNameOf(job), namespace })).spec?.activeDeadlineSeconds,
    ).toBe(1);
    const failed = await waitStatus(b, job.id, (j) => isTerminal(j.status));
    expect(failed).toMatchObject({ status: 'failed', reason: 'timeout' });
  });

  it('shows an image pull failure on a pending job', async () => {
    const b = backend();
    const job = await b.submit(spec('bad-image', { image: 'registry.local/missing:0' }));
    const pod = await scheduledPod(job);
    await setPodStatus(pod, {
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'train',
          image: 'registry.local/missing:0',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            waiting: {
              reason: 'ImagePullBackOff',
              message: 'Back-off pulling image "registry.local/missing:0"',
            },
          },
        },
      ],
    });
    const pending = await waitStatus(b, job.id, (j) => j.reason !== undefined);
    expect(pending).toMatchObject({ status: 'queued', reason: 'image_pull_failure' });
    expect(pending.reasonDetail).toContain('ImagePullBackOff');
  });

  it('stops a running job by suspending it, then requeues it as a new attempt with overrides', async () => {
    const b = backend();
    const job = await b.submit(spec('stop-me'));
    const pod = await scheduledPod(job);
    await setPodStatus(pod, running());
    await waitStatus(b, job.id, (j) => j.status === 'running');
    const stopped = await b.stop(job.id);
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'cancelled' });
    expect((await batch.readNamespacedJob({ name: jobNameOf(job), namespace })).spec?.suspend).toBe(true);
    expect(await b.stop(job.id)).toMatchObject({ status: 'stopped' });

    const again = await b.requeue(job.id, { params: { epochs: '9' }, resources: { gpus: 2 } });
    expect(again).toMatchObject({
      attempt: 2,
      previousAttemptId: job.id,
      params: { epochs: '9' },
      resources: { gpus: 2 },
      status: 'queued',
    });
    const created = await batch.readNamespacedJob({ name: jobNameOf(again), namespace });
    expect(created.spec?.template.spec?.containers[0]?.command).toEqual([
      'python',
      'train.py',
      '--epochs',
      '9',
    ]);
    expect(created.metadata?.labels?.['nightshift.dev/attempt']).toBe('2');
  });

  it('lists jobs with filters and a keyset position, and shows queue status without node access', async () => {
    const b = backend();
    const a = await b.submit(spec('list/alpha', { labels: { sweep: 'k1' } }));
    const c = await b.submit(spec('list/beta', { labels: { sweep: 'k1' } }));
    const page = await b.list({ filter: { labels: { sweep: 'k1' } }, limit: 1 });
    expect(page.jobs.map((j) => j.id)).toEqual([c.id]);
    expect(page.total).toBe(2);
    const next = await b.list({ filter: { labels: { sweep: 'k1' } }, limit: 1, after: page.jobs[0] as Job });
    expect(next.jobs.map((j) => j.id)).toEqual([a.id]);
    expect((await b.list({ filter: { name: 'list/al*' }, limit: 10 })).jobs.map((j) => j.id)).toEqual([a.id]);

    const [queue] = await b.queueStatus();
    expect(queue).toMatchObject({ backend: 'kubernetes', cluster: 'nightshift-test', reachable: true });
    // The namespaced role cannot list nodes: capacity is unknown, and the status says so.
    expect(queue?.note).toMatch(/node capacity unknown/);
  });

  it('sets the Kueue queue label and leaves admission to the cluster', async () => {
    const b = backend({ queue: 'team-a' });
    const job = await b.submit(spec('queued-by-kueue'));
    const created = await batch.readNamespacedJob({ name: jobNameOf(job), namespace });
    expect(created.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBe('team-a');
    expect(created.spec?.suspend).toBe(true);
    const got = await b.get(job.id);
    expect(got).toMatchObject({ status: 'queued', reasonDetail: 'waiting for admission by queue team-a' });
  });

  it('mounts the event-signing secret from a Secret reference, never as a literal in the Job', async () => {
    const b = backend({ eventsSecretRef: { name: 'nightshift-events', key: 'secret' } });
    const job = await b.submit(spec('with-events'));
    const created = await batch.readNamespacedJob({ name: jobNameOf(job), namespace });
    const env = created.spec?.template.spec?.containers[0]?.env ?? [];
    const secretVar = env.find((e) => e.name === 'NIGHTSHIFT_EVENTS_SECRET');
    expect(secretVar).toEqual({
      name: 'NIGHTSHIFT_EVENTS_SECRET',
      valueFrom: { secretKeyRef: { name: 'nightshift-events', key: 'secret' } },
    });
    expect(secretVar?.value).toBeUndefined();
  });

  it('runs inside a pod on the ServiceAccount credentials Kubernetes mounts there', async () => {
    // What the kubelet gives a pod: KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount's token,
    // CA and namespace as files. Here they are the least-privilege account's.
    const doc = parseYaml(readFileSync(limitedConfig as string, 'utf8')) as {
      clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
      users: Array<{ user: { token: string } }>;
    };
    const cluster = doc.clusters[0]?.cluster;
    const token = doc.users[0]?.user.token;
    if (!cluster || !token) throw new Error('the limited kubeconfig has no cluster or token');
    const prefix = join(scratch, 'pod');
    const mounted = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(mounted, { recursive: true });
    writeFileSync(join(mounted, 'token'), token);
    writeFileSync(join(mounted, 'ca.crt'), Buffer.from(cluster['certificate-authority-data'], 'base64'));
    writeFileSync(join(mounted, 'namespace'), namespace);
    const server = new URL(cluster.server);
    const saved = {
      host: process.env.KUBERNETES_SERVICE_HOST,
      port: process.env.KUBERNETES_SERVICE_PORT,
      kubeconfig: process.env.KUBECONFIG,
    };
    process.env.KUBERNETES_SERVICE_HOST = server.hostname;
    process.env.KUBERNETES_SERVICE_PORT = server.port;
    delete process.env.KUBECONFIG;
    try {
      const b = createKubernetesBackend({
        config: { enabled: true, image: 'registry.local/trainer:1', imagePullSecrets: [] },
        timeoutMs: 10_000,
        inClusterPathPrefix: prefix,
      });
      backends.push(b);
      const job = await b.submit(spec('from-a-pod'));
      expect(job.cluster).toBe('in-cluster');
      // No namespace configured: the one mounted with the ServiceAccount is used.
      const created = await batch.readNamespacedJob({ name: jobNameOf(job), namespace });
      expect(created.metadata?.labels?.['nightshift.dev/managed-by']).toBeDefined();
      expect((await b.get(job.id)).id).toBe(job.id);
    } finally {
      for (const [key, value] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
        ['KUBECONFIG', saved.kubeconfig],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('is refused in a namespace outside its role', async () => {
    const b = backend({ namespace: foreign });
    await expect(b.submit(spec('elsewhere'))).rejects.toThrow(/forbidden \(403\).*nightshift-foreign/);
    await expect(b.list({ filter: {}, limit: 5 })).rejects.toMatchObject({ code: 'permission_denied' });
  });

  it('answers unknown jobs and clusters with what exists', async () => {
    const b = backend();
    await expect(b.get('nightshift-test/no-such-job')).rejects.toThrow(
      /job nightshift-test\/no-such-job not found on cluster nightshift-test/,
    );
    await expect(b.get('other/thing')).rejects.toThrow(/<cluster>\/<job-name> \(clusters: nightshift-test\)/);
    await expect(b.submit(spec('x'), { cluster: 'nope' })).rejects.toThrow(
      /cluster nope not found; known: nightshift-test/,
    );
  });

  it('submits to several clusters (contexts), each job recording its own', async () => {
    const doc = parseYaml(readFileSync(adminConfig as string, 'utf8')) as {
      contexts: Array<{ name: string; context: Record<string, string> }>;
      'current-context': string;
    };
    const base = doc.contexts[0]?.context as Record<string, string>;
    doc.contexts = [
      { name: 'gpu-a', context: { ...base, namespace } },
      { name: 'gpu-b', context: { ...base, namespace: foreign } },
    ];
    doc['current-context'] = 'gpu-a';
    const path = join(scratch, 'multi.kubeconfig');
    writeFileSync(path, stringifyYaml(doc));
    const b = createKubernetesBackend({
      config: {
        enabled: true,
        kubeconfig: path,
        contexts: ['gpu-a', 'gpu-b'],
        image: 'registry.local/trainer:1',
        imagePullSecrets: [],
      },
      timeoutMs: 10_000,
    });
    backends.push(b);
    // These credentials can see nodes: a pod no node could hold is refused up front.
    await expect(b.submit(spec('too-big', { resources: { gpus: 4, cpus: 2 } }))).rejects.toThrow(
      /No node on cluster gpu-a can hold 4 GPU\(s\) and 2 CPU\(s\) in one pod \(nodes: 2 GPU\/16 CPU\)/,
    );
    const [statusA] = await b.queueStatus();
    expect(statusA).toMatchObject({ cluster: 'gpu-a', reachable: true, capacity: { gpus: 2, cpus: 16 } });
    expect(statusA?.note).toBeUndefined();
    const onB = await b.submit(spec('multi/one'), { cluster: 'gpu-b' });
    expect(onB).toMatchObject({ cluster: 'gpu-b' });
    expect(onB.id).toMatch(/^gpu-b\//);
    expect((await batch.readNamespacedJob({ name: jobNameOf(onB), namespace: foreign })).metadata?.name).toBe(
      jobNameOf(onB),
    );
    const onA = await b.submit(spec('multi/two'));
    expect(onA.cluster).toBe('gpu-a');
    const listed = await b.list({ filter: { name: 'multi/*' }, limit: 10 });
    expect(listed.jobs.map((j) => j.cluster).sort()).toEqual(['gpu-a', 'gpu-b']);
    expect(
      (await b.list({ filter: { name: 'multi/*', cluster: 'gpu-b' }, limit: 10 })).jobs.map((j) => j.id),
    ).toEqual([onB.id]);
  });

  it('re-reads a kubeconfig whose credentials rotated', async () => {
    const good = readFileSync(limitedConfig as string, 'utf8');
    const token = /token: (\S+)/.exec(good)?.[1] as string;
    const path = join(scratch, 'rotating.kubeconfig');
    writeFileSync(path, good.replace(token, 'expired-token'));
    const b = backend({ kubeconfig: path });
    await expect(b.list({ filter: {}, limit: 1 })).rejects.toThrow(/rejected the credentials \(401\)/);
    writeFileSync(path, good);
    const page = await b.list({ filter: {}, limit: 1 });
    expect(page.jobs.length).toBe(1);
  });

  it('fails with a clear error when the API server is unreachable or does not answer', async () => {
    const refusedPort = await freePort();
    const doc = readFileSync(limitedConfig as string, 'utf8');
    const refused = join(scratch, 'refused.kubeconfig');
    writeFileSync(refused, doc.replace(/server: \S+/, `server: https://127.0.0.1:${refusedPort}`));
    const down = backend({ kubeconfig: refused }, 2000);
    await expect(down.list({ filter: {}, limit: 1 })).rejects.toMatchObject({ code: 'unavailable' });
    const [status] = await down.queueStatus();
    expect(status).toMatchObject({ reachable: false });
    expect(status?.error).toMatch(/unreachable/);

    // A server that accepts connections and never answers: the deadline decides.
    const silent: TcpServer = createTcpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hung = join(scratch, 'hung.kubeconfig');
    writeFileSync(
      hung,
      doc.replace(/server: \S+/, `server: https://127.0.0.1:${(silent.address() as { port: number }).port}`),
    );
    const slow = backend({ kubeconfig: hung }, 500);
    await expect(slow.list({ filter: {}, limit: 1 })).rejects.toThrow(/no answer within 500 ms/);
    silent.close();
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createTcpServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
