import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import { type Logger, notFound, ToolError, timeoutSignal } from '@nightshift/mcp-kit';
import { parse as parseYaml } from 'yaml';
import type { KubernetesBackendConfig } from '../config.ts';
import { findMlflowRunId, hasCudaOom, lastErrorLine } from '../log-analysis.ts';
import { jobVariables, substitute } from './job-env.ts';
import {
  applyOverrides,
  compareJobs,
  isAfter,
  isTerminal,
  type Job,
  type JobBackend,
  type JobLogs,
  type JobReason,
  type JobSpec,
  type JobStatus,
  jobSpecSchema,
  type ListQuery,
  type ListResult,
  type LogQuery,
  matchesFilter,
  type QueueStatus,
  type SpecOverrides,
  type SubmitOptions,
  specOf,
  unreachableStatus,
} from './types.ts';

/** Labels and annotations this backend owns on Jobs and their pods. */
export const labels = {
  managedBy: 'nightshift.dev/managed-by',
  name: 'nightshift.dev/job-name',
  template: 'nightshift.dev/template',
  attempt: 'nightshift.dev/attempt',
  kueueQueue: 'kueue.x-k8s.io/queue-name',
  jobName: 'batch.kubernetes.io/job-name',
} as const;
export const annotations = {
  spec: 'nightshift.dev/spec',
  stoppedAt: 'nightshift.dev/stopped-at',
} as const;
const managedBy = 'nightshift-aiqu';
const containerName = 'train';

/** What the spec annotation holds: everything needed to show and requeue the job. */
interface StoredSpec {
  spec: JobSpec;
  attempt: number;
  previousAttemptId?: string;
  createdAt: string;
}

export interface KubernetesBackendOptions {
  config: KubernetesBackendConfig;
  /** Default deadline for one API call, ms. */
  timeoutMs: number;
  eventsUrl?: string | undefined;
  logger?: Logger;
  /**
   * In a pod the ServiceAccount's token, CA and namespace are read from
   * /var/run/secrets/kubernetes.io/serviceaccount; this is put in front of that path (tests).
   */
  inClusterPathPrefix?: string;
}

type ClientModule = typeof import('@kubernetes/client-node');

interface ClusterClient {
  context: string;
  namespace: string;
  server: string;
  batch: K8s.BatchV1Api;
  core: K8s.CoreV1Api;
  /** mtime of the kubeconfig when it was read; a change means credentials may have rotated. */
  loadedMtimeMs: number;
}

/** Creates the backend without loading the Kubernetes client; the first call loads it. */
export function createKubernetesBackend(options: KubernetesBackendOptions): KubernetesBackend {
  return new KubernetesBackend(options);
}

/**
 * batch/v1 Jobs on one or more clusters (kubeconfig contexts). Admission and placement are the
 * cluster's business (Kueue when configured); this backend submits, reads back status and
 * reasons from Job conditions and pod statuses, reads pod logs, and suspends to stop.
 */
export class KubernetesBackend implements JobBackend {
  readonly name = 'kubernetes';
  readonly kind = 'kubernetes' as const;
  readonly clusters: readonly string[];
  private readonly options: KubernetesBackendOptions;
  private readonly kubeconfigPath: string | undefined;
  private readonly clients = new Map<string, ClusterClient>();
  private module: ClientModule | undefined;
  private readonly nodeCache = new Map<
    string,
    {
      at: number;
      value: { gpus: number; cpus: number; largest: Array<{ gpus: number; cpus: number }> } | undefined;
    }
  >();

  constructor(options: KubernetesBackendOptions) {
    this.options = options;
    this.kubeconfigPath = resolveKubeconfig(options.config.kubeconfig);
    if (options.config.contexts && options.config.contexts.length > 0) {
      this.clusters = options.config.contexts;
    } else if (this.kubeconfigPath) {
      this.clusters = [currentContext(this.kubeconfigPath)];
    } else {
      this.clusters = ['in-cluster'];
    }
  }

  owns(id: string): boolean {
    return this.clusters.some((c) => id.startsWith(`${c}/`));
  }

