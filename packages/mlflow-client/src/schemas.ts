import { z } from 'zod';

/**
 * Zod schemas for the MLflow REST API's JSON (MLflow 2.x and 3.x). Protobuf's JSON mapping
 * may send 64-bit integers as strings and omits empty fields, so numbers are coerced, repeated
 * fields default to empty lists and unknown fields are dropped (newer servers add fields).
 */

/** int64 as number or decimal string. */
const int64 = z.union([z.number(), z.string()]).transform((v) => Number(v));
const optionalInt64 = int64.optional();

/** A metric value: protobuf JSON writes non-finite doubles as "NaN", "Infinity", "-Infinity". */
export const metricValueSchema = z.union([z.number(), z.string()]).transform((v) => {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number(v);
});

export const keyValueSchema = z.object({ key: z.string(), value: z.string().default('') });
export type KeyValue = z.output<typeof keyValueSchema>;

const keyValues = z.array(keyValueSchema).default([]);

export const experimentSchema = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string().optional(),
  lifecycle_stage: z.string().optional(),
  creation_time: optionalInt64,
  last_update_time: optionalInt64,
  tags: keyValues,
});
export type Experiment = z.output<typeof experimentSchema>;

export const metricSchema = z.object({
  key: z.string(),
  value: metricValueSchema,
  timestamp: int64.default(0),
  step: int64.default(0),
  run_id: z.string().optional(),
});
export type Metric = z.output<typeof metricSchema>;

export const runInfoSchema = z.object({
  run_id: z.string(),
  run_name: z.string().optional(),
  experiment_id: z.string(),
  user_id: z.string().optional(),
  status: z.string().default('RUNNING'),
  start_time: optionalInt64,
  end_time: optionalInt64,
  artifact_uri: z.string().optional(),
  lifecycle_stage: z.string().optional(),
});
export type RunInfo = z.output<typeof runInfoSchema>;

export const datasetInputSchema = z.object({
  tags: keyValues,
  dataset: z.object({
    name: z.string(),
    digest: z.string().default(''),
    source_type: z.string().default(''),
    source: z.string().default(''),
    schema: z.string().optional(),
    profile: z.string().optional(),
  }),
});
export type DatasetInput = z.output<typeof datasetInputSchema>;

export const runSchema = z.object({
  info: runInfoSchema,
  data: z
    .object({ metrics: z.array(metricSchema).default([]), params: keyValues, tags: keyValues })
    .default({ metrics: [], params: [], tags: [] }),
  inputs: z
    .object({
      dataset_inputs: z.array(datasetInputSchema).default([]),
      model_inputs: z.array(z.object({ model_id: z.string() })).default([]),
    })
    .default({ dataset_inputs: [], model_inputs: [] }),
  outputs: z
    .object({ model_outputs: z.array(z.object({ model_id: z.string(), step: optionalInt64 })).default([]) })
    .optional(),
});
export type Run = z.output<typeof runSchema>;

export const fileInfoSchema = z.object({
  path: z.string(),
  is_dir: z.boolean().default(false),
  file_size: optionalInt64,
});
export type FileInfo = z.output<typeof fileInfoSchema>;

export const modelVersionSchema = z.object({
  name: z.string(),
  version: z.string(),
  creation_timestamp: optionalInt64,
  last_updated_timestamp: optionalInt64,
  user_id: z.string().optional(),
  current_stage: z.string().optional(),
  description: z.string().optional(),
  source: z.string().optional(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  status_message: z.string().optional(),
  tags: keyValues,
  run_link: z.string().optional(),
  aliases: z.array(z.string()).default([]),
  model_id: z.string().optional(),
});
export type ModelVersion = z.output<typeof modelVersionSchema>;

export const registeredModelSchema = z.object({
  name: z.string(),
  creation_timestamp: optionalInt64,
  last_updated_timestamp: optionalInt64,
  user_id: z.string().optional(),
  description: z.string().optional(),
  latest_versions: z.array(modelVersionSchema).default([]),
  tags: keyValues,
  aliases: z.array(z.object({ alias: z.string(), version: z.string() })).default([]),
});
export type RegisteredModel = z.output<typeof registeredModelSchema>;

export const loggedModelSchema = z.object({
  info: z.object({
    model_id: z.string(),
    experiment_id: z.string(),
    name: z.string().default(''),
    artifact_uri: z.string().optional(),
    status: z.string().optional(),
    creation_timestamp_ms: optionalInt64,
    last_updated_timestamp_ms: optionalInt64,
    source_run_id: z.string().optional(),
    model_type: z.string().optional(),
    tags: keyValues,
  }),
  data: z
    .object({ params: keyValues, metrics: z.array(metricSchema).default([]) })
    .default({ params: [], metrics: [] }),
});
export type LoggedModel = z.output<typeof loggedModelSchema>;

/** A page of results and the token for the next one (absent on the last page). */
export interface Paged<T> {
  items: T[];
  nextPageToken?: string;
}

export const experimentsPageSchema = z.object({
  experiments: z.array(experimentSchema).default([]),
  next_page_token: z.string().optional(),
});
export const runsPageSchema = z.object({
  runs: z.array(runSchema).default([]),
  next_page_token: z.string().optional(),
});
export const metricHistoryPageSchema = z.object({
  metrics: z.array(metricSchema).default([]),
  next_page_token: z.string().optional(),
});
export const artifactsPageSchema = z.object({
  root_uri: z.string().optional(),
  files: z.array(fileInfoSchema).default([]),
  next_page_token: z.string().optional(),
});
export const registeredModelsPageSchema = z.object({
  registered_models: z.array(registeredModelSchema).default([]),
  next_page_token: z.string().optional(),
});
export const modelVersionsPageSchema = z.object({
  model_versions: z.array(modelVersionSchema).default([]),
  next_page_token: z.string().optional(),
});
export const loggedModelsPageSchema = z.object({
  models: z.array(loggedModelSchema).default([]),
  next_page_token: z.string().optional(),
});
