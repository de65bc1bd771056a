import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, mlflowUri, seedClient, textOf, unique } from '../__fixtures__/harness.ts';
import { registryTools } from './registry.ts';

it('registry tools match the reviewed contract', async () => {
  await expect(JSON.stringify(toolContract(registryTools as never), null, 2)).toMatchFileSnapshot(
    './__snapshots__/registry.contract.json',
  );
});

describe.skipIf(!mlflowUri)('registry tools against a real MLflow server', () => {
  const seed = seedClient();
  const id = unique();
  const model = `detector-${id}`;
  const experimentName = `registry-tools-${id}`;
  const runIds: string[] = [];
  let client: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const experimentId = await seed.createExperiment(experimentName);
    await seed.createRegisteredModel(model, { description: 'finds things' });
    for (let i = 0; i < 3; i++) {
      const run = await seed.createRun({ experimentId, runName: `train-${i}` });
      runIds.push(run.info.run_id);
      await seed.createModelVersion({
        name: model,
        source: run.info.artifact_uri ?? '',
        runId: run.info.run_id,
      });
    }
    await seed.setRegisteredModelAlias(model, 'champion', '1');
    await seed.setRegisteredModelAlias(model, 'staging', '2');
    await seed.createLoggedModel({
      experimentId,
      name: 'yolo-small',
      sourceRunId: runIds[0],
      params: [{ key: 'arch', value: 'yolo' }],
    });
    ({ client, close } = await connect());
  }, 60_000);
  afterAll(async () => close?.());

  describe('mlflow_search_registered_models', () => {
    it('finds a model with its aliases and versions', async () => {
      const result = await call(client, 'mlflow_search_registered_models', { filter: `name = '${model}'` });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent.models).toEqual([
        expect.objectContaining({
          name: model,
          description: 'finds things',
          aliases: { champion: '1', staging: '2' },
        }),
      ]);
      expect(textOf(result)).toMatch(/champion→1/);
    });

    it('passes MLflow’s message for a bad filter through', async () => {
      const result = await call(client, 'mlflow_search_registered_models', { filter: 'name >>> 1' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/INVALID_PARAMETER_VALUE.*LIKE/s);
    });
  });

  describe('mlflow_get_model_version', () => {
    it('gets a version with its aliases and source run', async () => {
      const result = await call(client, 'mlflow_get_model_version', { name: model, version: '2' });
      expect(result.structuredContent.version).toMatchObject({
        name: model,
        version: '2',
        aliases: ['staging'],
        runId: runIds[1],
        status: 'READY',
      });
    });

    it('lists the versions that exist for an unknown one', async () => {
      const result = await call(client, 'mlflow_get_model_version', { name: model, version: '9' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/version 9 of model ".*" not found; known: 3, 2, 1|known: 1, 2, 3/);
    });
  });

  describe('mlflow_resolve_model_alias', () => {
    it('says which version an alias points at', async () => {
      const result = await call(client, 'mlflow_resolve_model_alias', { name: model, alias: 'champion' });
      expect(result.structuredContent).toMatchObject({
        alias: 'champion',
        version: { version: '1', runId: runIds[0] },
      });
    });

    it('lists the aliases that exist for an unknown one, and models for an unknown model', async () => {
      const alias = await call(client, 'mlflow_resolve_model_alias', { name: model, alias: 'prod' });
      expect(alias.isError).toBe(true);
      expect(textOf(alias)).toMatch(/alias "prod" .* not found; known: champion→1, staging→2/);
      const unknown = await call(client, 'mlflow_resolve_model_alias', {
        name: 'no-such-model-x',
        alias: 'prod',
      });
      expect(unknown.isError).toBe(true);
      expect(textOf(unknown)).toMatch(/not found.*mlflow_search_registered_models/);
    });
  });

  describe('mlflow_search_logged_models', () => {
    it('finds MLflow 3 logged models in an experiment', async () => {
      const result = await call(client, 'mlflow_search_logged_models', { experiments: [experimentName] });
      expect(result.structuredContent.models).toEqual([
        expect.objectContaining({ name: 'yolo-small', sourceRunId: runIds[0], params: { arch: 'yolo' } }),
      ]);
    });

    it('passes MLflow’s message for a bad filter through', async () => {
      const result = await call(client, 'mlflow_search_logged_models', {
        experiments: [experimentName],
        filter: 'metrics.x >>> 1',
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/INVALID_PARAMETER_VALUE|Invalid/);
    });
  });

  describe('mlflow_set_model_alias', () => {
    it('moves an alias when it still points where expected', async () => {
      const result = await call(client, 'mlflow_set_model_alias', {
        name: model,
        alias: 'champion',
        version: '3',
        expected_current_version: '1',
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({
        name: model,
        alias: 'champion',
        version: '3',
        previousVersion: '1',
      });
      expect((await seed.getModelVersionByAlias(model, 'champion')).version).toBe('3');
      const created = await call(client, 'mlflow_set_model_alias', {
        name: model,
        alias: 'canary',
        version: '2',
        expected_current_version: null,
      });
      expect(created.structuredContent.previousVersion).toBeNull();
    });

    it('refuses and changes nothing when the alias moved since the proposal', async () => {
      const before = (await seed.getRegisteredModel(model)).aliases;
      const result = await call(client, 'mlflow_set_model_alias', {
        name: model,
        alias: 'staging',
        version: '3',
        expected_current_version: '1',
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /Nothing changed: alias "staging" .* points at version 2, but it was expected to point at version 1/,
      );
      expect((await seed.getRegisteredModel(model)).aliases).toEqual(before);
      const unknownVersion = await call(client, 'mlflow_set_model_alias', {
        name: model,
        alias: 'staging',
        version: '42',
        expected_current_version: '2',
      });
      expect(unknownVersion.isError).toBe(true);
      expect(textOf(unknownVersion)).toMatch(/version 42 .* not found; known:/);
      expect((await seed.getModelVersionByAlias(model, 'staging')).version).toBe('2');
    });
  });

  describe('mlflow_delete_model_alias', () => {
    it('refuses when the alias moved, then deletes when it is where expected', async () => {
      const stale = await call(client, 'mlflow_delete_model_alias', {
        name: model,
        alias: 'staging',
        expected_current_version: '1',
      });
      expect(stale.isError).toBe(true);
      expect(textOf(stale)).toMatch(/Nothing changed/);
      expect((await seed.getModelVersionByAlias(model, 'staging')).version).toBe('2');
      const done = await call(client, 'mlflow_delete_model_alias', {
        name: model,
        alias: 'staging',
        expected_current_version: '2',
      });
      expect(done.structuredContent).toEqual({ name: model, alias: 'staging', previousVersion: '2' });
      expect((await seed.getRegisteredModel(model)).aliases.map((a) => a.alias)).not.toContain('staging');
      const again = await call(client, 'mlflow_delete_model_alias', {
        name: model,
        alias: 'staging',
        expected_current_version: '2',
      });
      expect(again.isError).toBe(true);
      expect(textOf(again)).toMatch(/is not set/);
    });
  });
});