  async submit(spec: JobSpec, options: SubmitOptions = {}): Promise<Job> {
    const cluster = this.pickCluster(options.cluster);
    const image = spec.image ?? this.options.config.image;
    if (!image) {
      throw new ToolError(
        'invalid_input',
        'The job has no container image: give its template an image, or set backends.kubernetes.image in the config.',
      );
    }
    await this.checkFits(cluster, spec, options.signal);
    const full: JobSpec = { ...spec, image };
    const jobName = kubeName(spec.name);
    const stored: StoredSpec = {
      spec: full,
      attempt: options.attempt ?? 1,
      createdAt: new Date().toISOString(),
      ...(options.previousAttemptId ? { previousAttemptId: options.previousAttemptId } : {}),
    };
    const client = await this.client(cluster);
    const body = this.jobManifest(jobName, `${cluster}/${jobName}`, stored, client.namespace);
    const created = await this.call(cluster, options.signal, `creating Job ${jobName}`, (c, o) =>
      c.batch.createNamespacedJob({ namespace: c.namespace, body }, o),
    );
    return this.toJob(cluster, created, []);
  }

  async list(query: ListQuery): Promise<ListResult> {
    const clusters = query.filter.cluster
      ? this.clusters.filter((c) => c === query.filter.cluster)
      : this.clusters;
    const all: Job[] = [];
    for (const cluster of clusters) {
      const selector = `${labels.managedBy}=${managedBy}`;
      const [jobs, pods] = await Promise.all([
        this.call(cluster, query.signal, 'listing Jobs', (c, o) =>
          c.batch.listNamespacedJob({ namespace: c.namespace, labelSelector: selector }, o),
        ),
        this.call(cluster, query.signal, 'listing pods', (c, o) =>
          c.core.listNamespacedPod({ namespace: c.namespace, labelSelector: selector }, o),
        ),
      ]);
      const byJob = new Map<string, K8s.V1Pod[]>();
      for (const pod of pods.items) {
        const owner = pod.metadata?.labels?.[labels.jobName] ?? pod.metadata?.labels?.['job-name'];
        if (!owner) continue;
        byJob.set(owner, [...(byJob.get(owner) ?? []), pod]);
      }
      for (const item of jobs.items)
        all.push(this.toJob(cluster, item, byJob.get(item.metadata?.name ?? '') ?? []));
    }
    const matching = all.filter((job) => matchesFilter(job, query.filter)).sort(compareJobs);
    const after = query.after;
    const page = (after ? matching.filter((job) => isAfter(job, after)) : matching).slice(0, query.limit);
    return { jobs: page, total: matching.length };
  }

  async get(id: string, signal?: AbortSignal): Promise<Job> {
    const { cluster, jobName } = this.parseId(id);
    const job = await this.readJob(cluster, jobName, signal);
    const pods = await this.jobPods(cluster, jobName, signal);
    let result = this.toJob(cluster, job, pods);
    // A failed container's last lines tell a CUDA OOM apart from any other non-zero exit.
    if (result.status === 'failed' && result.reason === 'nonzero_exit') {
      const text = await this.podLogText(cluster, pods, 200, signal).catch(() => undefined);
      if (text !== undefined) result = refineFromLog(result, text);
    }
    return result;
  }

  async logs(id: string, query: LogQuery): Promise<JobLogs> {
    const { cluster, jobName } = this.parseId(id);
    const pods = await this.jobPods(cluster, jobName, query.signal);
    const pod = newestPod(pods);
    if (!pod?.metadata?.name) {
      await this.readJob(cluster, jobName, query.signal);
      throw new ToolError(
        'not_found',
        `job ${id} has no pod yet (it is waiting for admission or scheduling); logs appear once a pod starts.`,
      );
    }
    const text = await this.podLogText(cluster, [pod], query.tailLines, query.signal);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const whole = lines.length < query.tailLines;
    return {
      lines,
      firstLineNumber: 1,
      ...(whole ? { totalLines: lines.length } : {}),
      source: `pod ${pod.metadata.name} (container ${containerName}) on ${cluster}`,
    };
  }

