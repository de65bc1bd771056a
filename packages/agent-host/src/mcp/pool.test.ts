import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type FixtureHost, fixtureHost, recordingServer } from '../__fixtures__/harness.ts';
import { McpPool } from './pool.ts';

const dynamicServer = fileURLToPath(new URL('../__fixtures__/dynamic-server.ts', import.meta.url));

let pool: McpPool | undefined;
let fx: FixtureHost | undefined;
afterEach(async () => {
  await pool?.close();
  await fx?.close();
  pool = undefined;
  fx = undefined;
});

function fixtureEnv() {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-pool-'));
  return { FX_RECORD_FILE: join(dir, 'calls.jsonl'), FX_STATE_FILE: join(dir, 'state.json') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the MCP client pool', () => {
  it('prefixes tool names with the server when two servers share a name', async () => {
    pool = await McpPool.start(
      {
        a: { command: process.execPath, args: [recordingServer], env: fixtureEnv() },
        b: { command: process.execPath, args: [recordingServer], env: fixtureEnv() },
        dyn: { command: process.execPath, args: [dynamicServer], env: {} },
      },
      { log: () => undefined },
    );
    const names = pool.tools().map((t) => t.exposedName);
    expect(names).toContain('a_fx_read_status');
    expect(names).toContain('b_fx_read_status');
    expect(names).toContain('dyn_add_tool');
    expect(new Set(names).size).toBe(names.length);
    const result = await pool.call('b', 'fx_read_status', { what: 'x' }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ isError: false, text: expect.stringContaining('status of x') });
  });

  it('follows tools/list_changed', async () => {
    let changes = 0;
    pool = await McpPool.start(
      { dyn: { command: process.execPath, args: [dynamicServer], env: {} } },
      { log: () => undefined, onToolsChanged: () => changes++ },
    );
    expect(pool.tools().map((t) => t.name)).toEqual(['dyn_add_tool', 'dyn.dotted']);
    expect(pool.tools().find((t) => t.name === 'dyn.dotted')?.exposedName).toBe('dyn_dotted');
    const before = changes;
    await pool.call('dyn', 'dyn_add_tool', {}, { timeoutMs: 10_000 });
    await expect
      .poll(() => pool?.tools().map((t) => t.name))
      .toEqual(['dyn_add_tool', 'dyn.dotted', 'dyn_late']);
    expect(changes).toBeGreaterThan(before);
    expect(await pool.call('dyn', 'dyn_late', {}, { timeoutMs: 10_000 })).toMatchObject({
      text: 'late tool ran',
    });
  });

  it('connects to a Streamable HTTP server with headers', async () => {
    const port = await freePort();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [recordingServer, '--http', `127.0.0.1:${port}`], {
      env: { ...process.env, ...fixtureEnv(), NIGHTSHIFT_MCP_HTTP_TOKEN: 'http-token-123456' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('serving MCP')) resolve();
        });
        child.once('exit', () => reject(new Error('http fixture exited')));
      });
      pool = await McpPool.start(
        {
          remote: {
            url: `http://127.0.0.1:${port}/mcp`,
            headers: { Authorization: 'Bearer http-token-123456' },
          },
          wrong: { url: `http://127.0.0.1:${port}/mcp`, headers: { Authorization: 'Bearer nope' } },
        },
        { log: () => undefined, startTimeoutMs: 5000, backoffMs: 60_000 },
      );
      const status = Object.fromEntries(pool.status().map((s) => [s.name, s.state]));
      expect(status).toEqual({ remote: 'up', wrong: 'down' });
      expect(await pool.call('remote', 'fx_read_status', {}, { timeoutMs: 5000 })).toMatchObject({
        isError: false,
      });
      const down = await pool.call('wrong', 'fx_read_status', {}, { timeoutMs: 100 });
      expect(down).toMatchObject({
        isError: true,
        text: expect.stringContaining('MCP server "wrong" is not available'),
      });
    } finally {
      child.kill();
    }
  });

  it('restarts a crashed server: the call in flight fails clearly, the turn goes on, the next call works', async () => {
    fx = await fixtureHost({
      turns: [
        { text: '', toolCalls: [{ name: 'fx_crash', arguments: {} }] },
        { text: '', toolCalls: [{ name: 'fx_read_status', arguments: { what: 'after' } }] },
        { text: 'The server restarted; status is fine.' },
      ],
    });
    const result = await fx.host.handleMessage({
      channel: 'terminal',
      senderId: 'anna',
      conversationId: 'c',
      text: 'go',
    });
    expect(result.reply).toBe('The server restarted; status is fine.');
    const crashResult = JSON.stringify(fx.model.requests[1]?.messages.at(-1));
    expect(crashResult).toMatch(/MCP server \\"fx\\" stopped while fx_crash was running/);
    const readResult = JSON.stringify(fx.model.requests[2]?.messages.at(-1));
    expect(readResult).toContain('status of after');
    const calls = fx.executed();
    expect(calls.map((c) => c.tool)).toEqual(['fx_crash', 'fx_read_status']);
    expect(calls[0]?.pid).not.toBe(calls[1]?.pid);
  });

  it('credentials in server env never reach the model', async () => {
    const secret = 'sk-live-0123456789abcdef';
    fx = await fixtureHost({
      env: { FX_SECRET_SOURCE: secret },
      servers: {
        fx: {
          command: process.execPath,
          args: [recordingServer],
          env: { FX_TOKEN: `$${'{'}FX_SECRET_SOURCE}` },
          trusted: true,
        },
      },
      turns: [{ text: '', toolCalls: [{ name: 'fx_show_env', arguments: {} }] }, { text: 'done' }],
    });
    await fx.host.handleMessage({ channel: 'terminal', senderId: 'anna', conversationId: 'c', text: 'show' });
    expect(fx.executed().map((c) => c.tool)).toEqual(['fx_show_env']);
    const seen = JSON.stringify(fx.model.requests);
    expect(seen).toContain('token is [redacted]');
    expect(seen).not.toContain(secret);
    const db = readFileSync(join(fx.config.dataDir, 'nightshift.db')).toString('latin1');
    expect(db).not.toContain(secret);
  });

  it('a server that prints its credentials while failing does not put them in the log', async () => {
    const secret = 'sk-live-fedcba9876543210';
    fx = await fixtureHost({
      env: { LEAKY_SOURCE: secret },
      servers: {
        leaky: {
          command: process.execPath,
          args: ['-e', 'console.error("auth failed with token " + process.env.API_TOKEN); process.exit(3)'],
          env: { API_TOKEN: `$${'{'}LEAKY_SOURCE}` },
        },
      },
    });
    await expect.poll(() => fx?.logs.join('\n')).toContain('auth failed with token [redacted]');
    expect(fx.logs.join('\n')).not.toContain(secret);
  });
});
