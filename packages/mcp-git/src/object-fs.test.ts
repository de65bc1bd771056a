import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createObjectFs } from './object-fs.ts';

const root = mkdtempSync(join(tmpdir(), 'ns-object-fs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const oid = 'ab'.padEnd(40, '0');
const loose = (dir: string) => join(dir, 'objects', 'ab', oid.slice(2));

describe('the object-reading file system', () => {
  it('answers a missing loose object from the directory listing, and sees its own writes at once', async () => {
    const dir = join(root, 'own');
    mkdirSync(join(dir, 'objects', 'ab'), { recursive: true });
    const { promises } = createObjectFs(60_000);
    await expect(promises.readFile(loose(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    await promises.writeFile(loose(dir), 'object');
    expect((await promises.readFile(loose(dir))).toString()).toBe('object');
  });

  it('sees objects written by another process once the listing expires', async () => {
    const dir = join(root, 'other');
    mkdirSync(join(dir, 'objects', 'ab'), { recursive: true });
    mkdirSync(join(dir, 'objects', 'pack'), { recursive: true });
    const { promises } = createObjectFs(50);
    await expect(promises.readFile(loose(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await promises.readdir(join(dir, 'objects', 'pack'))).toEqual([]);
    writeFileSync(loose(dir), 'later');
    writeFileSync(join(dir, 'objects', 'pack', 'pack-1.idx'), '');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await promises.readFile(loose(dir))).toString()).toBe('later');
    expect(await promises.readdir(join(dir, 'objects', 'pack'))).toEqual(['pack-1.idx']);
  });

  it('answers the path-less probe isomorphic-git makes with a rejection', async () => {
    const { promises } = createObjectFs();
    await expect(promises.readFile(undefined as never)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
