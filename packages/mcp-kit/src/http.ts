import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { ConfigError } from './config.ts';
import { isLoopback } from './host-port.ts';
import type { Logger } from './logger.ts';

export interface HttpServeOptions {
  host: string;
  port: number;
  /** Required whenever `host` is not a loopback address. */
  token?: string | undefined;
  /** Extra `Host` header values to accept (e.g. a reverse proxy's name), `host:port`. */
  allowedHosts?: readonly string[];
  /** Extra browser origins to accept, e.g. `https://ops.example.com`. */
  allowedOrigins?: readonly string[];
  createServer: () => McpServer;
  logger: Logger;
  name: string;
  version: string;
  maxBodyBytes?: number;
  maxSessions?: number;
}

export interface HttpServerHandle {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves MCP over Streamable HTTP at `/mcp`, one McpServer per session, with a bearer token
 * (constant-time compared), Host and Origin checks against DNS rebinding, a body size limit,
 * and `/health` for probes.
 */
export async function serveHttp(options: HttpServeOptions): Promise<HttpServerHandle> {
  const { host, logger } = options;
  if (!isLoopback(host) && !options.token) {
    throw new ConfigError([
      `--http binds ${host}, which is not a loopback address: set NIGHTSHIFT_MCP_HTTP_TOKEN to a long random token (clients send it as "Authorization: Bearer <token>")`,
    ]);
  }
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const maxSessions = options.maxSessions ?? 64;
  const expectedAuth = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();

  const server = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('http request failed', { error: error instanceof Error ? error.message : String(error) });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const allowedHosts = new Set([
    `${hostPart}:${port}`,
    ...(isLoopback(host) ? [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`] : []),
    ...(options.allowedHosts ?? []),
  ]);
  const allowedOrigins = new Set([
    ...[...allowedHosts].map((h) => `http://${h}`),
    ...(options.allowedOrigins ?? []),
  ]);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://placeholder').pathname;
    if (path === '/health' && req.method === 'GET') {
      return sendJson(res, 200, { status: 'ok', name: options.name, version: options.version });
    }
    if (path !== '/mcp') return sendJson(res, 404, { error: 'not found; the MCP endpoint is /mcp' });

    if (!allowedHosts.has(req.headers.host ?? '')) {
      return sendJson(res, 403, { error: 'Host header not allowed' });
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      return sendJson(res, 403, { error: 'Origin not allowed' });
    }
    if (expectedAuth) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expectedAuth.length || !timingSafeEqual(given, expectedAuth)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return sendJson(res, 401, { error: 'missing or wrong bearer token' });
      }
    }

    const sessionId = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      const body = await readJsonBody(req, maxBodyBytes);
      if (!body.ok) return sendJson(res, body.status, jsonRpcError(body.message));
      if (typeof sessionId === 'string') {
        const session = sessions.get(sessionId);
        if (!session) return sendJson(res, 404, jsonRpcError('unknown or expired session; initialize again'));
        return session.transport.handleRequest(req, res, body.value);
      }
      if (!isInitializeRequest(body.value)) {
        return sendJson(res, 400, jsonRpcError('no session: the first request must be initialize'));
      }
      if (sessions.size >= maxSessions) evictOldest();
      const mcp = options.createServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server: mcp });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await mcp.connect(transport);
      return transport.handleRequest(req, res, body.value);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (!session) return sendJson(res, 404, jsonRpcError('unknown or missing session'));
      return session.transport.handleRequest(req, res);
    }
    res.setHeader('Allow', 'GET, POST, DELETE');
    return sendJson(res, 405, jsonRpcError('method not allowed'));
  }

  function evictOldest(): void {
    const oldest = sessions.keys().next();
    if (oldest.done) return;
    const session = sessions.get(oldest.value);
    sessions.delete(oldest.value);
    void session?.transport.close();
  }

  return {
    url: `http://${hostPart}:${port}/mcp`,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      sessions.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; message: string };

async function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return { ok: false, status: 413, message: `body over ${limit} bytes` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return { ok: false, status: 413, message: `body over ${limit} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (error) {
    return { ok: false, status: 400, message: `malformed JSON: ${(error as Error).message}` };
  }
}

function jsonRpcError(message: string) {
  return { jsonrpc: '2.0', error: { code: -32000, message }, id: null };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
