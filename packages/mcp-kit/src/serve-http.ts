import type { HttpServeOptions, HttpServerHandle } from './http.ts';

export type { HttpServeOptions, HttpServerHandle };

/**
 * Serves MCP over Streamable HTTP (see `http.ts`). Loaded on demand: the HTTP transport and
 * its dependencies stay off the start-up path of a stdio server.
 */
export async function serveHttp(options: HttpServeOptions): Promise<HttpServerHandle> {
  const http = await import('./http.ts');
  return http.serveHttp(options);
}
