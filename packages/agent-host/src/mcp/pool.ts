import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { HttpServerConfig, ServerConfig, StdioServerConfig } from '../config.ts';
import type { WireAnnotations } from '../core/policy.ts';

/**
 * The MCP client pool: one SDK client per configured server, stdio or Streamable HTTP. It
 * keeps tool names unique across servers, restarts a server whose connection dropped (with
 * backoff; calls in flight fail with a clear error), and follows tools/list_changed.
 * Server env and headers go to the transport only: nothing here puts them in a tool's text.
 */

export interface PoolTool {
  server: string;
  /** The tool's name on its server. */
  name: string;
  /** Unique across the pool: the plain name, or `<server>_<name>` when two servers share it. */
  exposedName: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: WireAnnotations | undefined;
}

export interface CallResult {
  text: string;
  isError: boolean;
  structured?: unknown;
}

export type ServerState = 'starting' | 'up' | 'down' | 'stopped';

export interface ServerStatus {
  name: string;
  state: ServerState;
  transport: 'stdio' | 'http';
  tools: number;
  restarts: number;
  lastError?: string;
  serverInfo?: { name: string; version: string };
}

export interface PoolOptions {
  log?: (line: string) => void;
  /** How long to wait for a server's initialize + tools/list. */
  startTimeoutMs?: number;
  /** First restart delay; doubles per failed attempt up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Called after any server's tool list changed (start, restart, list_changed). */
  onToolsChanged?: () => void;
}

const maxResultChars = 32_000;

class ServerHandle {
  readonly name: string;
  readonly config: ServerConfig;
  state: ServerState = 'starting';
  tools: Array<Omit<PoolTool, 'exposedName'>> = [];
  restarts = 0;
  lastError: string | undefined;
  serverInfo: { name: string; version: string } | undefined;
  stderrTail = '';
  private client: Client | undefined;
  private ready: Promise<void> | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly options: Required<Omit<PoolOptions, 'onToolsChanged'>> &
    Pick<PoolOptions, 'onToolsChanged'>;

  constructor(name: string, config: ServerConfig, options: ServerHandle['options']) {
    this.name = name;
    this.config = config;
    this.options = options;
  }

  get transportKind(): 'stdio' | 'http' {
    return 'command' in this.config ? 'stdio' : 'http';
  }

  start(): Promise<void> {
    this.state = 'starting';
    this.ready = this.connect().then(
      () => {
        this.failures = 0;
        this.state = 'up';
        this.lastError = undefined;
        this.options.onToolsChanged?.();
      },
      (error: unknown) => {
        const stderr = this.stderrTail ? ` (stderr: ${lastLine(this.stderrTail)})` : '';
        this.lastError = `${(error as Error).message}${stderr}`;
        this.options.log(`server ${this.name}: failed to start: ${this.lastError}`);
        this.state = 'down';
        this.scheduleRestart();
      },
    );
    return this.ready;
  }

  private async connect(): Promise<void> {
    const [{ Client }, { ToolListChangedNotificationSchema }] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    const client = new Client({
      name: 'nightshift',
      version: process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.0.0',
    });
    const transport =
      'command' in this.config
        ? await this.stdioTransport(this.config)
        : await this.httpTransport(this.config);
    const timeout = AbortSignal.timeout(this.options.startTimeoutMs);
    await client.connect(transport, { signal: timeout, timeout: this.options.startTimeoutMs });
    this.serverInfo = client.getServerVersion();
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      try {
        await this.listTools(client);
        this.options.onToolsChanged?.();
      } catch (error) {
        this.options.log(
          `server ${this.name}: tools/list after list_changed failed: ${(error as Error).message}`,
        );
      }
    });
    client.onclose = () => {
      if (this.client !== client || this.state === 'stopped') return;
      this.client = undefined;
      this.state = 'down';
      this.lastError = `connection closed${this.stderrTail ? ` (stderr: ${lastLine(this.stderrTail)})` : ''}`;
      this.options.log(`server ${this.name}: ${this.lastError}; restarting`);
      this.scheduleRestart();
    };
    this.client = client;
    await this.listTools(client);
  }

  private async stdioTransport(config: StdioServerConfig) {
    const { StdioClientTransport, getDefaultEnvironment } = await import(
      '@modelcontextprotocol/sdk/client/stdio.js'
    );
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: { ...getDefaultEnvironment(), ...config.env },
      stderr: 'pipe',
      ...(config.cwd ? { cwd: config.cwd } : {}),
    });
    transport.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    return transport;
  }

  private async httpTransport(config: HttpServerConfig) {
    const { StreamableHTTPClientTransport } = await import(
      '@modelcontextprotocol/sdk/client/streamableHttp.js'
    );
    return new StreamableHTTPClientTransport(new URL(config.url), {
      requestInit: { headers: config.headers },
    });
  }

  private async listTools(client: Client): Promise<void> {
    const tools: ServerHandle['tools'] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout: this.options.startTimeoutMs });
      for (const tool of page.tools) {
        tools.push({
          server: this.name,
          name: tool.name,
          description: tool.description ?? tool.title ?? '',
          inputSchema: tool.inputSchema as Record<string, unknown>,
          annotations: tool.annotations as WireAnnotations | undefined,
        });
      }
      cursor = page.nextCursor;
    } while (cursor);
    this.tools = tools;
  }

  private scheduleRestart(): void {
    if (this.state === 'stopped' || this.timer) return;
    const delay = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** this.failures);
    this.failures++;
    this.ready = new Promise<void>((resolve) => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.state === 'stopped') return resolve();
        this.restarts++;
        this.start().then(resolve);
      }, delay);
      this.timer.unref?.();
    });
  }

  /** Waits (bounded) for the server to be up; returns the client or explains why not. */
  async client_(waitMs: number): Promise<Client> {
    if (this.state === 'up' && this.client) return this.client;
    if (this.state !== 'stopped' && this.ready) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.ready,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, waitMs);
        }),
      ]);
      clearTimeout(timer);
      if (this.state === 'up' && this.client) return this.client;
    }
    throw new Error(
      `MCP server "${this.name}" is not available (${this.state}${this.lastError ? `: ${this.lastError}` : ''}); ` +
        'the host keeps restarting it, try again shortly',
    );
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

