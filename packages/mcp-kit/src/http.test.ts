import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SampleDeps, sampleTools } from './__fixtures__/sample-tools.ts';
import { ConfigError } from './config.ts';
import { parseHostPort } from './host-port.ts';
import { type HttpServerHandle, serveHttp } from './http.ts';
import { createLogger } from './logger.ts';
import { registerTools } from './register.ts';

const token = 'test-token-0123456789abcdef';
let handle: HttpServerHandle;
const logs: string[] = [];

function createServer() {
  const server = new McpServer({ name: 'sample', version: '0.0.0' });
  const deps: SampleDeps = { words: ['alpha', 'beta'], calls: [] };
  registerTools(server, sampleTools, deps);
  return server;
}

beforeAll(async () => {
  handle = await serveHttp({
    host: '127.0.0.1',
    port: 0,
    token,
    createServer,
    logger: createLogger('http-test', { write: (l) => logs.push(l) }),
    name: 'sample',
    version: '0.0.0',
  });
});
afterAll(() => handle.close());

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

function post(headers: Record<string, string>, body: unknown = initialize) {
  return fetch(handle.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('Streamable HTTP', () => {
  it('serves the real SDK client with the bearer token', async () => {
    const client = new Client({ name: 'http-test', version: '0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(handle.url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('sample_list_words');
    const result = await client.callTool({ name: 'sample_get_word', arguments: { index: 1 } });
    expect(result.structuredContent).toEqual({ index: 1, word: 'beta' });
    await client.close();
  });

  it('rejects a missing or wrong token with 401', async () => {
    expect((await post({})).status).toBe(401);
    const wrong = await post({ authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('rejects a foreign Origin and a foreign Host with 403, even with the token', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await post({ ...auth, origin: 'http://evil.example' })).status).toBe(403);
    // A DNS-rebinding page reaches us under its own host name.
    const port = new URL(handle.url).port;
    // fetch() will not send a foreign Host header, so use node:http as a rebinding browser would reach us.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(handle.url, {
        method: 'POST',
        headers: { ...auth, host: `evil.example:${port}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end(JSON.stringify(initialize));
    });
    expect(status).toBe(403);
    const local = await post({ ...auth, origin: `http://localhost:${port}` });
    expect(local.status).toBe(200);
  });

  it('answers malformed JSON with 400 and oversized bodies with 413', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await post(auth, '{not json')).status).toBe(400);
    expect((await post(auth, `"${'x'.repeat(5 * 1024 * 1024)}"`)).status).toBe(413);
    expect((await post(auth, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(400);
  });

  it('has a health endpoint that needs no token and reveals nothing secret', async () => {
    const res = await fetch(new URL('/health', handle.url));
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ status: 'ok', name: 'sample', version: '0.0.0' });
    expect(body + logs.join('')).not.toContain(token);
  });

  it('refuses to bind a non-loopback address without a token', async () => {
    await expect(
      serveHttp({
        host: '0.0.0.0',
        port: 0,
        createServer,
        logger: createLogger('x', { write: () => undefined }),
        name: 's',
        version: '0',
      }),
    ).rejects.toThrow(ConfigError);
  });

  it('parses host:port forms', () => {
    expect(parseHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHostPort(':9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseHostPort('[::1]:7')).toEqual({ host: '::1', port: 7 });
    expect(() => parseHostPort('nope')).toThrow(/expected host:port/);
  });
});
