import { ConfigError } from './config.ts';

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host) || host.startsWith('127.');
}

/** Parses `host:port`, `[v6]:port` or `:port` (which binds 127.0.0.1). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new ConfigError([`--http ${value}: expected host:port, e.g. 127.0.0.1:8080`]);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}
