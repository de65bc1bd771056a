import type { IncomingMessage } from 'node:http';
import { MlflowError } from './errors.ts';

/** One HTTP exchange as the client needs it; node:http(s) underneath so insecure TLS is possible. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal: AbortSignal;
  insecureTls: boolean;
  /** Stop reading the body after this many bytes and report `truncated`. */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  truncated: boolean;
}

/** Sends one request. Network failures become `unreachable`, aborts become `timeout`. */
export async function sendHttp(request: HttpRequest, endpoint: string, where: string): Promise<HttpResponse> {
  const isHttps = request.url.protocol === 'https:';
  const { request: send } = isHttps ? await import('node:https') : await import('node:http');
  return new Promise<HttpResponse>((resolve, reject) => {
    const onAbort = () => {
      req.destroy();
      reject(
        new MlflowError('timeout', `MLflow at ${where} did not answer ${endpoint} in time`, { endpoint }),
      );
    };
    const req = send(
      request.url,
      {
        method: request.method,
        // A known length, not chunked encoding: MLflow's WSGI bridge drops chunked bodies.
        headers:
          request.body === undefined
            ? request.headers
            : { ...request.headers, 'Content-Length': String(Buffer.byteLength(request.body)) },
        ...(isHttps && request.insecureTls ? { rejectUnauthorized: false } : {}),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          if (request.maxBytes !== undefined && size + chunk.length > request.maxBytes) {
            chunks.push(chunk.subarray(0, request.maxBytes - size));
            size = request.maxBytes;
            truncated = true;
            finish();
            res.destroy();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          request.signal.removeEventListener('abort', onAbort);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
          });
        };
        res.on('end', finish);
        res.on('error', (error) => {
          if (truncated) return;
          request.signal.removeEventListener('abort', onAbort);
          reject(unreachable(endpoint, where, error));
        });
      },
    );
    if (request.signal.aborted) return onAbort();
    request.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      request.signal.removeEventListener('abort', onAbort);
      if (request.signal.aborted) return;
      reject(unreachable(endpoint, where, error));
    });
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

function unreachable(endpoint: string, where: string, error: Error): MlflowError {
  const code = (error as NodeJS.ErrnoException).code;
  return new MlflowError(
    'unreachable',
    `MLflow at ${where} is unreachable (${code ?? error.message}) calling ${endpoint}`,
    { endpoint, cause: error },
  );
}
