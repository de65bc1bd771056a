import { toolContract } from '@nightshift/mcp-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceRemote, seedFiles } from '../../test/helpers/git-http-server.ts';
import { type Harness, startHarness } from '../../test/helpers/harness.ts';
import { fileTools } from './files.ts';

describe('file tools contract', () => {
  it('matches the reviewed snapshot', async () => {
    await expect(JSON.stringify(toolContract(fileTools), null, 2)).toMatchFileSnapshot(
      './__snapshots__/files.contract.json',
    );
  });
});

describe('file tools against a real smart-HTTP server', () => {
  let h: Harness;
  let firstHead: string;
  beforeAll(async () => {
    h = await startHarness();
    const fetched = await h.call('git_fetch', { repo: 'configs' });
    firstHead = (fetched.structured.branches as Array<{ after: string }>)[0]?.after ?? '';
    advanceRemote(
      h.server,
      'configs',
      'configs/weld.yaml',
      `${seedFiles['configs/weld.yaml']}  seed: 7\n`,
      'Pin the seed',
    );
    await h.call('git_fetch', { repo: 'configs' });
  });
  afterAll(() => h.close());

  describe('git_show_file', () => {
    it('reads a file at the default branch and at an older ref, with line ranges', async () => {
      const now = await h.call('git_show_file', { repo: 'configs', path: 'configs/weld.yaml' });
      expect(now.isError).toBe(false);
      expect(now.structured.content).toBe(`${seedFiles['configs/weld.yaml']}  seed: 7\n`);
      expect(now.structured.totalLines).toBe(14);
      const old = await h.call('git_show_file', {
        repo: 'configs',
        path: 'configs/weld.yaml',
        ref: firstHead.slice(0, 10),
      });
      expect(old.structured.content).toBe(seedFiles['configs/weld.yaml']);
      const range = await h.call('git_show_file', {
        repo: 'configs',
        path: './configs/weld.yaml',
        ref: 'main~1',
        startLine: 9,
        endLine: 10,
      });
      expect(range.structured).toMatchObject({
        startLine: 9,
        endLine: 10,
        content: 'train:\n  image_size: 640       # must match model.head_size\n',
        truncated: false,
      });
    });

    it('caps output at maxBytes and says where to continue', async () => {
      const capped = await h.call('git_show_file', {
        repo: 'configs',
        path: 'configs/weld.yaml',
        maxBytes: 256,
      });
      expect(capped.structured.truncated).toBe(true);
      expect(Buffer.byteLength(capped.structured.content as string)).toBeLessThanOrEqual(256);
      expect(capped.text).toMatch(/continue with startLine \d+/);
    });

    it('follows a symlink that stays inside the repo', async () => {
      const linked = await h.call('git_show_file', { repo: 'configs', path: 'links/weld.yaml' });
      expect(linked.isError).toBe(false);
      expect(linked.structured.resolvedPath).toBe('configs/weld.yaml');
    });

    it('refuses traversal, absolute paths and symlinks that escape the repo', async () => {
      for (const path of [
        '../etc/passwd',
        'configs/../../x',
        '/etc/passwd',
        'configs\\weld.yaml',
        '.git/config',
      ]) {
        const result = await h.call('git_show_file', { repo: 'configs', path });
        expect(result.isError, path).toBe(true);
        expect(result.text, path).toMatch(/is refused/);
      }
      for (const path of ['links/escape', 'links/absolute']) {
        const result = await h.call('git_show_file', { repo: 'configs', path });
        expect(result.isError, path).toBe(true);
        expect(result.text).toBe(
          `${path} is a symlink that points outside the repository; it is not followed.`,
        );
        expect(result.text).not.toMatch(/root:/);
      }
    });

    it('says what exists when the file is missing', async () => {
      const result = await h.call('git_show_file', { repo: 'configs', path: 'configs/nope.yaml' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(
        /configs\/nope.yaml at [0-9a-f]{12} not found; known: configs\/model.json, configs\/train.toml, configs\/weld.yaml/,
      );
    });
  });

  describe('git_list_files', () => {
    it('lists with a glob and pages with a cursor', async () => {
      const all = await h.call('git_list_files', { repo: 'configs' });
      expect((all.structured.files as Array<{ path: string }>).map((f) => f.path)).toEqual([
        'README.md',
        'configs/model.json',
        'configs/train.toml',
        'configs/weld.yaml',
        'links/absolute',
        'links/escape',
        'links/weld.yaml',
      ]);
      const yaml = await h.call('git_list_files', { repo: 'configs', glob: '**/*.yaml' });
      expect(yaml.structured.files).toEqual([
        { path: 'configs/weld.yaml', kind: 'blob' },
        { path: 'links/weld.yaml', kind: 'symlink' },
      ]);
      const page1 = await h.call('git_list_files', { repo: 'configs', dir: 'configs', limit: 2 });
      expect(page1.structured).toMatchObject({ total: 3 });
      expect(page1.structured.nextCursor).toBeTypeOf('string');
      const page2 = await h.call('git_list_files', {
        repo: 'configs',
        dir: 'configs',
        limit: 2,
        cursor: page1.structured.nextCursor,
      });
      expect(page2.structured.files).toEqual([{ path: 'configs/weld.yaml', kind: 'blob' }]);
      expect(page2.structured.nextCursor).toBeUndefined();
      const mixed = await h.call('git_list_files', {
        repo: 'configs',
        limit: 2,
        cursor: page1.structured.nextCursor,
      });
      expect(mixed.isError).toBe(true);
      expect(mixed.text).toMatch(/cursor belongs to a different request/);
    });

    it('rejects an unknown ref with the branches that exist', async () => {
      const result = await h.call('git_list_files', { repo: 'configs', ref: 'no-such-branch' });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        'ref "no-such-branch" in repo "configs" not found; known: main. Pass a branch, a tag or a commit id; git_fetch refreshes the cache.',
      );
    });
  });

  describe('git_grep', () => {
    it('finds matching lines with a glob and continues with a cursor', async () => {
      const result = await h.call('git_grep', { repo: 'configs', pattern: 'image_size' });
      expect(result.structured.hits).toEqual([
        { path: 'configs/train.toml', line: 3, text: 'image_size = 512' },
        { path: 'configs/weld.yaml', line: 10, text: '  image_size: 640       # must match model.head_size' },
      ]);
      const first = await h.call('git_grep', {
        repo: 'configs',
        pattern: '^\\s+\\w+:',
        glob: 'configs/*.yaml',
        maxHits: 3,
      });
      expect(first.structured.hits).toHaveLength(3);
      const rest = await h.call('git_grep', {
        repo: 'configs',
        pattern: '^\\s+\\w+:',
        glob: 'configs/*.yaml',
        maxHits: 100,
        cursor: first.structured.nextCursor,
      });
      const lines = [
        ...(first.structured.hits as Array<{ line: number }>),
        ...(rest.structured.hits as Array<{ line: number }>),
      ].map((x) => x.line);
      expect(lines).toEqual([3, 4, 5, 7, 8, 10, 11, 12, 13, 14]);
      const literal = await h.call('git_grep', { repo: 'configs', pattern: '[porosity', fixedString: true });
      expect(literal.structured.hits).toMatchObject([{ path: 'configs/weld.yaml', line: 5 }]);
    });

    it('explains an invalid regular expression', async () => {
      const result = await h.call('git_grep', { repo: 'configs', pattern: '[porosity' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(/not a valid regular expression.*fixedString/);
    });

    it('refuses lookahead and backreferences, which need a backtracking engine, and says what to do', async () => {
      for (const pattern of ['image_size(?=:)', '(\\w)\\1']) {
        const result = await h.call('git_grep', { repo: 'configs', pattern });
        expect(result.isError, pattern).toBe(true);
        expect(result.text).toMatch(
          /does not support \(lookahead, lookbehind or a backreference\).*rewrite it without that construct/,
        );
      }
    });

    it('ignores case for expressions and fixed strings alike', async () => {
      for (const args of [
        { pattern: 'IMAGE_SIZE:\\s+\\d+' },
        { pattern: 'IMAGE_SIZE:', fixedString: true },
      ]) {
        const result = await h.call('git_grep', { repo: 'configs', ignoreCase: true, ...args });
        expect(result.structured.hits, JSON.stringify(args)).toEqual([
          {
            path: 'configs/weld.yaml',
            line: 10,
            text: '  image_size: 640       # must match model.head_size',
          },
        ]);
        const exact = await h.call('git_grep', { repo: 'configs', ...args });
        expect(exact.structured.hits).toEqual([]);
      }
    });
  });

  describe('git_read_config_value', () => {
    it('reads values from YAML, JSON and TOML by key path', async () => {
      const cases: Array<[string, string, unknown]> = [
        ['configs/weld.yaml', 'train.image_size', 640],
        ['configs/weld.yaml', 'model.classes[1]', 'crack'],
        ['configs/weld.yaml', 'model.classes', ['porosity', 'crack', 'spatter']],
        ['configs/model.json', 'input.width', 512],
        ['configs/train.toml', 'optimizer.lr', 0.01],
      ];
      for (const [path, key, value] of cases) {
        const result = await h.call('git_read_config_value', { repo: 'configs', path, key });
        expect(result.isError, `${path} ${key}`).toBe(false);
        expect(result.structured.value).toEqual(value);
      }
      const old = await h.call('git_read_config_value', {
        repo: 'configs',
        path: 'configs/weld.yaml',
        key: 'seed',
        ref: firstHead,
      });
      expect(old.isError).toBe(true);
    });

    it('lists the keys that exist when one is missing', async () => {
      const result = await h.call('git_read_config_value', {
        repo: 'configs',
        path: 'configs/weld.yaml',
        key: 'train.img_size',
      });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        'key train.img_size not found in configs/weld.yaml under train; keys there: image_size, batch, epochs, lr, seed.',
      );
      const notConfig = await h.call('git_read_config_value', {
        repo: 'configs',
        path: 'README.md',
        key: 'a',
      });
      expect(notConfig.text).toMatch(/not a YAML, JSON or TOML file/);
    });
  });
});
