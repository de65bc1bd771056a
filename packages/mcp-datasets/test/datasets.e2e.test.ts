import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type SpawnedServer, spawnStdioServer } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRoot } from '../src/__fixtures__/make-datasets.ts';

const bin = new URL('../bin/nightshift-mcp-datasets.js', import.meta.url).pathname;
const built = existsSync(new URL('../dist/bundle/main.js', import.meta.url));

describe.skipIf(!built)('nightshift-mcp-datasets over stdio (built bin)', () => {
  let root: string;
  let cache: string;
  let server: SpawnedServer;
  beforeAll(async () => {
    root = makeRoot(mkdtempSync(join(tmpdir(), 'ns-datasets-e2e-')));
    cache = mkdtempSync(join(tmpdir(), 'ns-datasets-e2e-cache-'));
    server = await spawnStdioServer(process.execPath, [bin], {
      env: { NIGHTSHIFT_DATASETS_ROOT: root, NIGHTSHIFT_DATASETS_CACHE_DIR: cache },
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  const call = async (name: string, args: Record<string, unknown>) =>
    (await server.client.callTool({ name, arguments: args })) as CallToolResult;

  it('lists its six read-only tools', async () => {
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'datasets_list_datasets',
      'datasets_list_versions',
      'datasets_get_stats',
      'datasets_validate_version',
      'datasets_diff_versions',
      'datasets_sample_images',
    ]);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
  });

  it('scans with progress, caches on disk, validates, diffs and draws a contact sheet', async () => {
    const progress: number[] = [];
    const stats = (await server.client.callTool(
      { name: 'datasets_get_stats', arguments: { dataset: 'yolo-defects' } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    )) as CallToolResult;
    expect(stats.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    expect(stats.structuredContent).toMatchObject({ version: 'current', totals: { images: 22, corrupt: 2 } });
    const again = await call('datasets_get_stats', { dataset: 'yolo-defects' });
    expect((again.structuredContent as { scan: { read: number } }).scan.read).toBe(0);
    // The scan cache went to the configured folder.
    expect(existsSync(cache) && (await import('node:fs')).readdirSync(cache).length).toBeGreaterThan(0);

    const validation = await call('datasets_validate_version', { dataset: 'coco-parts', version: 'v2' });
    expect(validation.structuredContent).toMatchObject({ ok: false, errors: 5, warnings: 3 });

    const diff = await call('datasets_diff_versions', { dataset: 'yolo-parts' });
    expect(diff.structuredContent).toMatchObject({ from: 'v1', to: 'v2', classShift: { level: 'large' } });

    const sheet = await call('datasets_sample_images', {
      dataset: 'folders',
      version: 'v1',
      contactSheet: true,
    });
    expect(sheet.content.some((c) => c.type === 'image' && c.mimeType === 'image/png')).toBe(true);
  });

  it('answers bad input with an error the model can act on, and keeps serving', async () => {
    const bad = await call('datasets_get_stats', { dataset: 'nope' });
    expect(bad.isError).toBe(true);
    expect((bad.content[0] as { text: string }).text).toMatch(/dataset "nope" not found; known: coco-parts/);
    const invalid = await server.client.callTool({
      name: 'datasets_sample_images',
      arguments: { dataset: 'folders', perGroup: 99 },
    });
    expect(invalid.isError).toBe(true);
    const ok = await call('datasets_list_datasets', {});
    expect(ok.isError).toBeFalsy();
    expect(server.stderr()).not.toMatch(/uncaught|unhandled/i);
  });
});
