import { parseArgs } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { z } from 'zod';
import { ConfigError, describeEnv, loadEnvConfig } from './config.ts';
import type { AnyTool } from './define-tool.ts';
import { parseHostPort } from './host-port.ts';
import { createLogger, type Logger } from './logger.ts';
import { type RegisterOptions, registerTools, selectTools } from './register.ts';

/** Everything a Nightshift MCP server is, as data: `runServer` does the rest. */
export interface ServerProgram<Env extends z.ZodObject<z.ZodRawShape>, Deps> {
  /** The bin name, e.g. `nightshift-mcp-mlflow`. */
  name: string;
  version: string;
  /** One line for `--help`. */
  summary: string;
  /** Sent to clients at initialize: how the tools fit together. */
  instructions?: string;
  env: Env;
  tools: readonly AnyTool<Deps>[];
  /** Builds the dependencies (clients, stores) shared by every session. */
  setup(config: z.output<Env>, logger: Logger): Promise<Deps> | Deps;
  teardown?(deps: Deps): Promise<void> | void;
  /** Secrets from the config that must never be logged. */
  secrets?(config: z.output<Env>): Array<string | undefined>;
}

/** Builds one McpServer with the program's tools registered; tests and transports share it. */
export function createMcpServer<Env extends z.ZodObject<z.ZodRawShape>, Deps>(
  program: ServerProgram<Env, Deps>,
  deps: Deps,
  options: RegisterOptions = {},
): McpServer {
  const server = new McpServer(
    { name: program.name, version: program.version },
    {
      capabilities: { tools: {}, logging: {} },
      ...(program.instructions ? { instructions: program.instructions } : {}),
    },
  );
  registerTools(server, program.tools, deps, options);
  return server;
}

const usage = (
  program: ServerProgram<z.ZodObject<z.ZodRawShape>, unknown>,
) => `${program.name} ${program.version}
${program.summary}

Usage: ${program.name} [--http host:port] [--read-only] [--toolsets a,b] [--list-tools]

  (default)            serve MCP over stdio
  --http host:port     serve Streamable HTTP at http://host:port/mcp (health: /health);
                       a non-loopback host requires NIGHTSHIFT_MCP_HTTP_TOKEN (bearer token)
  --allowed-origin O   also accept browser Origin O over HTTP (repeatable)
  --read-only          expose only read-only tools (also NIGHTSHIFT_MCP_READ_ONLY=1)
  --toolsets a,b       expose only these toolsets (also NIGHTSHIFT_MCP_TOOLSETS); known: ${[
    ...new Set(program.tools.map((t) => t.toolset)),
  ].join(', ')}
  --list-tools         print the tool table (markdown) and exit

Environment:
${describeEnv(program.env)}
  NIGHTSHIFT_MCP_HTTP_TOKEN (optional): bearer token for --http
  NIGHTSHIFT_LOG_LEVEL (optional): debug, info, warn or error (logs go to stderr)
`;

/** A markdown table of tools with their hints, the source of each package README's tool list. */
export function toolTable(tools: readonly AnyTool<unknown>[]): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const rows = tools.map(
    (t) =>
      `| \`${t.name}\` | ${t.toolset} | ${t.title} | ${yes(t.annotations.readOnlyHint)} | ${yes(t.annotations.destructiveHint)} | ${yes(t.annotations.idempotentHint)} |`,
  );
  return [
    '| tool | toolset | what | read-only | destructive | idempotent |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/**
 * The CLI every server shares: parses flags, validates the environment (all problems in one
 * message), builds the dependencies once and serves stdio or Streamable HTTP. Stdout carries
 * only the protocol.
 */
export async function runServer<Env extends z.ZodObject<z.ZodRawShape>, Deps>(
  program: ServerProgram<Env, Deps>,
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const logger = createLogger(program.name);
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : reason,
    });
  });
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception', { error: error.stack ?? error.message });
  });

  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage(program as never)}`);
    process.exit(2);
  }
  if (flags.help) {
    process.stderr.write(usage(program as never));
    return;
  }
  if (flags.version) {
    process.stdout.write(`${program.version}\n`);
    return;
  }
  if (flags.listTools) {
    process.stdout.write(`${toolTable(program.tools as never)}\n`);
    return;
  }

  const registerOptions: RegisterOptions = {
    readOnly: flags.readOnly || ['1', 'true', 'yes'].includes(env.NIGHTSHIFT_MCP_READ_ONLY ?? ''),
    toolsets: flags.toolsets ?? (env.NIGHTSHIFT_MCP_TOOLSETS ? splitList(env.NIGHTSHIFT_MCP_TOOLSETS) : []),
    logger,
  };
  let deps: Deps;
  try {
    selectTools(program.tools, registerOptions);
    const config = loadEnvConfig(program.env, env);
    for (const secret of program.secrets?.(config) ?? []) logger.addSecret(secret);
    logger.addSecret(env.NIGHTSHIFT_MCP_HTTP_TOKEN);
    deps = await program.setup(config, logger);
  } catch (error) {
    const message = ConfigError.isInstance(error)
      ? error.message
      : `start-up failed: ${(error as Error).message}`;
    process.stderr.write(`${program.name}: ${message}\nRun ${program.name} --help for every setting.\n`);
    process.exit(2);
  }

  const shutdown = async (close: () => Promise<void>) => {
    await close().catch(() => undefined);
    await program.teardown?.(deps);
    process.exit(0);
  };

  if (flags.http) {
    const { serveHttp } = await import('./http.ts');
    try {
      const { host, port } = parseHostPort(flags.http);
      const handle = await serveHttp({
        host,
        port,
        token: env.NIGHTSHIFT_MCP_HTTP_TOKEN,
        allowedOrigins: flags.allowedOrigins,
        createServer: () => createMcpServer(program, deps, registerOptions),
        logger,
        name: program.name,
        version: program.version,
      });
      logger.info(`serving MCP over Streamable HTTP at ${handle.url}`);
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => void shutdown(handle.close));
    } catch (error) {
      process.stderr.write(`${program.name}: ${(error as Error).message}\n`);
      process.exit(2);
    }
    return;
  }

  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const server = createMcpServer(program, deps, registerOptions);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  const close = () => server.close();
  process.stdin.once('end', () => void shutdown(close));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(close));
}

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      http: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true },
      'read-only': { type: 'boolean' },
      toolsets: { type: 'string' },
      'list-tools': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    strict: true,
  });
  return {
    http: values.http,
    allowedOrigins: values['allowed-origin'] ?? [],
    readOnly: values['read-only'] ?? false,
    toolsets: values.toolsets ? splitList(values.toolsets) : undefined,
    listTools: values['list-tools'] ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
