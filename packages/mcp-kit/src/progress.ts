import type { ProgressUpdate } from './define-tool.ts';

type Notify = (notification: {
  method: 'notifications/progress';
  params: { progressToken: string | number; progress: number; total?: number; message?: string };
}) => Promise<void>;

/**
 * A progress reporter bound to one request. It sends nothing when the client gave no
 * progress token, never lets progress go backwards, and throttles to one notification per
 * `intervalMs` except for the final one (progress === total), so long scans cannot flood.
 */
export function createProgressReporter(
  progressToken: string | number | undefined,
  notify: Notify,
  intervalMs = 100,
): (update: ProgressUpdate) => Promise<void> {
  let last = Number.NEGATIVE_INFINITY;
  let lastSentAt = 0;
  return async (update) => {
    if (progressToken === undefined || update.progress < last) return;
    const final = update.total !== undefined && update.progress >= update.total;
    const now = Date.now();
    if (!final && now - lastSentAt < intervalMs) return;
    last = update.progress;
    lastSentAt = now;
    try {
      await notify({ method: 'notifications/progress', params: { progressToken, ...update } });
    } catch {
      // A client that went away cannot receive progress; the tool's own result will fail too.
    }
  };
}
