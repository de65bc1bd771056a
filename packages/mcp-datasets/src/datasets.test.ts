import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCleanYolo, makeRoot, pngBytes } from './__fixtures__/make-datasets.ts';
import { computeStats } from './analysis.ts';
import { DatasetStore } from './datasets.ts';

const quiet = async () => {};

describe('DatasetStore discovery', () => {
  let root: string;
  let store: DatasetStore;
  beforeEach(() => {
    root = makeRoot(mkdtempSync(join(tmpdir(), 'ns-datasets-')));
    store = new DatasetStore({ root });
  });
  afterEach(() => {
    store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('finds datasets, versions in natural order, manifests and single-version datasets', async () => {
    mkdirSync(join(root, 'yolo-parts', 'v10'));
    const all = await store.listDatasets();
    expect(all.map((d) => d.name)).toEqual([
      'coco-parts',
      'folders',
      'manifested',
      'yolo-defects',
      'yolo-parts',
    ]);
    const byName = Object.fromEntries(all.map((d) => [d.name, d]));
    expect(byName['yolo-parts']?.versions.map((v) => v.name)).toEqual(['v1', 'v2', 'v10']);
    expect(byName['yolo-defects']?.versions.map((v) => v.name)).toEqual(['current']);
    expect(byName.manifested?.manifest).toBe(true);
    expect(byName.manifested?.versions.map((v) => [v.name, v.date, v.note])).toEqual([
      ['jan', '2024-01-31', 'first batch'],
      ['feb', '2024-02-29', undefined],
    ]);
    expect(store.detectFormat(join(root, 'coco-parts', 'v1'))).toBe('coco');
    expect(store.detectFormat(join(root, 'folders', 'v1'))).toBe('image-folder');
    expect(store.detectFormat(join(root, 'yolo-parts', 'v1'))).toBe('yolo');
    // A JSON file that is not COCO does not make a class-folder version COCO.
    writeFileSync(join(root, 'folders', 'v1', 'meta.json'), '{"owner": "qa", "notes": []}');
    expect(store.detectFormat(join(root, 'folders', 'v1'))).toBe('image-folder');
    expect((await store.load('folders', 'v1', quiet)).format).toBe('image-folder');
  });

  it('refuses a manifest version path that leaves the dataset folder', async () => {
    writeFileSync(join(root, 'manifested', 'versions.yaml'), 'versions:\n  - name: x\n    path: ../../etc\n');
    const ref = await store.dataset('manifested');
    expect(ref.versions).toEqual([]);
    expect(ref.problem).toMatch(/leaves the dataset folder/);
  });

  it('names what exists when a dataset or version is unknown', async () => {
    await expect(store.dataset('nope')).rejects.toThrow(
      /dataset "nope" not found; known: coco-parts, folders/,
    );
    await expect(store.version('yolo-parts', 'v9')).rejects.toThrow(/version "v9".*known: v1, v2/);
  });

  it('ignores YOLO split paths that leave the version folder', async () => {
    const dir = join(root, 'yolo-parts', 'v1');
    writeFileSync(
      join(dir, 'data.yaml'),
      'train: images/train\nval: ../../folders/v1/train\nnames: [a, b, c]\n',
    );
    const data = await store.load('yolo-parts', 'v1', quiet);
    expect(data.splits).toEqual(['train', 'val']);
    expect(data.samples.every((s) => s.split === 'train')).toBe(true);
    expect(data.problems).toContainEqual(expect.objectContaining({ code: 'split_missing' }));
  });
});

describe('scan cache', () => {
  let root: string;
  let cacheDir: string;
  const stores: DatasetStore[] = [];
  const open = () => {
    const store = new DatasetStore({ root, cacheDir });
    stores.push(store);
    return store;
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ns-datasets-cache-'));
    cacheDir = join(root, '.cache');
    makeCleanYolo(join(root, 'parts', 'v1'));
  });
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Rewrites a file and moves its mtime, as an editor saving it would. */
  const edit = (path: string, content: string | Buffer, seconds: number) => {
    writeFileSync(path, content);
    const t = new Date(Date.now() + seconds * 1000);
    utimesSync(path, t, t);
  };

  it('reads every file once, then only the file that changed', async () => {
    const store = open();
    const progress: Array<[number, number]> = [];
    const first = await store.load('parts', 'v1', async (done, total) => {
      progress.push([done, total]);
    });
    expect(first.scan).toMatchObject({ files: 25, read: 24, cached: 0, walked: true });
    expect(progress.at(-1)?.[0]).toBe(progress.at(-1)?.[1]);

    const second = await store.load('parts', 'v1', quiet);
    expect(second.scan).toMatchObject({ read: 0, cached: 25, walked: false });

    const label = join(root, 'parts', 'v1', 'labels', 'train', 'train-001.txt');
    expect(readFileSync(label, 'utf8')).toBe('1 0.5 0.5 0.25 0.25\n');
    edit(label, '2 0.5 0.5 0.25 0.25\n', 5);
    const third = await store.load('parts', 'v1', quiet);
    expect(third.scan.read).toBe(1);
    expect(third.samples.find((s) => s.image.endsWith('train-001.png'))?.boxes[0]).toBe(2);
    const stats = computeStats(third);
    expect(stats.classes.map((c) => c.instances)).toEqual([7, 6, 6]);
  });

  it('picks up added and removed files without a full walk', async () => {
    const store = open();
    await store.load('parts', 'v1', quiet);
    const dir = join(root, 'parts', 'v1');
    writeFileSync(join(dir, 'images', 'train', 'new.png'), pngBytes(64, 48, 99));
    writeFileSync(join(dir, 'labels', 'train', 'new.txt'), '0 0.5 0.5 0.1 0.1\n');
    rmSync(join(dir, 'images', 'val', 'val-000.png'));
    const after = await store.load('parts', 'v1', quiet);
    expect(after.scan.read).toBe(2);
    expect(after.samples.map((s) => s.image)).toContain('images/train/new.png');
    expect(after.samples.map((s) => s.image)).not.toContain('images/val/val-000.png');
    expect(after.samples).toHaveLength(12);
  });

  it('survives a restart through the disk cache, re-reading only what changed meanwhile', async () => {
    const first = await open().load('parts', 'v1', quiet);
    expect(first.scan.read).toBe(24);
    for (const store of stores.splice(0)) store.close();

    const warm = await open().load('parts', 'v1', quiet);
    expect(warm.scan).toMatchObject({ read: 0, cached: 24, walked: true });
    for (const store of stores.splice(0)) store.close();

    edit(join(root, 'parts', 'v1', 'labels', 'val', 'val-001.txt'), '0 0.5 0.5 0.3 0.3\n', 7);
    const changed = await open().load('parts', 'v1', quiet);
    expect(changed.scan).toMatchObject({ read: 1, cached: 23 });
  });

  it('re-reads a file whose content changed even when the size did not', async () => {
    const store = open();
    await store.load('parts', 'v1', quiet);
    const image = join(root, 'parts', 'v1', 'images', 'train', 'train-000.png');
    const before = store.derive(await store.load('parts', 'v1', quiet), 'hash', () => 0);
    expect(before).toBe(0);
    const replacement = pngBytes(64, 48, 4242);
    edit(image, replacement, 9);
    const data = await store.load('parts', 'v1', quiet);
    expect(data.scan.read).toBe(1);
    // A new version object: results derived from the old one are not reused.
    expect(store.derive(data, 'hash', () => 1)).toBe(1);
  });

  it('does not serve stale results after a scan was cut short', async () => {
    const store = open();
    await store.load('parts', 'v1', quiet);
    edit(join(root, 'parts', 'v1', 'labels', 'train', 'train-002.txt'), '1 0.5 0.5 0.25 0.25\n', 11);
    let calls = 0;
    const cancelling = async () => {
      if (++calls === 2) throw new Error('cancelled');
    };
    await expect(store.load('parts', 'v1', cancelling)).rejects.toThrow('cancelled');
    const data = await store.load('parts', 'v1', quiet);
    expect(data.samples.find((s) => s.image.endsWith('train-002.jpg'))?.boxes).toEqual([
      1, 0.5, 0.5, 0.25, 0.25,
    ]);
  });

  it('keeps a bounded number of versions in memory; an evicted one returns from the disk cache', async () => {
    for (const v of ['v2', 'v3', 'v4', 'v5']) makeCleanYolo(join(root, 'parts', v), { train: 2, val: 1 });
    const store = open();
    expect((await store.load('parts', 'v1', quiet)).scan.read).toBe(24);
    for (const v of ['v2', 'v3', 'v4', 'v5']) await store.load('parts', v, quiet);
    const back = await store.load('parts', 'v1', quiet);
    expect(back.scan).toMatchObject({ walked: true, read: 0, cached: 24 });
  });
});
