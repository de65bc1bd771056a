import { z } from 'zod';
import { kindOf, MlflowError } from './errors.ts';
import {
  artifactsPageSchema,
  type DatasetInput,
  type Experiment,
  experimentSchema,
  experimentsPageSchema,
  type FileInfo,
  type KeyValue,
  type LoggedModel,
  loggedModelSchema,
  loggedModelsPageSchema,
  type Metric,
  type ModelVersion,
  metricHistoryPageSchema,
  modelVersionSchema,
  modelVersionsPageSchema,
  type Paged,
  type RegisteredModel,
  type Run,
  registeredModelSchema,
  registeredModelsPageSchema,
  runSchema,
  runsPageSchema,
} from './schemas.ts';
import { type HttpRequest, sendHttp } from './transport.ts';

/** How to reach and authenticate to an MLflow tracking server. */
export interface MlflowClientOptions {
  /** The tracking server's base URL, e.g. `http://127.0.0.1:5000` (a path prefix is kept). */
  trackingUri: string;
  /** Basic auth (MLflow's basic-auth app); ignored when `token` is set. */
  username?: string | undefined;
  password?: string | undefined;
  /** Bearer token (`MLFLOW_TRACKING_TOKEN`). */
  token?: string | undefined;
  /** Skip TLS certificate verification (`MLFLOW_TRACKING_INSECURE_TLS`). */
  insecureTls?: boolean | undefined;
  /** Deadline for each HTTP attempt, in milliseconds (default 30 000). */
  timeoutMs?: number | undefined;
  /** Retries for idempotent reads on 429 and 5xx answers (default 3). */
  maxRetries?: number | undefined;
  /** First backoff delay in milliseconds; doubles each retry, with jitter (default 250). */
  retryBaseMs?: number | undefined;
}

/** Per-call options every method accepts. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface SearchExperimentsParams extends CallOptions {
  filter?: string | undefined;
  orderBy?: string[] | undefined;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
  viewType?: ViewType | undefined;
}

export interface SearchRunsParams extends CallOptions {
  experimentIds: string[];
  /** MLflow's filter grammar, e.g. `metrics.acc > 0.9 and params.lr = '0.01'`. */
  filter?: string | undefined;
  /** e.g. `['metrics.acc DESC', 'attributes.start_time DESC']`. */
  orderBy?: string[] | undefined;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
  viewType?: ViewType | undefined;
}

export interface MetricHistoryParams extends CallOptions {
  runId: string;
  key: string;
  /** Page size. MLflow 3.x cuts an unpaged history short, so the client always sends one. */
  maxResults?: number | undefined;
  pageToken?: string | undefined;
}

export interface SampledHistoryParams extends CallOptions {
  runIds: string[];
  key: string;
  startStep?: number | undefined;
  endStep?: number | undefined;
  /** Points per run; the server caps it. */
  maxResults?: number | undefined;
}

export interface SearchRegistryParams extends CallOptions {
  filter?: string | undefined;
  orderBy?: string[] | undefined;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
}

export interface SearchLoggedModelsParams extends CallOptions {
  experimentIds: string[];
  filter?: string | undefined;
  orderBy?: Array<{ field_name: string; ascending?: boolean }> | undefined;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
}

export interface LogBatchParams extends CallOptions {
  runId: string;
  metrics?: Array<{ key: string; value: number; timestamp: number; step?: number }> | undefined;
  params?: KeyValue[] | undefined;
  tags?: KeyValue[] | undefined;
}

export interface DownloadedArtifact {
  path: string;
  bytes: Buffer;
  /** True when the file is larger than `maxBytes` and only its start was read. */
  truncated: boolean;
}

/** The default page size for metric history: MLflow's own client uses 25 000. */
export const metricHistoryPageSize = 25_000;

const api = '/api/2.0/mlflow';

type Query = Record<string, string | number | boolean | string[] | undefined>;

