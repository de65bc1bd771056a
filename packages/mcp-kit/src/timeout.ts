import { ToolError } from './errors.ts';

/** An AbortSignal that fires after `ms`, or earlier when `parent` aborts. */
export function timeoutSignal(ms: number, parent?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return parent ? AbortSignal.any([timeout, parent]) : timeout;
}

/**
 * Runs `work` with a deadline. On expiry the signal aborts and the call fails with a
 * `timeout` ToolError that names what timed out, so a hung backend never hangs a tool.
 */
export async function withTimeout<T>(
  what: string,
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  const signal = timeoutSignal(ms, parent);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ToolError('timeout', `${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work(signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