  async stop(id: string, signal?: AbortSignal): Promise<Job> {
    const { cluster, jobName } = this.parseId(id);
    const current = this.toJob(cluster, await this.readJob(cluster, jobName, signal), []);
    if (isTerminal(current.status)) return this.get(id, signal);
    const { PatchStrategy, setHeaderOptions } = await this.load();
    // Suspending (rather than deleting) keeps the Job and its history; the Job controller removes
    // the running pods. The annotation tells a stopped Job apart from one waiting for admission.
    const patched = await this.call(cluster, signal, `stopping Job ${jobName}`, (c, o) =>
      c.batch.patchNamespacedJob(
        {
          name: jobName,
          namespace: c.namespace,
          body: {
            metadata: { annotations: { [annotations.stoppedAt]: new Date().toISOString() } },
            spec: { suspend: true },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch, o),
      ),
    );
    return this.toJob(cluster, patched, []);
  }

  async requeue(id: string, overrides: SpecOverrides = {}, signal?: AbortSignal): Promise<Job> {
    const previous = await this.get(id, signal);
    const spec = applyOverrides(specOf(previous), overrides);
    return this.submit(spec, {
      attempt: previous.attempt + 1,
      previousAttemptId: previous.id,
      cluster: overrides.cluster ?? previous.cluster,
      ...(signal ? { signal } : {}),
    });
  }

  async queueStatus(signal?: AbortSignal): Promise<QueueStatus[]> {
    const out: QueueStatus[] = [];
    for (const cluster of this.clusters) {
      const base = {
        backend: this.name,
        cluster,
        gpus: [],
        ...(this.options.config.queue ? { queue: this.options.config.queue } : {}),
      };
      try {
        const { jobs } = await this.list({
          filter: { cluster },
          limit: 10_000,
          ...(signal ? { signal } : {}),
        });
        const running = jobs.filter((j) => j.status === 'running');
        const capacity = await this.nodeCapacity(cluster, signal);
        out.push({
          ...base,
          reachable: true,
          capacity: capacity ? { gpus: capacity.gpus, cpus: capacity.cpus } : { gpus: 0, cpus: 0 },
          inUse: {
            gpus: running.reduce((n, j) => n + j.resources.gpus, 0),
            cpus: running.reduce((n, j) => n + j.resources.cpus, 0),
          },
          running: running.length,
          queued: jobs.filter((j) => j.status === 'queued').length,
          ...(capacity
            ? {}
            : {
                note: 'node capacity unknown: the credentials may not list nodes (a namespaced role cannot); the cluster’s own queue decides admission',
              }),
        });
      } catch (error) {
        out.push({ ...base, ...unreachableStatus(this.name, cluster, error) });
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.clients.clear();
  }

  // --- internals -------------------------------------------------------------------------------

  private pickCluster(cluster: string | undefined): string {
    if (!cluster) return this.clusters[0] as string;
    if (!this.clusters.includes(cluster)) {
      throw notFound(
        `cluster ${cluster}`,
        [...this.clusters],
        'Clusters are kubeconfig contexts named in backends.kubernetes.contexts.',
      );
    }
    return cluster;
  }

  private parseId(id: string): { cluster: string; jobName: string } {
    const cluster = this.clusters.find((c) => id.startsWith(`${c}/`));
    const jobName = cluster ? id.slice(cluster.length + 1) : '';
    if (!cluster || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(jobName)) {
      throw new ToolError(
        'not_found',
        `job ${id} not found: Kubernetes job ids look like <cluster>/<job-name> (clusters: ${this.clusters.join(', ')}). List jobs with aiqu_list_jobs.`,
      );
    }
    return { cluster, jobName };
  }

  private async load(): Promise<ClientModule> {
    this.module ??= await import('@kubernetes/client-node');
    return this.module;
  }

  /** The cluster's API clients, re-created when the kubeconfig file changed since they were made. */
  private async client(cluster: string, forceReload = false): Promise<ClusterClient> {
    const existing = this.clients.get(cluster);
    const mtime = this.kubeconfigMtime();
    if (existing && !forceReload && existing.loadedMtimeMs === mtime) return existing;
    const k8s = await this.load();
    const kc = new k8s.KubeConfig();
    try {
      if (this.kubeconfigPath) {
        kc.loadFromFile(this.kubeconfigPath);
        if (cluster !== 'in-cluster') kc.setCurrentContext(cluster);
      } else {
        kc.loadFromCluster(this.options.inClusterPathPrefix);
      }
    } catch (error) {
      throw new ToolError(
        'not_configured',
        `cannot load kubeconfig for cluster ${cluster}: ${(error as Error).message}`,
      );
    }
    const context = kc.getContextObject(kc.getCurrentContext());
    if (cluster !== 'in-cluster' && !context) {
      throw notFound(
        `context ${cluster} in ${this.kubeconfigPath}`,
        kc.getContexts().map((c) => c.name),
      );
    }
    const namespace = this.options.config.namespace ?? context?.namespace ?? 'default';
    const created: ClusterClient = {
      context: cluster,
      namespace,
      server: kc.getCurrentCluster()?.server ?? 'unknown',
      batch: kc.makeApiClient(k8s.BatchV1Api),
      core: kc.makeApiClient(k8s.CoreV1Api),
      loadedMtimeMs: mtime,
    };
    this.clients.set(cluster, created);
    return created;
  }

  private kubeconfigMtime(): number {
    if (!this.kubeconfigPath) return 0;
    try {
      return statSync(this.kubeconfigPath).mtimeMs;
    } catch {
      return 0;
    }
  }

  /**
   * One API call with a deadline, mapped errors, and one retry after re-reading the kubeconfig
   * when the server says the credentials are no longer valid (rotated tokens).
   */
  private async call<T>(
    cluster: string,
    signal: AbortSignal | undefined,
    what: string,
    work: (client: ClusterClient, options: K8s.ConfigurationOptions) => Promise<T>,
  ): Promise<T> {
    const k8s = await this.load();
    for (let attempt = 0; ; attempt++) {
      const client = await this.client(cluster, attempt > 0);
      const deadline = timeoutSignal(this.options.timeoutMs, signal);
      const options: K8s.ConfigurationOptions = {
        middleware: [
          {
            pre: (request) => {
              request.setSignal(deadline);
              return new k8s.Observable(Promise.resolve(request));
            },
            post: (response) => new k8s.Observable(Promise.resolve(response)),
          },
        ],
        middlewareMergeStrategy: 'append',
      };
      try {
        return await work(client, options);
      } catch (error) {
        if (attempt === 0 && statusOf(error) === 401) {
          this.options.logger?.info('credentials rejected; re-reading the kubeconfig', { cluster });
          continue;
        }
        throw mapError(
          error,
          `${what} on cluster ${cluster} (${client.server}, namespace ${client.namespace})`,
          deadline,
          this.options.timeoutMs,
        );
      }
    }
  }

  private async readJob(cluster: string, jobName: string, signal?: AbortSignal): Promise<K8s.V1Job> {
    try {
      return await this.call(cluster, signal, `reading Job ${jobName}`, (c, o) =>
        c.batch.readNamespacedJob({ name: jobName, namespace: c.namespace }, o),
      );
    } catch (error) {
      if (ToolError.isInstance(error) && error.code === 'not_found') {
        throw new ToolError(
          'not_found',
          `job ${cluster}/${jobName} not found on cluster ${cluster}. List jobs with aiqu_list_jobs.`,
        );
      }
      throw error;
    }
  }

  private async jobPods(cluster: string, jobName: string, signal?: AbortSignal): Promise<K8s.V1Pod[]> {
    const pods = await this.call(cluster, signal, `listing pods of ${jobName}`, (c, o) =>
      c.core.listNamespacedPod({ namespace: c.namespace, labelSelector: `${labels.jobName}=${jobName}` }, o),
    );
    return pods.items;
  }

  private async podLogText(
    cluster: string,
    pods: K8s.V1Pod[],
    tailLines: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const pod = newestPod(pods);
    const name = pod?.metadata?.name;
    if (!name) return '';
    return this.call(cluster, signal, `reading the log of pod ${name}`, (c, o) =>
      c.core.readNamespacedPodLog({ name, namespace: c.namespace, container: containerName, tailLines }, o),
    );
  }

  /**
   * Refuses a pod no node could ever hold, when the credentials can see nodes; with a namespaced
   * role they cannot, and the cluster's own queue decides.
   */
  private async checkFits(cluster: string, spec: JobSpec, signal?: AbortSignal): Promise<void> {
    const nodes = await this.nodeCapacity(cluster, signal);
    if (!nodes || nodes.largest.length === 0) return;
    const { gpus, cpus } = spec.resources;
    const fits = nodes.largest.some((n) => n.gpus >= gpus && n.cpus >= cpus);
    if (!fits) {
      const best = [...nodes.largest]
        .sort((a, b) => b.gpus - a.gpus || b.cpus - a.cpus)
        .slice(0, 5)
        .map((n) => `${n.gpus} GPU/${n.cpus} CPU`)
        .join(', ');
      throw new ToolError(
        'refused',
        `No node on cluster ${cluster} can hold ${gpus} GPU(s) and ${cpus} CPU(s) in one pod (nodes: ${best}). Lower the resources or pick another cluster.`,
      );
    }
  }

  private async nodeCapacity(
    cluster: string,
    signal?: AbortSignal,
  ): Promise<{ gpus: number; cpus: number; largest: Array<{ gpus: number; cpus: number }> } | undefined> {
    const cached = this.nodeCache.get(cluster);
    if (cached && Date.now() - cached.at < 60_000) return cached.value;
    let value: { gpus: number; cpus: number; largest: Array<{ gpus: number; cpus: number }> } | undefined;
    try {
      const nodes = await this.call(cluster, signal, 'listing nodes', (c, o) => c.core.listNode({}, o));
      let gpus = 0;
      let cpus = 0;
      const largest: Array<{ gpus: number; cpus: number }> = [];
      for (const node of nodes.items) {
        if (node.spec?.unschedulable) continue;
        const allocatable = node.status?.allocatable ?? {};
        const nodeGpus = Number(allocatable['nvidia.com/gpu'] ?? 0) || 0;
        const nodeCpus = parseCpu(allocatable.cpu);
        gpus += nodeGpus;
        cpus += nodeCpus;
        largest.push({ gpus: nodeGpus, cpus: nodeCpus });
      }
      value = { gpus, cpus, largest };
    } catch (error) {
      // Forbidden means a namespaced role: capacity stays unknown. Anything else is worth a log line.
      if (!(ToolError.isInstance(error) && error.code === 'permission_denied')) {
        this.options.logger?.debug('node capacity unavailable', { cluster, error: (error as Error).message });
      }
      value = undefined;
    }
    this.nodeCache.set(cluster, { at: Date.now(), value });
    return value;
  }

  private jobManifest(jobName: string, id: string, stored: StoredSpec, namespace: string): K8s.V1Job {
    const { spec } = stored;
    const config = this.options.config;
    const asJob = { ...spec, id, attempt: stored.attempt } as Job;
    const env: K8s.V1EnvVar[] = Object.entries(jobVariables(asJob)).map(([name, value]) => ({ name, value }));
    if (this.options.eventsUrl) env.push({ name: 'NIGHTSHIFT_EVENTS_URL', value: this.options.eventsUrl });
    // The signing secret never goes into the Job spec (readable by anyone who can get Jobs).
    if (config.eventsSecretRef) {
      env.push({
        name: 'NIGHTSHIFT_EVENTS_SECRET',
        valueFrom: { secretKeyRef: { name: config.eventsSecretRef.name, key: config.eventsSecretRef.key } },
      });
    }
    const resources: Record<string, string> = { cpu: String(spec.resources.cpus) };
    if (spec.resources.memoryMiB) resources.memory = `${spec.resources.memoryMiB}Mi`;
    const limits: Record<string, string> = { ...resources };
    if (spec.resources.gpus > 0) limits['nvidia.com/gpu'] = String(spec.resources.gpus);
    const jobLabels: Record<string, string> = {
      [labels.managedBy]: managedBy,
      [labels.name]: labelValue(spec.name),
      [labels.attempt]: String(stored.attempt),
      ...(spec.template ? { [labels.template]: labelValue(spec.template) } : {}),
      ...(config.queue ? { [labels.kueueQueue]: config.queue } : {}),
    };
    const command = spec.command?.map((arg) => substitute(arg, asJob));
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName,
        namespace,
        labels: jobLabels,
        annotations: { [annotations.spec]: JSON.stringify(stored) },
      },
      spec: {
        // Retrying is the agent's decision (requeue), not a silent backoff loop.
        backoffLimit: 0,
        // With Kueue, a Job is created suspended and the cluster's queue admits it.
        ...(config.queue ? { suspend: true } : {}),
        ...(spec.timeoutSeconds ? { activeDeadlineSeconds: spec.timeoutSeconds } : {}),
        template: {
          metadata: { labels: { [labels.managedBy]: managedBy, [labels.name]: labelValue(spec.name) } },
          spec: {
            restartPolicy: 'Never',
            ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
            ...(config.imagePullSecrets.length > 0
              ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) }
              : {}),
            containers: [
              {
                name: containerName,
                image: spec.image as string,
                ...(command && command.length > 0 ? { command } : {}),
                ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
                env,
                resources: { requests: resources, limits },
              },
            ],
          },
        },
      },
    };
  }

  /** The job model from a Job and its pods: status and reason from conditions and pod states. */
  toJob(cluster: string, k8sJob: K8s.V1Job, pods: K8s.V1Pod[]): Job {
    const meta = k8sJob.metadata ?? {};
    const jobName = meta.name ?? '';
    const stored = parseStored(meta.annotations?.[annotations.spec], jobName);
    const status = k8sJob.status ?? {};
    const conditions = status.conditions ?? [];
    const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
    const job: Job = {
      ...stored.spec,
      id: `${cluster}/${jobName}`,
      backend: this.name,
      cluster,
      status: 'queued',
      createdAt: stored.createdAt ?? iso(meta.creationTimestamp) ?? new Date(0).toISOString(),
      attempt: stored.attempt,
      nativeId: `${meta.namespace ?? ''}/${jobName}`,
      ...(stored.previousAttemptId ? { previousAttemptId: stored.previousAttemptId } : {}),
    };
    const pod = newestPod(pods);
    const container =
      pod?.status?.containerStatuses?.find((c) => c.name === containerName) ??
      pod?.status?.containerStatuses?.[0];
    const started =
      iso(container?.state?.running?.startedAt) ??
      iso(container?.state?.terminated?.startedAt) ??
      iso(pod?.status?.startTime);
    if (started) job.startedAt = started;
    const terminated = container?.state?.terminated ?? container?.lastState?.terminated;
    if (terminated?.exitCode !== undefined) job.exitCode = terminated.exitCode;

    const complete = isTrue('Complete') ?? isTrue('SuccessCriteriaMet');
    const failed = isTrue('Failed') ?? isTrue('FailureTarget');
    const stoppedAt = meta.annotations?.[annotations.stoppedAt];
    const set = (s: JobStatus, reason?: JobReason, detail?: string) => {
      job.status = s;
      if (reason) job.reason = reason;
      if (detail) job.reasonDetail = detail;
    };
    if (complete) {
      set('succeeded', 'completed');
      job.endedAt =
        iso(status.completionTime) ?? iso(complete.lastTransitionTime) ?? new Date().toISOString();
    } else if (failed) {
      const podReason = podFailure(pod, terminated);
      if (failed.reason === 'DeadlineExceeded')
        set('failed', 'timeout', failed.message ?? 'Job was active longer than its deadline');
      else set('failed', podReason.reason, podReason.detail ?? failed.message ?? failed.reason);
      job.endedAt = iso(failed.lastTransitionTime) ?? new Date().toISOString();
    } else if (stoppedAt) {
      set('stopped', 'cancelled', 'stopped on request: the Job is suspended and its pods deleted');
      job.endedAt = stoppedAt;
    } else if (k8sJob.spec?.suspend) {
      set(
        'queued',
        undefined,
        this.options.config.queue
          ? `waiting for admission by queue ${this.options.config.queue}`
          : 'suspended',
      );
    } else if (pod && pod.status?.phase === 'Running') {
      set('running');
    } else if (pod) {
      const waiting = pendingReason(pod);
      set('queued', waiting?.reason, waiting?.detail);
      if (!job.startedAt || pod.status?.phase === 'Pending') delete job.startedAt;
    } else if ((status.active ?? 0) > 0) {
      set('running');
    }
    if (job.status === 'queued') delete job.startedAt;
    return job;
  }
}