interface CallSpec<S extends z.ZodType> {
  method: HttpRequest['method'];
  path: string;
  query?: Query;
  body?: unknown;
  schema: S;
  /** Reads (including POST searches) may be retried; writes never are. */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * A typed client for the MLflow tracking server's REST API (MLflow 2.x and 3.x): experiments,
 * runs, metric history, artifacts, the model registry and MLflow 3 logged models.
 *
 * Every call has a deadline; idempotent reads are retried with backoff on 429 and 5xx; failures
 * are `MlflowError`s with a `kind`; responses are validated with zod. Credentials are sent as
 * headers and never appear in error messages.
 */
export class MlflowClient {
  /** The tracking URI without credentials, safe to show. */
  readonly uri: string;
  readonly #base: URL;
  /** A path prefix under which the server is mounted, e.g. `/mlflow`; empty at the root. */
  readonly #prefix: string;
  readonly #authorization: string | undefined;
  readonly #insecureTls: boolean;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;

  constructor(options: MlflowClientOptions) {
    let base: URL;
    try {
      base = new URL(options.trackingUri);
    } catch {
      throw new MlflowError('invalid_parameter', 'the MLflow tracking URI is not a valid URL', {
        endpoint: '',
      });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new MlflowError(
        'unsupported',
        `the MLflow tracking URI must be http(s)://…, not ${base.protocol}… (file and database stores have no REST API)`,
        { endpoint: '' },
      );
    }
    // Credentials in the URI (http://user:pass@host) become basic auth and leave the URI.
    const username = options.username ?? (base.username ? decodeURIComponent(base.username) : undefined);
    const password = options.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
    base.username = '';
    base.password = '';
    base.search = '';
    base.hash = '';
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.#base = base;
    this.uri = `${base.origin}${this.#prefix}`;
    if (options.token) this.#authorization = `Bearer ${options.token}`;
    else if (username !== undefined)
      this.#authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    this.#insecureTls = options.insecureTls ?? false;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#retryBaseMs = options.retryBaseMs ?? 250;
  }

  /**
   * Builds a client from MLflow's environment conventions: `MLFLOW_TRACKING_URI`,
   * `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, `MLFLOW_TRACKING_TOKEN`,
   * `MLFLOW_TRACKING_INSECURE_TLS`. Returns undefined when no tracking URI is set.
   */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    overrides: Partial<MlflowClientOptions> = {},
  ): MlflowClient | undefined {
    const trackingUri = env.MLFLOW_TRACKING_URI;
    if (!trackingUri) return undefined;
    return new MlflowClient({
      trackingUri,
      username: env.MLFLOW_TRACKING_USERNAME || undefined,
      password: env.MLFLOW_TRACKING_PASSWORD || undefined,
      token: env.MLFLOW_TRACKING_TOKEN || undefined,
      insecureTls: ['1', 'true', 'yes', 'on'].includes(
        (env.MLFLOW_TRACKING_INSECURE_TLS ?? '').toLowerCase(),
      ),
      ...overrides,
    });
  }

  // ── experiments ──────────────────────────────────────────────────────────────────────────