function toolText(result: { content?: unknown; structuredContent?: unknown; toolResult?: unknown }): string {
  const parts: string[] = [];
  for (const item of (result.content as Array<Record<string, unknown>> | undefined) ?? []) {
    if (item.type === 'text') parts.push(String(item.text));
    else if (item.type === 'image') parts.push(`[image ${String(item.mimeType)}]`);
    else if (item.type === 'resource_link') parts.push(`[resource ${String(item.uri)}]`);
    else if (item.type === 'resource') parts.push('[embedded resource]');
  }
  if (parts.length === 0 && result.structuredContent !== undefined)
    parts.push(JSON.stringify(result.structuredContent));
  if (parts.length === 0 && result.toolResult !== undefined) parts.push(JSON.stringify(result.toolResult));
  const text = parts.join('\n');
  return text.length > maxResultChars
    ? `${text.slice(0, maxResultChars)}\n[output cut at ${maxResultChars} characters]`
    : text;
}

export class McpPool {
  private readonly servers = new Map<string, ServerHandle>();

  private constructor(servers: Record<string, ServerConfig>, options: PoolOptions) {
    const resolved = {
      log: options.log ?? ((line: string) => process.stderr.write(`nightshift: ${line}\n`)),
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      onToolsChanged: options.onToolsChanged,
    };
    for (const [name, config] of Object.entries(servers)) {
      this.servers.set(name, new ServerHandle(name, config, resolved));
    }
  }

  /** Starts every server in parallel; resolves when each is up or has failed its first start. */
  static async start(servers: Record<string, ServerConfig>, options: PoolOptions = {}): Promise<McpPool> {
    const pool = new McpPool(servers, options);
    await Promise.all([...pool.servers.values()].map((server) => server.start()));
    return pool;
  }

  /**
   * Every known tool with a pool-unique name (the last list of a server that is restarting
   * stays). Names are made safe for every provider (`[A-Za-z0-9_-]`, at most 64 characters);
   * a name two servers share gets its server as a prefix.
   */
  tools(): PoolTool[] {
    const safe = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    const all = [...this.servers.values()].flatMap((server) => server.tools);
    const counts = new Map<string, number>();
    for (const tool of all) counts.set(safe(tool.name), (counts.get(safe(tool.name)) ?? 0) + 1);
    return all.map((tool) => ({
      ...tool,
      exposedName:
        (counts.get(safe(tool.name)) ?? 0) > 1 ? safe(`${tool.server}_${tool.name}`) : safe(tool.name),
    }));
  }

  status(): ServerStatus[] {
    return [...this.servers.values()].map((server) => ({
      name: server.name,
      state: server.state,
      transport: server.transportKind,
      tools: server.tools.length,
      restarts: server.restarts,
      ...(server.lastError ? { lastError: server.lastError } : {}),
      ...(server.serverInfo ? { serverInfo: server.serverInfo } : {}),
    }));
  }

  /** The last lines a stdio server wrote to stderr (for `doctor`). */
  stderrOf(server: string): string {
    return this.servers.get(server)?.stderrTail ?? '';
  }

  /**
   * Calls a tool. Expected failures come back as `isError` results; a server that is down, a
   * timeout or a connection that drops mid-call also become `isError` results with a clear
   * message, so the agent loop can hand them to the model and go on.
   */
  async call(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<CallResult> {
    const handle = this.servers.get(server);
    if (!handle) return { text: `no MCP server named "${server}" is configured`, isError: true };
    let client: Client;
    try {
      client = await handle.client_(Math.min(options.timeoutMs, 15_000));
    } catch (error) {
      return { text: (error as Error).message, isError: true };
    }
    try {
      const result = await client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return {
        text: toolText(result),
        isError: result.isError === true,
        ...(result.structuredContent !== undefined ? { structured: result.structuredContent } : {}),
      };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const message = (error as Error).message;
      if (/connection closed/i.test(message) || handle.state !== 'up') {
        return {
          text:
            `MCP server "${server}" stopped while ${tool} was running (${message}); it is being restarted. ` +
            'Whether the call took effect is unknown: check before retrying.',
          isError: true,
        };
      }
      if (/timed out|timeout/i.test(message)) {
        return { text: `${tool} timed out after ${Math.round(options.timeoutMs / 1000)} s`, isError: true };
      }
      return { text: `${tool} failed: ${message}`, isError: true };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((server) => server.stop()));
  }
}