/** Why a pod ended, from the container's terminated state, the pod's reason and its conditions. */
function podFailure(
  pod: K8s.V1Pod | undefined,
  terminated: K8s.V1ContainerStateTerminated | undefined,
): { reason: JobReason; detail?: string } {
  if (!pod) return { reason: 'unknown' };
  const disruption = pod.status?.conditions?.find(
    (c) => c.type === 'DisruptionTarget' && c.status === 'True',
  );
  if (terminated?.reason === 'OOMKilled')
    return { reason: 'oom_killed', detail: `container OOMKilled (exit ${terminated.exitCode})` };
  if (pod.status?.reason === 'Evicted') return { reason: 'evicted', detail: pod.status.message ?? 'Evicted' };
  if (disruption) {
    const why = disruption.reason ?? '';
    if (why === 'PreemptionByScheduler') return { reason: 'preempted', detail: disruption.message ?? why };
    if (why === 'DeletionByTaintManager' || why === 'DeletionByPodGC')
      return { reason: 'node_failure', detail: disruption.message ?? why };
    return { reason: 'evicted', detail: disruption.message ?? why };
  }
  if (pod.status?.reason === 'NodeLost' || pod.status?.reason === 'UnexpectedAdmissionError') {
    return { reason: 'node_failure', detail: pod.status.message ?? pod.status.reason };
  }
  const waiting = pendingReason(pod);
  if (waiting) return waiting;
  if (terminated && terminated.exitCode !== 0) {
    return {
      reason: terminated.exitCode === 137 ? 'oom_killed' : 'nonzero_exit',
      detail: terminated.message?.trim() || `${terminated.reason ?? 'Error'} (exit ${terminated.exitCode})`,
    };
  }
  return { reason: 'unknown' };
}

