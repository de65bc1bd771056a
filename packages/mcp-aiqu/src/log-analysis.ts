/**
 * Reading training logs the way a person on call does: find the traceback, the CUDA OOM, the
 * NCCL failure, with line numbers, so the model sees the cause rather than 10k lines of progress.
 */

export type LogErrorKind =
  | 'traceback'
  | 'cuda_oom'
  | 'oom_killed'
  | 'nccl'
  | 'cuda_error'
  | 'crash'
  | 'nan'
  | 'error';

export interface LogError {
  kind: LogErrorKind;
  /** 1-based line number of the first line of the finding. */
  line: number;
  /** The finding's text (a whole traceback for `traceback`), capped. */
  text: string;
}

const cudaOom =
  /CUDA out of memory|torch\.(cuda\.)?OutOfMemoryError|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|CUDA error: out of memory|RESOURCE_EXHAUSTED: Out of memory|failed to allocate .* on device/i;
const ncclError =
  /NCCL (WARN|ERROR)|nccl(System|Internal|Unhandled(Cuda)?|Invalid(Argument|Usage)|Remote)Error|NCCL error|ProcessGroupNCCL.*(timeout|Timeout|error)|NCCL communicator was aborted/;
const cudaError =
  /CUDA error:|device-side assert|CUDNN_STATUS_|cuDNN error|CUBLAS_STATUS_|an illegal memory access/;
const crash = /^Killed$|Segmentation fault|core dumped|Bus error|Fatal Python error|Aborted \(core/;
const oomKilled = /Out of memory: Kill(ed)? process|oom-kill|OOMKilled/i;
const nan = /\b(loss|gradient)s? (is|are|became|=) ?nan\b|NaN or Inf found|non-finite loss/i;
const genericError =
  /^(\S+Error|\S+Exception)(: |$)|\b(ERROR|FATAL|CRITICAL)\b|^error: |^Error: |RuntimeError|AssertionError/;

const maxFindingChars = 4000;

/**
 * Finds typical failures in `lines` (numbered from `firstLineNumber`). A traceback is one finding
 * from "Traceback (most recent call last):" to its exception line; lines inside it are not
 * reported again on their own.
 */
export function extractErrors(lines: readonly string[], firstLineNumber = 1, max = 50): LogError[] {
  const found: LogError[] = [];
  for (let i = 0; i < lines.length && found.length < max; i++) {
    const line = lines[i] ?? '';
    if (line.includes('Traceback (most recent call last):')) {
      const end = tracebackEnd(lines, i);
      const block = lines.slice(i, end + 1).join('\n');
      const last = lines[end] ?? '';
      found.push({ kind: 'traceback', line: firstLineNumber + i, text: cap(block) });
      // The exception line of a traceback can itself be a CUDA OOM; say so as well.
      const kind = classify(last);
      if (kind && kind !== 'error') found.push({ kind, line: firstLineNumber + end, text: cap(last) });
      i = end;
      continue;
    }
    const kind = classify(line);
    if (kind) found.push({ kind, line: firstLineNumber + i, text: cap(line) });
  }
  return found;
}

/** The most specific kind a single line shows, or undefined. */
export function classify(line: string): LogErrorKind | undefined {
  if (cudaOom.test(line)) return 'cuda_oom';
  if (oomKilled.test(line)) return 'oom_killed';
  if (ncclError.test(line)) return 'nccl';
  if (cudaError.test(line)) return 'cuda_error';
  if (crash.test(line)) return 'crash';
  if (nan.test(line)) return 'nan';
  if (genericError.test(line)) return 'error';
  return undefined;
}

/** True when the log shows a GPU out-of-memory failure. */
export function hasCudaOom(lines: readonly string[]): boolean {
  return lines.some((line) => cudaOom.test(line));
}

/** The last line that looks like the error, for a one-line reason detail. */
export function lastErrorLine(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (classify(line)) return cap(line.trim(), 300);
  }
  return undefined;
}

const mlflowRunPatterns = [
  /mlflow[ _-]?run[ _-]?id["']?\s*[:=]\s*["']?([0-9a-f]{32})\b/i,
  /\/#?\/?experiments\/\d+\/runs\/([0-9a-f]{32})\b/,
  /\bruns\/([0-9a-f]{32})\b/,
];

/** The MLflow run id a job printed (e.g. `mlflow_run_id=…` or a run URL), if any. */
export function findMlflowRunId(text: string): string | undefined {
  for (const pattern of mlflowRunPatterns) {
    const match = pattern.exec(text);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

/** Filters numbered lines with a case-insensitive pattern; a bad regex is matched literally. */
export function grepLines(
  lines: readonly string[],
  pattern: string,
  firstLineNumber = 1,
): Array<{ n: number; text: string }> {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'i');
  } catch {
    regex = new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  }
  const out: Array<{ n: number; text: string }> = [];
  lines.forEach((text, i) => {
    if (regex.test(text)) out.push({ n: firstLineNumber + i, text });
  });
  return out;
}

function tracebackEnd(lines: readonly string[], start: number): number {
  // Frames are indented; the exception line is the first non-indented, non-empty line after them.
  // A chained exception ("During handling…", "The above exception…") continues the same finding.
  const limit = Math.min(lines.length, start + 400);
  for (let j = start + 1; j < limit; j++) {
    const line = lines[j] ?? '';
    if (line.trim() === '' || /^\s/.test(line)) continue;
    if (chainMarker.test(line) || line.startsWith('Traceback (most recent call last):')) continue;
    let k = j + 1;
    while (k < limit && (lines[k] ?? '').trim() === '') k++;
    if (k < limit && chainMarker.test(lines[k] ?? '')) {
      j = k;
      continue;
    }
    return j;
  }
  return limit - 1;
}

const chainMarker = /^(During handling of the above exception|The above exception was the direct cause)/;

function cap(text: string, max = maxFindingChars): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
