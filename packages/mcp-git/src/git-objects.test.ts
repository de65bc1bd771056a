import { describe, expect, it } from 'vitest';
import { parseCommit, parseTree } from './git.ts';

describe('raw object parsers', () => {
  it('parses a signed commit with a multi-line header and a time zone', () => {
    const raw = [
      'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      'parent 1111111111111111111111111111111111111111',
      'parent 2222222222222222222222222222222222222222',
      'author Ada Person <ada@example.com> 1700000000 +0130',
      'committer Bo Person <bo@example.com> 1700000600 -0500',
      'gpgsig -----BEGIN PGP SIGNATURE-----',
      ' abc',
      ' -----END PGP SIGNATURE-----',
      '',
      'Subject line',
      '',
      'Body.',
      '',
    ].join('\n');
    const parsed = parseCommit('f'.repeat(40), Buffer.from(raw));
    expect(parsed?.commit).toEqual({
      tree: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      parent: ['1111111111111111111111111111111111111111', '2222222222222222222222222222222222222222'],
      author: { name: 'Ada Person', email: 'ada@example.com', timestamp: 1700000000, timezoneOffset: -90 },
      committer: { name: 'Bo Person', email: 'bo@example.com', timestamp: 1700000600, timezoneOffset: 300 },
      message: 'Subject line\n\nBody.\n',
    });
    expect(parseCommit('f'.repeat(40), Buffer.from('tree x\n\nno author'))).toBeUndefined();
  });

  it('parses tree entries and drops names git refuses', () => {
    const entry = (mode: string, name: string, byte: number) =>
      Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.alloc(20, byte)]);
    const raw = Buffer.concat([
      entry('100644', 'a.yaml', 1),
      entry('40000', 'dir', 2),
      entry('120000', 'link', 3),
      entry('40000', '..', 4),
      entry('40000', '.GIT', 5),
    ]);
    expect(parseTree(raw)).toEqual([
      { mode: '100644', path: 'a.yaml', oid: '01'.repeat(20), type: 'blob' },
      { mode: '040000', path: 'dir', oid: '02'.repeat(20), type: 'tree' },
      { mode: '120000', path: 'link', oid: '03'.repeat(20), type: 'blob' },
    ]);
    expect(() => parseTree(Buffer.from('100644 broken'))).toThrow(/malformed tree/);
  });
});