const imagePullReasons = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
]);

/** Why a pod has not started: image pulls, scheduling, container creation. */
function pendingReason(pod: K8s.V1Pod): { reason: JobReason; detail?: string } | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (!waiting?.reason) continue;
    if (imagePullReasons.has(waiting.reason)) {
      return {
        reason: 'image_pull_failure',
        detail: `${waiting.reason}: ${waiting.message ?? status.image}`,
      };
    }
    if (
      waiting.reason === 'CreateContainerConfigError' ||
      waiting.reason === 'CreateContainerError' ||
      waiting.reason === 'RunContainerError'
    ) {
      return { reason: 'start_failure', detail: `${waiting.reason}: ${waiting.message ?? ''}`.trim() };
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { reason: 'unschedulable', detail: scheduled.message ?? 'Unschedulable' };
  }
  return undefined;
}

function refineFromLog(job: Job, text: string): Job {
  const lines = text.split('\n');
  const mlflowRunId = findMlflowRunId(text);
  const refined: Job = { ...job, ...(mlflowRunId ? { mlflowRunId } : {}) };
  if (hasCudaOom(lines)) {
    refined.reason = 'cuda_oom';
    refined.reasonDetail = lastErrorLine(lines) ?? 'CUDA out of memory';
  } else {
    const line = lastErrorLine(lines);
    if (line) refined.reasonDetail = line;
  }
  return refined;
}

