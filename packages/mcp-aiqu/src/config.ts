import { readFile } from 'node:fs/promises';
import { envPositiveInt } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { configRefSchema, resourcesSchema } from './backends/types.ts';

/** Environment variables the server reads; `--help` lists them from these descriptions. */
export const aiquEnv = z.object({
  NIGHTSHIFT_AIQU_STATE_DIR: z
    .string()
    .min(1)
    .describe('Directory for job state and logs of the local backend (created if missing)'),
  NIGHTSHIFT_AIQU_CONFIG: z
    .string()
    .optional()
    .describe(
      'YAML file: backends (local, kubernetes) and job templates; without it, the local backend only',
    ),
  NIGHTSHIFT_EVENTS_URL: z
    .string()
    .url()
    .optional()
    .describe('Where jobs send signed events (passed to every job as NIGHTSHIFT_EVENTS_URL)'),
  NIGHTSHIFT_EVENTS_SECRET: z
    .string()
    .min(16)
    .optional()
    .describe('Secret jobs sign events with (passed to local jobs; never shown in results)'),
  NIGHTSHIFT_AIQU_TIMEOUT_MS: envPositiveInt
    .default(15_000)
    .describe('Deadline for one call to a backend (Kubernetes API), in milliseconds'),
});
export type AiquEnv = z.output<typeof aiquEnv>;

const localBackendSchema = z.object({
  enabled: z.boolean().default(true),
  /** A count, or the GPU indices to use; discovered with `nvidia-smi -L` when absent. */
  gpus: z.union([z.number().int().min(0), z.array(z.number().int().min(0))]).optional(),
  /** CPU slots; the machine's CPU count when absent. */
  cpus: z.number().int().positive().optional(),
  memoryMiB: z.number().int().positive().optional(),
  stopGraceSeconds: z.number().min(0).default(30),
  /** Names of server environment variables passed through to jobs (e.g. MLFLOW_TRACKING_URI). */
  inheritEnv: z.array(z.string()).default([]),
});

const kubernetesBackendSchema = z.object({
  enabled: z.boolean().default(true),
  /** kubeconfig file; KUBECONFIG, ~/.kube/config or in-cluster credentials when absent. */
  kubeconfig: z.string().optional(),
  /** Context names from the kubeconfig, one per cluster; the current context when absent. */
  contexts: z.array(z.string()).optional(),
  namespace: z.string().optional(),
  /** Kueue LocalQueue name: sets `kueue.x-k8s.io/queue-name` so the cluster's queue decides admission. */
  queue: z.string().optional(),
  /** Default container image for templates without one. */
  image: z.string().optional(),
  serviceAccountName: z.string().optional(),
  imagePullSecrets: z.array(z.string()).default([]),
  /** A Secret in the namespace holding the event-signing secret, mounted as NIGHTSHIFT_EVENTS_SECRET. */
  eventsSecretRef: z.object({ name: z.string(), key: z.string().default('secret') }).optional(),
});

const templateSchema = z.object({
  description: z.string().optional(),
  backend: z.string().optional(),
  command: z.array(z.string()).optional(),
  image: z.string().optional(),
  workingDir: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  params: z.record(z.string(), z.coerce.string()).default({}),
  resources: resourcesSchema.partial().optional(),
  configRef: configRefSchema.partial().optional(),
  labels: z.record(z.string(), z.string()).default({}),
  priority: z.number().int().default(0),
  timeoutSeconds: z.number().int().positive().optional(),
});
export type Template = z.output<typeof templateSchema>;

/** The optional YAML file named by NIGHTSHIFT_AIQU_CONFIG. */
export const aiquFileSchema = z.object({
  defaultBackend: z.string().optional(),
  backends: z
    .object({
      local: localBackendSchema.optional(),
      kubernetes: kubernetesBackendSchema.optional(),
    })
    .catchall(z.unknown())
    .default({}),
  defaults: z.object({ resources: resourcesSchema.partial().default({}) }).default({ resources: {} }),
  templates: z.record(z.string(), templateSchema).default({}),
});
export type AiquFile = z.output<typeof aiquFileSchema>;
export type LocalBackendConfig = z.output<typeof localBackendSchema>;
export type KubernetesBackendConfig = z.output<typeof kubernetesBackendSchema>;

/** Reads and validates the YAML file; every problem is listed in one message. */
export async function loadAiquFile(path: string | undefined): Promise<AiquFile> {
  if (!path) return aiquFileSchema.parse({});
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read NIGHTSHIFT_AIQU_CONFIG ${path}: ${(error as Error).message}`);
  }
  return parseAiquFile(text, path);
}

/** Parses the YAML text of a config file (the YAML parser loads only when a file is used). */
export async function parseAiquFile(text: string, source = 'config'): Promise<AiquFile> {
  const yaml = await import('yaml');
  // The bundler may present this CommonJS build with its exports under `default`.
  const parse = yaml.parse ?? (yaml as unknown as { default: typeof yaml }).default.parse;
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (error) {
    throw new Error(`${source} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = aiquFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}

/** Shown when submit is called without templates: how to add one. */
export const templateHelp = `Add templates to the YAML file named by NIGHTSHIFT_AIQU_CONFIG, e.g.:
templates:
  weld-defect:
    command: [python, train.py, --config, "{{config_path}}", --epochs, "{{epochs}}"]
    workingDir: /srv/trainer
    configRef: { repo: factory-configs, path: customer-a/weld-defect-v4/train_cfg.yaml }
    params: { epochs: "30" }
    resources: { gpus: 1, cpus: 4 }`;
