import type { NightshiftConfig } from '../config.ts';
import type { Host } from './types.ts';

/** Options the CLI, the service layer and tests pass to `createHost`. */
export interface CreateHostOptions {
  /** Replaces the configured model (tests, demos). */
  model?: import('../models/types.ts').ModelAdapter;
  /** Where diagnostics go (never model text); default stderr. */
  log?: (line: string) => void;
  /** Clock, for proposal expiry in tests. */
  now?: () => Date;
  /** Restart backoff and start timeout for the MCP servers (tests shorten them). */
  poolOptions?: import('../mcp/pool.ts').PoolOptions;
}

/**
 * Builds a host: opens the store in `config.dataDir`, starts every MCP server, classifies the
 * tools. Resolves once every server was tried (a server that fails to start is logged and
 * retried with backoff; its tools appear when it is up).
 */
export async function createHost(config: NightshiftConfig, options: CreateHostOptions = {}): Promise<Host> {
  const { startHost } = await import('./host-impl.ts');
  return startHost(config, options);
}