function newestPod(pods: readonly K8s.V1Pod[]): K8s.V1Pod | undefined {
  let best: K8s.V1Pod | undefined;
  for (const pod of pods) {
    const t = iso(pod.metadata?.creationTimestamp) ?? '';
    const bt = iso(best?.metadata?.creationTimestamp) ?? '';
    if (!best || t > bt || (t === bt && (pod.metadata?.name ?? '') > (best.metadata?.name ?? ''))) best = pod;
  }
  return best;
}

function parseStored(
  text: string | undefined,
  jobName: string,
): { spec: JobSpec; attempt: number; previousAttemptId?: string; createdAt?: string } {
  if (text) {
    try {
      const raw = JSON.parse(text) as Partial<StoredSpec>;
      const spec = jobSpecSchema.parse(raw.spec);
      return {
        spec,
        attempt: typeof raw.attempt === 'number' ? raw.attempt : 1,
        ...(typeof raw.previousAttemptId === 'string' ? { previousAttemptId: raw.previousAttemptId } : {}),
        ...(typeof raw.createdAt === 'string' ? { createdAt: raw.createdAt } : {}),
      };
    } catch {
      // Fall through: a Job edited by hand still shows up, with what its name says.
    }
  }
  return { spec: jobSpecSchema.parse({ name: jobName, resources: { gpus: 0, cpus: 0 } }), attempt: 1 };
}