  async getExperiment(experimentId: string, options: CallOptions = {}): Promise<Experiment> {
    const out = await this.#get('/experiments/get', { experiment_id: experimentId }, options, {
      schema: experimentEnvelope,
    });
    return out.experiment;
  }

  async getExperimentByName(name: string, options: CallOptions = {}): Promise<Experiment> {
    const out = await this.#get('/experiments/get-by-name', { experiment_name: name }, options, {
      schema: experimentEnvelope,
    });
    return out.experiment;
  }

  async searchExperiments(params: SearchExperimentsParams = {}): Promise<Paged<Experiment>> {
    const out = await this.#call({
      method: 'POST',
      path: `${api}/experiments/search`,
      body: {
        max_results: params.maxResults ?? 1000,
        filter: params.filter,
        order_by: params.orderBy,
        page_token: params.pageToken,
        view_type: params.viewType,
      },
      schema: experimentsPageSchema,
      idempotent: true,
      signal: params.signal,
    });
    return paged(out.experiments, out.next_page_token);
  }

  /** Every experiment matching `params`, page by page. */
  iterateExperiments(params: SearchExperimentsParams = {}): AsyncGenerator<Experiment> {
    return iteratePages((pageToken) => this.searchExperiments({ ...params, pageToken }));
  }

  async createExperiment(name: string, options: CallOptions & { tags?: KeyValue[] } = {}): Promise<string> {
    const out = await this.#post('/experiments/create', { name, tags: options.tags }, options, idEnvelope);
    return out.experiment_id;
  }

  // ── runs ─────────────────────────────────────────────────────────────────────────────────

  async getRun(runId: string, options: CallOptions = {}): Promise<Run> {
    const out = await this.#get('/runs/get', { run_id: runId }, options, { schema: runEnvelope });
    return out.run;
  }

  async searchRuns(params: SearchRunsParams): Promise<Paged<Run>> {
    const out = await this.#call({
      method: 'POST',
      path: `${api}/runs/search`,
      body: {
        experiment_ids: params.experimentIds,
        filter: params.filter,
        order_by: params.orderBy,
        max_results: params.maxResults ?? 1000,
        page_token: params.pageToken,
        run_view_type: params.viewType,
      },
      schema: runsPageSchema,
      idempotent: true,
      signal: params.signal,
    });
    return paged(out.runs, out.next_page_token);
  }

  /** Every run matching `params`, page by page. */
  iterateRuns(params: SearchRunsParams): AsyncGenerator<Run> {
    return iteratePages((pageToken) => this.searchRuns({ ...params, pageToken }));
  }

  async createRun(
    params: CallOptions & { experimentId: string; runName?: string; startTime?: number; tags?: KeyValue[] },
  ): Promise<Run> {
    const out = await this.#post(
      '/runs/create',
      {
        experiment_id: params.experimentId,
        run_name: params.runName,
        start_time: params.startTime ?? Date.now(),
        tags: params.tags,
      },
      params,
      runEnvelope,
    );
    return out.run;
  }

  async updateRun(
    params: CallOptions & { runId: string; status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<void> {
    await this.#post(
      '/runs/update',
      { run_id: params.runId, status: params.status, end_time: params.endTime, run_name: params.runName },
      params,
      anyEnvelope,
    );
  }

  /** Logs up to 1000 metrics, 100 params and 100 tags in one call (the server's limits). */
  async logBatch(params: LogBatchParams): Promise<void> {
    await this.#post(
      '/runs/log-batch',
      {
        run_id: params.runId,
        metrics: params.metrics?.map((m) => ({ ...m, value: jsonNumber(m.value), step: m.step ?? 0 })),
        params: params.params,
        tags: params.tags,
      },
      params,
      anyEnvelope,
    );
  }

  async logInputs(
    params: CallOptions & {
      runId: string;
      datasets: Array<Pick<DatasetInput, 'tags'> & { dataset: DatasetInput['dataset'] }>;
    },
  ): Promise<void> {
    await this.#post(
      '/runs/log-inputs',
      { run_id: params.runId, datasets: params.datasets },
      params,
      anyEnvelope,
    );
  }

  async setRunTag(runId: string, key: string, value: string, options: CallOptions = {}): Promise<void> {
    await this.#post('/runs/set-tag', { run_id: runId, key, value }, options, anyEnvelope);
  }

  async deleteRunTag(runId: string, key: string, options: CallOptions = {}): Promise<void> {
    await this.#post('/runs/delete-tag', { run_id: runId, key }, options, anyEnvelope);
  }

  // ── metrics ──────────────────────────────────────────────────────────────────────────────

  /** One page of a metric's full history, in the server's order. */
  async getMetricHistory(params: MetricHistoryParams): Promise<Paged<Metric>> {
    const out = await this.#get(
      '/metrics/get-history',
      {
        run_id: params.runId,
        metric_key: params.key,
        max_results: params.maxResults ?? metricHistoryPageSize,
        page_token: params.pageToken,
      },
      params,
      { schema: metricHistoryPageSchema },
    );
    return paged(out.metrics, out.next_page_token);
  }

  /** Every point of a metric's history, page by page. */
  iterateMetricHistory(params: Omit<MetricHistoryParams, 'pageToken'>): AsyncGenerator<Metric> {
    return iteratePages((pageToken) => this.getMetricHistory({ ...params, pageToken }));
  }

  /**
   * The server's sampled history (`get-history-bulk-interval`): for each run, at most
   * `maxResults` points spread over the step range, always including the first and last step.
   * Values between sampled steps are not seen, so extremes may be missed.
   */
  async getSampledMetricHistory(params: SampledHistoryParams): Promise<Metric[]> {
    const out = await this.#get(
      '/metrics/get-history-bulk-interval',
      {
        run_ids: params.runIds,
        metric_key: params.key,
        start_step: params.startStep,
        end_step: params.endStep,
        max_results: params.maxResults,
      },
      params,
      { schema: metricHistoryPageSchema },
    );
    return out.metrics;
  }

  // ── artifacts ────────────────────────────────────────────────────────────────────────────

  async listArtifacts(
    params: CallOptions & { runId: string; path?: string | undefined; pageToken?: string | undefined },
  ): Promise<Paged<FileInfo> & { rootUri?: string | undefined }> {
    const out = await this.#get(
      '/artifacts/list',
      { run_id: params.runId, path: params.path, page_token: params.pageToken },
      params,
      { schema: artifactsPageSchema },
    );
    return { ...paged(out.files, out.next_page_token), rootUri: out.root_uri };
  }

  /**
   * Reads an artifact through the server: the artifact proxy (`--serve-artifacts`) when the
   * run's artifacts live behind it, otherwise the tracking server's `get-artifact` route.
   * Reads at most `maxBytes` (default 1 MiB) and says whether the file was longer.
   */
  async downloadArtifact(
    params: CallOptions & { runId: string; path: string; maxBytes?: number; artifactUri?: string },
  ): Promise<DownloadedArtifact> {
    const maxBytes = params.maxBytes ?? 1024 * 1024;
    const artifactUri =
      params.artifactUri ?? (await this.getRun(params.runId, params)).info.artifact_uri ?? '';
    const relative = params.path.replace(/^\/+/, '');
    const proxied = proxiedArtifactPath(artifactUri);
    const url =
      proxied !== undefined
        ? this.#url(`/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${proxied}/${relative}`)}`)
        : this.#url('/get-artifact', { run_id: params.runId, path: relative });
    const endpoint = proxied !== undefined ? '/api/2.0/mlflow-artifacts/artifacts' : '/get-artifact';
    const response = await this.#send(
      { method: 'GET', url, headers: {}, maxBytes },
      endpoint,
      true,
      params.signal,
    );
    if (response.status >= 400) throw this.#errorFrom(response.status, response.body, endpoint);
    return { path: relative, bytes: response.body, truncated: response.truncated };
  }

  /** Uploads a file through the artifact proxy (the server must run with `--serve-artifacts`). */
  async uploadArtifact(
    params: CallOptions & { runId: string; path: string; content: string | Uint8Array; artifactUri?: string },
  ): Promise<void> {
    const artifactUri =
      params.artifactUri ?? (await this.getRun(params.runId, params)).info.artifact_uri ?? '';
    const proxied = proxiedArtifactPath(artifactUri);
    const endpoint = '/api/2.0/mlflow-artifacts/artifacts';
    if (proxied === undefined) {
      throw new MlflowError(
        'unsupported',
        `run ${params.runId} stores artifacts at ${artifactUri}, not behind the artifact proxy`,
        { endpoint },
      );
    }
    const url = this.#url(`${endpoint}/${encodePath(`${proxied}/${params.path.replace(/^\/+/, '')}`)}`);
    const response = await this.#send(
      {
        method: 'PUT',
        url,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: typeof params.content === 'string' ? Buffer.from(params.content) : params.content,
      },
      endpoint,
      false,
      params.signal,
    );
    if (response.status >= 400) throw this.#errorFrom(response.status, response.body, endpoint);
  }

  // ── model registry ───────────────────────────────────────────────────────────────────────

  async searchRegisteredModels(params: SearchRegistryParams = {}): Promise<Paged<RegisteredModel>> {
    const out = await this.#get(
      '/registered-models/search',
      {
        filter: params.filter,
        max_results: params.maxResults ?? 100,
        order_by: params.orderBy,
        page_token: params.pageToken,
      },
      params,
      { schema: registeredModelsPageSchema },
    );
    return paged(out.registered_models, out.next_page_token);
  }

  async getRegisteredModel(name: string, options: CallOptions = {}): Promise<RegisteredModel> {
    const out = await this.#get('/registered-models/get', { name }, options, {
      schema: registeredModelEnvelope,
    });
    return out.registered_model;
  }

  async createRegisteredModel(name: string, options: CallOptions & { description?: string } = {}) {
    const out = await this.#post(
      '/registered-models/create',
      { name, description: options.description },
      options,
      registeredModelEnvelope,
    );
    return out.registered_model;
  }

  async getModelVersion(name: string, version: string, options: CallOptions = {}): Promise<ModelVersion> {
    const out = await this.#get('/model-versions/get', { name, version }, options, {
      schema: modelVersionEnvelope,
    });
    return out.model_version;
  }

  async searchModelVersions(params: SearchRegistryParams = {}): Promise<Paged<ModelVersion>> {
    const out = await this.#get(
      '/model-versions/search',
      {
        filter: params.filter,
        max_results: params.maxResults ?? 100,
        order_by: params.orderBy,
        page_token: params.pageToken,
      },
      params,
      { schema: modelVersionsPageSchema },
    );
    return paged(out.model_versions, out.next_page_token);
  }

  async createModelVersion(
    params: CallOptions & { name: string; source: string; runId?: string; description?: string },
  ): Promise<ModelVersion> {
    const out = await this.#post(
      '/model-versions/create',
      { name: params.name, source: params.source, run_id: params.runId, description: params.description },
      params,
      modelVersionEnvelope,
    );
    return out.model_version;
  }

  async updateModelVersionDescription(
    name: string,
    version: string,
    description: string,
    options: CallOptions = {},
  ): Promise<ModelVersion> {
    const out = await this.#call({
      method: 'PATCH',
      path: `${api}/model-versions/update`,
      body: { name, version, description },
      schema: modelVersionEnvelope,
      idempotent: false,
      signal: options.signal,
    });
    return out.model_version;
  }

  /** The version an alias points at. */
  async getModelVersionByAlias(
    name: string,
    alias: string,
    options: CallOptions = {},
  ): Promise<ModelVersion> {
    const out = await this.#get('/registered-models/alias', { name, alias }, options, {
      schema: modelVersionEnvelope,
    });
    return out.model_version;
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string, options: CallOptions = {}) {
    await this.#post('/registered-models/alias', { name, alias, version }, options, anyEnvelope);
  }

  async deleteRegisteredModelAlias(name: string, alias: string, options: CallOptions = {}) {
    await this.#call({
      method: 'DELETE',
      path: `${api}/registered-models/alias`,
      // MLflow reads DELETE parameters from a JSON body, not the query string.
      body: { name, alias },
      schema: anyEnvelope,
      idempotent: false,
      signal: options.signal,
    });
  }

  // ── MLflow 3 logged models ───────────────────────────────────────────────────────────────

  /** MLflow 3.x only; an MLflow 2.x server answers `not_found`. */
  async searchLoggedModels(params: SearchLoggedModelsParams): Promise<Paged<LoggedModel>> {
    const out = await this.#call({
      method: 'POST',
      path: `${api}/logged-models/search`,
      body: {
        experiment_ids: params.experimentIds,
        filter: params.filter,
        order_by: params.orderBy,
        max_results: params.maxResults ?? 50,
        page_token: params.pageToken,
      },
      schema: loggedModelsPageSchema,
      idempotent: true,
      signal: params.signal,
    });
    return paged(out.models, out.next_page_token);
  }

  async getLoggedModel(modelId: string, options: CallOptions = {}): Promise<LoggedModel> {
    const out = await this.#call({
      method: 'GET',
      path: `${api}/logged-models/${encodeURIComponent(modelId)}`,
      schema: loggedModelEnvelope,
      idempotent: true,
      signal: options.signal,
    });
    return out.model;
  }

  async createLoggedModel(
    params: CallOptions & {
      experimentId: string;
      name?: string;
      sourceRunId?: string;
      modelType?: string;
      params?: KeyValue[];
      tags?: KeyValue[];
    },
  ): Promise<LoggedModel> {
    const out = await this.#post(
      '/logged-models',
      {
        experiment_id: params.experimentId,
        name: params.name,
        source_run_id: params.sourceRunId,
        model_type: params.modelType,
        params: params.params,
        tags: params.tags,
      },
      params,
      loggedModelEnvelope,
    );
    return out.model;
  }

  // ── plumbing ─────────────────────────────────────────────────────────────────────────────

  /** True when the server answers `/health`. */
  async health(options: CallOptions = {}): Promise<boolean> {
    const response = await this.#send(
      { method: 'GET', url: this.#url('/health'), headers: {} },
      '/health',
      false,
      options.signal,
    );
    return response.status === 200;
  }

  #get<S extends z.ZodType>(path: string, query: Query, options: CallOptions, spec: { schema: S }) {
    return this.#call({
      method: 'GET',
      path: `${api}${path}`,
      query,
      schema: spec.schema,
      idempotent: true,
      signal: options.signal,
    });
  }

  #post<S extends z.ZodType>(path: string, body: unknown, options: CallOptions, schema: S) {
    return this.#call({
      method: 'POST',
      path: `${api}${path}`,
      body,
      schema,
      idempotent: false,
      signal: options.signal,
    });
  }

  async #call<S extends z.ZodType>(spec: CallSpec<S>): Promise<z.output<S>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(spec.body);
    }
    const response = await this.#send(
      { method: spec.method, url: this.#url(spec.path, spec.query), headers, ...(body ? { body } : {}) },
      spec.path,
      spec.idempotent,
      spec.signal,
    );
    if (response.status >= 400) throw this.#errorFrom(response.status, response.body, spec.path);
    let json: unknown;
    try {
      json = response.body.length === 0 ? {} : JSON.parse(response.body.toString('utf8'));
    } catch {
      throw new MlflowError(
        'bad_response',
        `MLflow at ${this.uri} answered ${spec.path} with something other than JSON (HTTP ${response.status}); is ${this.uri} an MLflow tracking server?`,
        { endpoint: spec.path, status: response.status },
      );
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      throw new MlflowError(
        'bad_response',
        `MLflow at ${this.uri} answered ${spec.path} in an unexpected shape: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
        { endpoint: spec.path, status: response.status },
      );
    }
    return parsed.data;
  }

  async #send(
    request: Omit<HttpRequest, 'signal' | 'insecureTls'>,
    endpoint: string,
    idempotent: boolean,
    signal: AbortSignal | undefined,
  ) {
    const headers: Record<string, string> = { 'User-Agent': 'nightshift-mlflow-client', ...request.headers };
    if (this.#authorization) headers.Authorization = this.#authorization;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
      const response = await sendHttp(
        { ...request, headers, signal: combined, insecureTls: this.#insecureTls },
        endpoint,
        this.uri,
      ).catch((error: unknown) => {
        if (MlflowError.isInstance(error) && error.kind === 'timeout') {
          throw new MlflowError(
            signal?.aborted ? 'timeout' : 'timeout',
            signal?.aborted
              ? `the call to ${endpoint} on MLflow at ${this.uri} was cancelled`
              : `MLflow at ${this.uri} did not answer ${endpoint} within ${this.#timeoutMs} ms`,
            { endpoint },
          );
        }
        throw error;
      });
      const retryable = response.status === 429 || response.status >= 500;
      if (!idempotent || !retryable || attempt >= this.#maxRetries || signal?.aborted) return response;
      const retryAfter = Number(response.headers['retry-after']);
      const delay =
        Number.isFinite(retryAfter) && retryAfter > 0
          ? Math.min(retryAfter * 1000, 10_000)
          : this.#retryBaseMs * 2 ** attempt * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  #url(path: string, query: Query = {}): URL {
    const url = new URL(this.#base.href);
    url.pathname = `${this.#prefix}${path}`;
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, item);
      else url.searchParams.set(key, String(value));
    }
    return url;
  }

  #errorFrom(status: number, body: Buffer, endpoint: string): MlflowError {
    let errorCode: string | undefined;
    let message: string | undefined;
    try {
      const json = JSON.parse(body.toString('utf8')) as { error_code?: unknown; message?: unknown };
      if (typeof json.error_code === 'string') errorCode = json.error_code;
      if (typeof json.message === 'string') message = json.message;
    } catch {
      // Not JSON (a proxy's HTML page, the auth app's plain text): use a short excerpt.
      const text = body
        .toString('utf8')
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
      if (text) message = text.slice(0, 300);
    }
    const kind = kindOf(errorCode, status);
    const what = message ?? `HTTP ${status}`;
    return new MlflowError(kind, `MLflow ${endpoint} failed (${errorCode ?? `HTTP ${status}`}): ${what}`, {
      ...(errorCode ? { errorCode } : {}),
      status,
      endpoint,
    });
  }
}

