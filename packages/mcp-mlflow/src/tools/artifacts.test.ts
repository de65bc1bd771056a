import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, mlflowUri, seedClient, textOf, unique } from '../__fixtures__/harness.ts';
import { artifactTools } from './artifacts.ts';

it('artifacts tools match the reviewed contract', async () => {
  await expect(JSON.stringify(toolContract(artifactTools as never), null, 2)).toMatchFileSnapshot(
    './__snapshots__/artifacts.contract.json',
  );
});

describe.skipIf(!mlflowUri)('artifacts tools against a real MLflow server', () => {
  const seed = seedClient();
  let runId = '';
  let client: Client;
  let close: () => Promise<void>;
  const log = Array.from({ length: 2000 }, (_, i) => `epoch ${i} loss ${(1 / (i + 1)).toFixed(6)}\n`).join(
    '',
  );

  beforeAll(async () => {
    const experimentId = await seed.createExperiment(`artifacts-tools-${unique()}`);
    const run = await seed.createRun({ experimentId, runName: 'with-files' });
    runId = run.info.run_id;
    const artifactUri = run.info.artifact_uri;
    await seed.uploadArtifact({
      runId,
      artifactUri,
      path: 'config/train.yaml',
      content: 'lr: 0.01\nepochs: 50\n',
    });
    await seed.uploadArtifact({ runId, artifactUri, path: 'logs/train.log', content: log });
    await seed.uploadArtifact({
      runId,
      artifactUri,
      path: 'model.bin',
      content: Buffer.from([0, 1, 2, 3, 0, 255]),
    });
    for (let i = 0; i < 5; i++)
      await seed.uploadArtifact({
        runId,
        artifactUri,
        path: `checkpoints/ckpt-${i}.txt`,
        content: `ckpt ${i}`,
      });
    ({ client, close } = await connect());
  }, 60_000);
  afterAll(async () => close?.());

  describe('mlflow_list_artifacts', () => {
    it('lists the top level and a directory, paging with a cursor', async () => {
      const top = await call(client, 'mlflow_list_artifacts', { run_id: runId });
      expect(top.isError).toBeFalsy();
      expect(top.structuredContent.files).toEqual([
        { path: 'checkpoints', isDir: true, size: null },
        { path: 'config', isDir: true, size: null },
        { path: 'logs', isDir: true, size: null },
        { path: 'model.bin', isDir: false, size: 6 },
      ]);
      const first = await call(client, 'mlflow_list_artifacts', {
        run_id: runId,
        path: 'checkpoints',
        limit: 3,
      });
      expect((first.structuredContent.files as unknown[]).length).toBe(3);
      expect(first.structuredContent.total).toBe(5);
      const rest = await call(client, 'mlflow_list_artifacts', {
        run_id: runId,
        path: 'checkpoints',
        limit: 3,
        cursor: first.structuredContent.nextCursor,
      });
      expect((rest.structuredContent.files as Array<{ path: string }>).map((f) => f.path)).toEqual([
        'checkpoints/ckpt-3.txt',
        'checkpoints/ckpt-4.txt',
      ]);
      expect(rest.structuredContent.nextCursor).toBeUndefined();
    });

    it('says what exists when a directory does not, and handles unknown runs', async () => {
      const missing = await call(client, 'mlflow_list_artifacts', { run_id: runId, path: 'nope' });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(
        /no artifacts under "nope".*checkpoints\/, config\/, logs\/, model.bin/,
      );
      const unknown = await call(client, 'mlflow_list_artifacts', {
        run_id: 'ffffffffffffffffffffffffffffffff',
      });
      expect(unknown.isError).toBe(true);
      expect(textOf(unknown)).toMatch(/not found/);
    });
  });

  describe('mlflow_read_artifact', () => {
    it('reads a config whole, and the start or the end of a long log within the cap', async () => {
      const config = await call(client, 'mlflow_read_artifact', { run_id: runId, path: 'config/train.yaml' });
      expect(config.structuredContent).toMatchObject({ text: 'lr: 0.01\nepochs: 50\n', truncated: false });
      const head = await call(client, 'mlflow_read_artifact', {
        run_id: runId,
        path: 'logs/train.log',
        max_bytes: 1024,
      });
      expect(head.structuredContent).toMatchObject({ truncated: true, bytesReturned: 1024 });
      expect((head.structuredContent.text as string).startsWith('epoch 0 loss 1.000000\n')).toBe(true);
      expect(textOf(head)).toMatch(/cut at 1024 bytes/);
      const tail = await call(client, 'mlflow_read_artifact', {
        run_id: runId,
        path: 'logs/train.log',
        max_bytes: 1024,
        from: 'end',
      });
      const text = tail.structuredContent.text as string;
      expect(text.endsWith('epoch 1999 loss 0.000500\n')).toBe(true);
      expect(text.startsWith('epoch ')).toBe(true);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
    });

    it('refuses binary files and names the listing tool for missing ones', async () => {
      const binary = await call(client, 'mlflow_read_artifact', { run_id: runId, path: 'model.bin' });
      expect(binary.isError).toBe(true);
      expect(textOf(binary)).toMatch(/looks binary/);
      const missing = await call(client, 'mlflow_read_artifact', { run_id: runId, path: 'config/nope.yaml' });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/RESOURCE_DOES_NOT_EXIST.*nope\.yaml.*mlflow_list_artifacts/);
    });
  });
});
