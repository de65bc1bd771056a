import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedServer, spawnStdioServer } from '../src/testing.ts';

// Spawns the sample server as its own process (Node strips the types) and talks to it with
// the real SDK client over stdio, as Claude Desktop or Cursor would.
const sampleServer = fileURLToPath(new URL('../src/__fixtures__/sample-server.ts', import.meta.url));

describe('a kit server over stdio', () => {
  let server: SpawnedServer;
  beforeAll(async () => {
    server = await spawnStdioServer(process.execPath, [sampleServer], {
      env: { SAMPLE_WORDS: 'one,two,three' },
    });
  });
  afterAll(() => server.close());

  it('lists and calls a tool registered through the kit', async () => {
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'sample_add_word',
      'sample_count_slowly',
      'sample_explode',
      'sample_get_word',
      'sample_list_words',
    ]);
    const result = await server.client.callTool({ name: 'sample_list_words', arguments: { limit: 2 } });
    expect(result.structuredContent).toMatchObject({ words: ['one', 'two'], total: 3 });
  });

  it('survives a handler bug and a bad call, logging only to stderr', async () => {
    const bug = await server.client.callTool({ name: 'sample_explode', arguments: {} });
    expect(bug.isError).toBe(true);
    const bad = await server.client.callTool({ name: 'sample_get_word', arguments: { index: 'x' } });
    expect(bad.isError).toBe(true);
    const ok = await server.client.callTool({ name: 'sample_get_word', arguments: { index: 2 } });
    expect(ok.structuredContent).toEqual({ index: 2, word: 'three' });
    expect(server.stderr()).toMatch(/sample_explode failed unexpectedly/);
  });
});

describe('start-up', () => {
  it('stops with one message listing every configuration problem', () => {
    const run = spawnSync(process.execPath, [sampleServer], {
      env: { PATH: process.env.PATH, SAMPLE_LIMIT: 'lots' },
      encoding: 'utf8',
      input: '',
    });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/SAMPLE_WORDS is not set \(Comma-separated words/);
    expect(run.stderr).toMatch(/SAMPLE_LIMIT is invalid/);
  });

  it('--read-only drops write tools; --list-tools prints the table', () => {
    const table = spawnSync(process.execPath, [sampleServer, '--list-tools'], { encoding: 'utf8' });
    expect(table.stdout).toMatch(/\| `sample_add_word` \| edit \| Add a word \| no \| no \| no \|/);
    const bad = spawnSync(process.execPath, [sampleServer, '--toolsets', 'nope'], {
      env: { PATH: process.env.PATH, SAMPLE_WORDS: 'a' },
      encoding: 'utf8',
      input: '',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown toolset\(s\): nope/);
  });
});
