import { describe, expect, it } from 'vitest';
import { applySets, parseKeyPath, replaceText } from './config-files.ts';

const yaml = `# top comment
model:
  head_size: 640        # compiled for this size
  name: "tiny-det"      # quoted on purpose
  classes: [porosity, crack]   # flow list
train:
  # block comment kept
  image_size: 640
  schedule:
    - 10
    - 20
`;

describe('key paths', () => {
  it('parses dots, indexes and quoted segments', () => {
    expect(parseKeyPath('train.image_size')).toEqual(['train', 'image_size']);
    expect(parseKeyPath('model.classes[1]')).toEqual(['model', 'classes', 1]);
    expect(parseKeyPath('a.0.b')).toEqual(['a', 0, 'b']);
    expect(parseKeyPath('a["x.y"].z')).toEqual(['a', 'x.y', 'z']);
  });
  it('rejects malformed paths', () => {
    for (const bad of ['', '.', 'a..b', 'a[', 'a]b'])
      expect(() => parseKeyPath(bad), bad).toThrow(/malformed/);
  });
});

describe('YAML edits keep comments, order and spacing', () => {
  it('splices scalars in place, byte for byte elsewhere', async () => {
    const out = await applySets(yaml, 'yaml', 'c.yaml', [
      { key: 'model.head_size', value: 512 },
      { key: 'model.name', value: 'small-det' },
      { key: 'model.classes[1]', value: 'scratch' },
      { key: 'train.schedule[1]', value: 25 },
    ]);
    expect(out).toBe(
      yaml
        .replace('head_size: 640        #', 'head_size: 512        #')
        .replace('"tiny-det"      #', '"small-det"      #')
        .replace('[porosity, crack]', '[porosity, scratch]')
        .replace('- 20', '- 25'),
    );
  });

  it('quotes strings that would otherwise change type', async () => {
    const out = await applySets(yaml, 'yaml', 'c.yaml', [{ key: 'train.image_size', value: '640' }]);
    expect(out).toContain(`image_size: "640"\n`);
  });

  it('replaces a collection and adds a key through the document model, keeping comments', async () => {
    const out = await applySets(yaml, 'yaml', 'c.yaml', [
      { key: 'train.schedule', value: [5, 15] },
      { key: 'train.warmup', value: 2, create: true },
    ]);
    expect(out).toContain('# top comment');
    expect(out).toContain('# block comment kept');
    expect(out).toContain('# compiled for this size');
    expect(out).toMatch(/schedule:\n\s+- 5\n\s+- 15\n\s+warmup: 2\n$/);
  });

  it('refuses a missing key unless create is set, and a missing parent always', async () => {
    await expect(applySets(yaml, 'yaml', 'c.yaml', [{ key: 'train.warmup', value: 1 }])).rejects.toThrow(
      /key train.warmup not found in c.yaml under train; keys there: image_size, schedule. Pass create: true/,
    );
    await expect(
      applySets(yaml, 'yaml', 'c.yaml', [{ key: 'optim.lr', value: 1, create: true }]),
    ).rejects.toThrow(/key optim.lr not found in c.yaml at the top level/);
  });
});

describe('JSON and TOML', () => {
  it('splices JSON values in place', async () => {
    const json = '{\n  "a": { "b": 1, "c": [1, 2] },\n  "d": "x"\n}\n';
    const out = await applySets(json, 'json', 'c.json', [
      { key: 'a.b', value: 2 },
      { key: 'a.c', value: [3] },
      { key: 'd', value: 'y' },
    ]);
    expect(out).toBe('{\n  "a": { "b": 2, "c": [3] },\n  "d": "y"\n}\n');
  });

  it('refuses structured TOML edits with the alternative', async () => {
    await expect(applySets('a = 1\n', 'toml', 'c.toml', [{ key: 'a', value: 2 }])).rejects.toThrow(
      /give an exact text replacement instead/,
    );
  });
});

describe('text replacement', () => {
  it('replaces exactly one occurrence, or all when asked', () => {
    expect(replaceText('a b a', 'f', 'b', 'c')).toBe('a c a');
    expect(() => replaceText('a b a', 'f', 'a', 'c')).toThrow(/occurs 2 times/);
    expect(replaceText('a b a', 'f', 'a', 'c', true)).toBe('c b c');
    expect(() => replaceText('a', 'f', 'z', 'c')).toThrow(/not found in f/);
  });
});
