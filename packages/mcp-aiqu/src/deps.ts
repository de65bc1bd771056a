import { toolDefiner, withTimeout } from '@nightshift/mcp-kit';
import type { JobService } from './jobs.ts';

/** What every aiqu tool handler gets: the job service over the enabled backends. */
export interface AiquDeps {
  jobs: JobService;
  /** Deadline for one backend call, ms. */
  timeoutMs: number;
}

export const defineAiquTool = toolDefiner<AiquDeps>();

/** Runs one backend call under the configured deadline, so an unreachable cluster fails fast. */
export function backendCall<T>(
  deps: AiquDeps,
  what: string,
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withTimeout(what, deps.timeoutMs, work, signal);
}
