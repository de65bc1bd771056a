import { notFound, ToolError } from '@nightshift/mcp-kit';
import { type MlflowClient, MlflowError, type ModelVersion } from '@nightshift/mlflow-client';
import { z } from 'zod';
import { defineMlflowTool } from '../mlflow.ts';
import {
  cursorFrom,
  cursorInput,
  experimentRefs,
  finiteOrNull,
  iso,
  pageTokenFrom,
  resolveExperiments,
  tagsToRecord,
} from './shared.ts';

const modelName = z.string().min(1).describe('Registered model name');
const aliasInput = z.string().min(1).max(255).describe('Alias, e.g. "champion" or "production"');

const versionSchema = z.object({
  name: z.string(),
  version: z.string(),
  aliases: z.array(z.string()),
  status: z.string().nullable(),
  stage: z.string().nullable(),
  runId: z.string().nullable(),
  modelId: z.string().nullable(),
  source: z.string().nullable(),
  description: z.string().nullable(),
  created: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
});

const versionOut = (v: ModelVersion) => ({
  name: v.name,
  version: v.version,
  aliases: v.aliases,
  status: v.status ?? null,
  stage: v.current_stage ?? null,
  runId: v.run_id || null,
  modelId: v.model_id || null,
  source: v.source ?? null,
  description: v.description ? v.description.slice(0, 1000) : null,
  created: iso(v.creation_timestamp),
  tags: tagsToRecord(v.tags),
});

const modelHint = 'Search registered models with mlflow_search_registered_models.';

