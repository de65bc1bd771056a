import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, textOf } from '../__fixtures__/connect.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
  mkdirSync(join(h.root, 'empty-dataset'));
});
afterAll(() => h.close());

describe('datasets_list_datasets', () => {
  it('lists every dataset with its format, versions and latest', async () => {
    const result = await h.call('datasets_list_datasets');
    expect(result.isError).toBeFalsy();
    const { datasets, total } = result.structuredContent as {
      total: number;
      datasets: Array<{
        name: string;
        format?: string;
        versionCount: number;
        latest?: string;
        manifest: boolean;
      }>;
    };
    expect(total).toBe(6);
    const row = (name: string) => datasets.find((d) => d.name === name);
    expect(row('yolo-parts')).toMatchObject({
      format: 'yolo',
      versionCount: 2,
      latest: 'v2',
      manifest: false,
    });
    expect(row('coco-parts')).toMatchObject({ format: 'coco', latest: 'v2' });
    expect(row('folders')).toMatchObject({ format: 'image-folder', latest: 'v2' });
    expect(row('manifested')).toMatchObject({
      format: 'yolo',
      versionCount: 2,
      latest: 'feb',
      manifest: true,
    });
    expect(row('yolo-defects')).toMatchObject({ format: 'yolo', versionCount: 1, latest: 'current' });
    expect(row('empty-dataset')).toMatchObject({ versionCount: 0 });
    expect(row('empty-dataset')?.format).toBeUndefined();
    expect(textOf(result)).toContain('yolo-parts: yolo, 2 version(s), latest v2');
  });

  it('pages with a cursor', async () => {
    const first = await h.call('datasets_list_datasets', { limit: 4 });
    const page1 = first.structuredContent as { datasets: Array<{ name: string }>; nextCursor?: string };
    expect(page1.datasets).toHaveLength(4);
    expect(page1.nextCursor).toBeTypeOf('string');
    const second = await h.call('datasets_list_datasets', { limit: 4, cursor: page1.nextCursor });
    const page2 = second.structuredContent as { datasets: Array<{ name: string }>; nextCursor?: string };
    expect(page2.datasets.map((d) => d.name)).toEqual(['yolo-defects', 'yolo-parts']);
    expect(page2.nextCursor).toBeUndefined();
  });

  it('rejects a cursor it did not issue', async () => {
    const result = await h.call('datasets_list_datasets', { cursor: 'garbage' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/cursor is not one this server issued/);
  });
});

describe('datasets_list_versions', () => {
  it('lists versions with dates, notes and images per split', async () => {
    const result = await h.call('datasets_list_versions', { dataset: 'manifested' });
    expect(result.isError).toBeFalsy();
    const { versions, total } = result.structuredContent as {
      total: number;
      versions: Array<{
        name: string;
        date?: string;
        note?: string;
        latest: boolean;
        format?: string;
        splits?: unknown;
      }>;
    };
    expect(total).toBe(2);
    expect(versions).toEqual([
      {
        name: 'jan',
        date: '2024-01-31',
        note: 'first batch',
        latest: false,
        format: 'yolo',
        classes: 3,
        splits: [
          { split: 'train', images: 3 },
          { split: 'val', images: 1 },
        ],
      },
      {
        name: 'feb',
        date: '2024-02-29',
        latest: true,
        format: 'yolo',
        classes: 3,
        splits: [
          { split: 'train', images: 6 },
          { split: 'val', images: 2 },
        ],
      },
    ]);
  });

  it('lists names and dates only when counts are not wanted', async () => {
    const result = await h.call('datasets_list_versions', { dataset: 'yolo-parts', counts: false });
    const { versions } = result.structuredContent as {
      versions: Array<{ name: string; date?: string; splits?: unknown }>;
    };
    expect(versions.map((v) => v.name)).toEqual(['v1', 'v2']);
    expect(versions.every((v) => v.splits === undefined && typeof v.date === 'string')).toBe(true);
  });

  it('names the datasets that exist when the dataset is unknown', async () => {
    const result = await h.call('datasets_list_versions', { dataset: 'nope' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'dataset "nope" not found; known: coco-parts, empty-dataset, folders, manifested, yolo-defects, yolo-parts. List them with datasets_list_datasets.',
    );
  });
});