function iso(value: Date | string | undefined | null): string | undefined {
  if (!value) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function parseCpu(value: string | undefined): number {
  if (!value) return 0;
  return value.endsWith('m') ? Number(value.slice(0, -1)) / 1000 : Number(value) || 0;
}

/** A DNS-1123 Job name from a job name plus a random suffix (pods add their own suffix). */
export function kubeName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-{2,}/g, '-')
    .slice(0, 40)
    .replace(/-+$/g, '');
  const suffix = Math.random().toString(36).slice(2, 7).padEnd(5, '0');
  return `${slug || 'job'}-${suffix}`;
}

/** A valid label value (63 chars, alphanumerics and -_.) from free text. */
function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

function resolveKubeconfig(configured: string | undefined): string | undefined {
  if (configured) return configured;
  const fromEnv = process.env.KUBECONFIG?.split(delimiter).find((p) => p && existsSync(p));
  if (fromEnv) return fromEnv;
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return home;
  return undefined;
}

function currentContext(path: string): string {
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as {
      'current-context'?: string;
      contexts?: Array<{ name?: string }>;
    };
    const name = doc['current-context'] || doc.contexts?.[0]?.name;
    if (name) return name;
  } catch {
    // Reported on first use, with the file's own error.
  }
  return 'default';
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