function paged<T>(items: T[], nextPageToken: string | undefined): Paged<T> {
  return nextPageToken ? { items, nextPageToken } : { items };
}

async function* iteratePages<T>(fetchPage: (pageToken: string | undefined) => Promise<Paged<T>>) {
  let pageToken: string | undefined;
  do {
    const page = await fetchPage(pageToken);
    yield* page.items;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** JSON has no NaN or Infinity; MLflow's protobuf JSON accepts them as strings. */
function jsonNumber(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/** The path under the artifact proxy for `mlflow-artifacts:` URIs, else undefined. */
export function proxiedArtifactPath(artifactUri: string): string | undefined {
  if (artifactUri.startsWith('mlflow-artifacts:')) {
    const rest = artifactUri.slice('mlflow-artifacts:'.length).replace(/^\/\/[^/]*/, '');
    return rest.replace(/^\/+/, '').replace(/\/+$/, '');
  }
  const marker = '/api/2.0/mlflow-artifacts/artifacts/';
  const at = artifactUri.indexOf(marker);
  if (/^https?:/.test(artifactUri) && at >= 0)
    return artifactUri.slice(at + marker.length).replace(/\/+$/, '');
  return undefined;
}

function encodePath(path: string): string {
  return path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

const experimentEnvelope = z.object({ experiment: experimentSchema });
const idEnvelope = z.object({ experiment_id: z.string() });
const runEnvelope = z.object({ run: runSchema });
const registeredModelEnvelope = z.object({ registered_model: registeredModelSchema });
const modelVersionEnvelope = z.object({ model_version: modelVersionSchema });
const loggedModelEnvelope = z.object({ model: loggedModelSchema });
const anyEnvelope = z.object({}).loose();