const searchRegisteredModels = defineMlflowTool({
  name: 'mlflow_search_registered_models',
  title: 'Search registered models',
  description:
    'Searches the model registry: name, description, aliases (alias → version) and latest versions. ' +
    "Filter with MLflow's grammar, e.g. \"name LIKE '%detector%'\".",
  toolset: 'registry',
  input: z.object({
    filter: z
      .string()
      .optional()
      .describe('MLflow filter, e.g. "name LIKE \'%detector%\'" or "tags.team = \'vision\'"'),
    limit: z.number().int().min(1).max(100).default(20).describe('Models per page (default 20)'),
    cursor: cursorInput,
  }),
  output: z.object({
    models: z.array(
      z.object({
        name: z.string(),
        description: z.string().nullable(),
        aliases: z.record(z.string(), z.string()),
        latestVersions: z.array(
          z.object({ version: z.string(), status: z.string().nullable(), runId: z.string().nullable() }),
        ),
        lastUpdated: z.string().nullable(),
        tags: z.record(z.string(), z.string()),
      }),
    ),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { invalid: 'Registry filters support name and tags, e.g. "name LIKE \'%yolo%\'".' },
  async handler(input, deps, ctx) {
    const page = await deps.mlflow().searchRegisteredModels({
      filter: input.filter,
      maxResults: input.limit,
      orderBy: ['last_updated_timestamp DESC'],
      pageToken: pageTokenFrom(input.cursor),
      signal: ctx.signal,
    });
    const models = page.items.map((m) => ({
      name: m.name,
      description: m.description ? m.description.slice(0, 300) : null,
      aliases: Object.fromEntries(m.aliases.map((a) => [a.alias, a.version])),
      latestVersions: m.latest_versions
        .slice(0, 5)
        .map((v) => ({ version: v.version, status: v.status ?? null, runId: v.run_id || null })),
      lastUpdated: iso(m.last_updated_timestamp),
      tags: tagsToRecord(m.tags, false, 10),
    }));
    const nextCursor = cursorFrom(page.nextPageToken);
    return {
      structured: { models, ...(nextCursor ? { nextCursor } : {}) },
      text:
        models.length === 0
          ? 'No registered models match.'
          : models
              .map(
                (m) =>
                  `${m.name}: versions ${m.latestVersions.map((v) => v.version).join(', ') || 'none'}; aliases ${
                    Object.entries(m.aliases)
                      .map(([a, v]) => `${a}→${v}`)
                      .join(', ') || 'none'
                  }`,
              )
              .join('\n') + (nextCursor ? `\nmore: cursor ${nextCursor}` : ''),
    };
  },
});

async function versionsOf(client: MlflowClient, name: string, signal: AbortSignal): Promise<string[]> {
  const page = await client.searchModelVersions({
    filter: `name = '${name.replaceAll("'", "\\'")}'`,
    maxResults: 50,
    signal,
  });
  return page.items.map((v) => v.version);
}

const getModelVersion = defineMlflowTool({
  name: 'mlflow_get_model_version',
  title: 'Get a model version',
  description:
    'One registered model version: aliases, status, source run, logged model id, description and tags.',
  toolset: 'registry',
  input: z.object({ name: modelName, version: z.string().min(1).describe('Version number, e.g. "3"') }),
  output: z.object({ version: versionSchema }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: modelHint },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    try {
      const version = await client.getModelVersion(input.name, input.version, { signal: ctx.signal });
      return { structured: { version: versionOut(version) } };
    } catch (error) {
      if (MlflowError.isInstance(error) && error.kind === 'not_found') {
        const known = await versionsOf(client, input.name, ctx.signal).catch(() => []);
        if (known.length > 0) throw notFound(`version ${input.version} of model "${input.name}"`, known);
      }
      throw error;
    }
  },
});

/** The version an alias points at now, or null when the alias is not set. */
async function currentAliasVersion(client: MlflowClient, name: string, alias: string, signal: AbortSignal) {
  const model = await client.getRegisteredModel(name, { signal });
  return { model, version: model.aliases.find((a) => a.alias === alias)?.version ?? null };
}

const resolveModelAlias = defineMlflowTool({
  name: 'mlflow_resolve_model_alias',
  title: 'Resolve a model alias',
  description:
    'Which version an alias of a registered model points at now (e.g. what "production" loads), with that ' +
    'version’s details. Use its version as expected_current_version when proposing an alias change.',
  toolset: 'registry',
  input: z.object({ name: modelName, alias: aliasInput }),
  output: z.object({ name: z.string(), alias: z.string(), version: versionSchema }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: { notFound: modelHint },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const { model, version } = await currentAliasVersion(client, input.name, input.alias, ctx.signal);
    if (version === null) {
      throw notFound(
        `alias "${input.alias}" on model "${input.name}"`,
        model.aliases.map((a) => `${a.alias}→${a.version}`),
      );
    }
    const details = await client.getModelVersion(input.name, version, { signal: ctx.signal });
    return {
      structured: { name: input.name, alias: input.alias, version: versionOut(details) },
      text: `${input.name}@${input.alias} → version ${version} (run ${details.run_id || 'none'}, status ${details.status ?? '?'})`,
    };
  },
});

const searchLoggedModels = defineMlflowTool({
  name: 'mlflow_search_logged_models',
  title: 'Search logged models',
  description:
    'Searches MLflow 3 logged models (models logged by runs, registered or not): id, name, status, source ' +
    'run, params and metrics. MLflow 2.x servers do not have them.',
  toolset: 'registry',
  input: z.object({
    experiments: experimentRefs,
    filter: z
      .string()
      .optional()
      .describe('MLflow filter, e.g. "metrics.accuracy > 0.9" or "name = \'detector\'"'),
    limit: z.number().int().min(1).max(100).default(20).describe('Models per page (default 20)'),
    cursor: cursorInput,
  }),
  output: z.object({
    models: z.array(
      z.object({
        modelId: z.string(),
        name: z.string(),
        experimentId: z.string(),
        status: z.string().nullable(),
        sourceRunId: z.string().nullable(),
        modelType: z.string().nullable(),
        created: z.string().nullable(),
        params: z.record(z.string(), z.string()),
        metrics: z.record(z.string(), z.number().nullable()),
      }),
    ),
    nextCursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  hints: {
    notFound: 'This server may predate MLflow 3 (no logged models); use mlflow_search_registered_models.',
    invalid: 'Logged-model filters look like "metrics.accuracy > 0.9 AND params.arch = \'yolo\'".',
  },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const experiments = await resolveExperiments(client, input.experiments, ctx.signal, 100);
    if (experiments.length === 0) return { structured: { models: [] } };
    const page = await client.searchLoggedModels({
      experimentIds: experiments.map((e) => e.experiment_id),
      filter: input.filter,
      maxResults: input.limit,
      pageToken: pageTokenFrom(input.cursor),
      signal: ctx.signal,
    });
    const models = page.items.map((m) => ({
      modelId: m.info.model_id,
      name: m.info.name,
      experimentId: m.info.experiment_id,
      status: m.info.status ?? null,
      sourceRunId: m.info.source_run_id || null,
      modelType: m.info.model_type || null,
      created: iso(m.info.creation_timestamp_ms),
      params: tagsToRecord(m.data.params, true, 20),
      metrics: Object.fromEntries(m.data.metrics.slice(0, 20).map((x) => [x.key, finiteOrNull(x.value)])),
    }));
    const nextCursor = cursorFrom(page.nextPageToken);
    return { structured: { models, ...(nextCursor ? { nextCursor } : {}) } };
  },
});

const expectedVersion = z
  .string()
  .nullable()
  .describe(
    'The version the alias points at now, as last seen with mlflow_resolve_model_alias (null: the alias must not exist yet). ' +
      'If it has moved since, nothing changes and the answer says where it points.',
  );

function moved(name: string, alias: string, expected: string | null, actual: string | null): ToolError {
  const now = actual === null ? 'is not set' : `points at version ${actual}`;
  const was = expected === null ? 'not to be set' : `to point at version ${expected}`;
  return new ToolError(
    'conflict',
    `Nothing changed: alias "${alias}" on model "${name}" ${now}, but it was expected ${was}. ` +
      'It moved since the proposal was made; re-check with mlflow_resolve_model_alias and propose again.',
  );
}

const setModelAlias = defineMlflowTool({
  name: 'mlflow_set_model_alias',
  title: 'Set a model alias',
  description:
    'Points an alias of a registered model at a version (e.g. promote version 4 to "production"). Destructive: it ' +
    'changes what consumers of the alias load. Takes the version the alias points at now and refuses, changing ' +
    'nothing, if the alias has moved since.',
  toolset: 'registry',
  input: z.object({
    name: modelName,
    alias: aliasInput,
    version: z.string().min(1).describe('The version the alias should point at'),
    expected_current_version: expectedVersion,
  }),
  output: z.object({
    name: z.string(),
    alias: z.string(),
    version: z.string(),
    previousVersion: z.string().nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  hints: {
    notFound: modelHint,
    invalid: 'Aliases are letters, digits, _ and -; "latest" and v<number> are reserved.',
  },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const { version: current } = await currentAliasVersion(client, input.name, input.alias, ctx.signal);
    if (current !== input.expected_current_version)
      throw moved(input.name, input.alias, input.expected_current_version, current);
    try {
      await client.getModelVersion(input.name, input.version, { signal: ctx.signal });
    } catch (error) {
      if (MlflowError.isInstance(error) && error.kind === 'not_found') {
        throw notFound(
          `version ${input.version} of model "${input.name}"`,
          await versionsOf(client, input.name, ctx.signal),
        );
      }
      throw error;
    }
    await client.setRegisteredModelAlias(input.name, input.alias, input.version, { signal: ctx.signal });
    return {
      structured: { name: input.name, alias: input.alias, version: input.version, previousVersion: current },
      text: `${input.name}@${input.alias} now → version ${input.version} (was ${current ?? 'unset'}).`,
    };
  },
});

const deleteModelAlias = defineMlflowTool({
  name: 'mlflow_delete_model_alias',
  title: 'Delete a model alias',
  description:
    'Removes an alias from a registered model. Destructive: consumers loading the alias stop finding it. Takes ' +
    'the version the alias points at now and refuses, changing nothing, if the alias has moved since.',
  toolset: 'registry',
  input: z.object({
    name: modelName,
    alias: aliasInput,
    expected_current_version: z
      .string()
      .min(1)
      .describe(
        'The version the alias points at now, as last seen with mlflow_resolve_model_alias; if it moved, nothing changes',
      ),
  }),
  output: z.object({ name: z.string(), alias: z.string(), previousVersion: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  hints: { notFound: modelHint },
  async handler(input, deps, ctx) {
    const client = deps.mlflow();
    const { version: current } = await currentAliasVersion(client, input.name, input.alias, ctx.signal);
    if (current !== input.expected_current_version)
      throw moved(input.name, input.alias, input.expected_current_version, current);
    await client.deleteRegisteredModelAlias(input.name, input.alias, { signal: ctx.signal });
    return {
      structured: { name: input.name, alias: input.alias, previousVersion: current },
      text: `Removed alias ${input.alias} from ${input.name} (it pointed at version ${current}).`,
    };
  },
});

/** The model registry and MLflow 3 logged models, including the alias writes. */
export const registryTools = [
  searchRegisteredModels,
  getModelVersion,
  resolveModelAlias,
  searchLoggedModels,
  setModelAlias,
  deleteModelAlias,
];