function mapError(error: unknown, what: string, deadline: AbortSignal, timeoutMs: number): Error {
  if (ToolError.isInstance(error)) return error;
  const status = statusOf(error);
  const body = (error as { body?: unknown })?.body;
  let message = '';
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      message = body;
    }
  } else if (body && typeof body === 'object' && 'message' in body)
    message = String((body as { message: unknown }).message);
  if (status === 401)
    return new ToolError(
      'permission_denied',
      `${what}: the cluster rejected the credentials (401) even after re-reading the kubeconfig.`,
    );
  if (status === 403)
    return new ToolError(
      'permission_denied',
      `${what}: forbidden (403): ${message || 'the credentials lack a permission'}.`,
    );
  if (status === 404)
    return new ToolError('not_found', `${what}: not found (404)${message ? `: ${message}` : ''}.`);
  if (status === 409)
    return new ToolError('conflict', `${what}: conflict (409)${message ? `: ${message}` : ''}.`);
  if (status === 422 || status === 400)
    return new ToolError('invalid_input', `${what}: rejected (${status}): ${message}`);
  if (status !== undefined && status >= 500)
    return new ToolError('unavailable', `${what}: server error ${status}${message ? `: ${message}` : ''}.`);
  if (deadline.aborted)
    return new ToolError(
      'timeout',
      `${what}: no answer within ${timeoutMs} ms; the cluster may be unreachable.`,
    );
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
  return new ToolError('unavailable', `${what}: the cluster is unreachable (${detail}).`);
}
