/** Unified diffs for tool results, bounded in input size and in time. */

const maxDiffInputBytes = 1024 * 1024;

export function isBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8000);
  return head.includes(0);
}

export interface FilePatch {
  patch: string;
  additions: number;
  deletions: number;
}

/**
 * A git-style unified diff of one file. `oldText`/`newText` undefined mean the file is
 * added/deleted; binary or oversized content gets a one-line note instead of hunks.
 */
export async function filePatch(
  path: string,
  oldBytes: Uint8Array | undefined,
  newBytes: Uint8Array | undefined,
  context: number,
): Promise<FilePatch> {
  const header = `diff --git a/${path} b/${path}\n`;
  if ((oldBytes && isBinary(oldBytes)) || (newBytes && isBinary(newBytes))) {
    return { patch: `${header}Binary files differ\n`, additions: 0, deletions: 0 };
  }
  if ((oldBytes?.length ?? 0) > maxDiffInputBytes || (newBytes?.length ?? 0) > maxDiffInputBytes) {
    return {
      patch: `${header}(file larger than ${maxDiffInputBytes} bytes; diff not computed)\n`,
      additions: 0,
      deletions: 0,
    };
  }
  const oldText = oldBytes ? Buffer.from(oldBytes).toString('utf8') : '';
  const newText = newBytes ? Buffer.from(newBytes).toString('utf8') : '';
  return textPatch(path, oldBytes ? oldText : undefined, newBytes ? newText : undefined, context);
}

export async function textPatch(
  path: string,
  oldText: string | undefined,
  newText: string | undefined,
  context = 3,
): Promise<FilePatch> {
  // The diff library is only needed by diff-producing tools; it loads on first use.
  const { createTwoFilesPatch } = await import('diff');
  const body = createTwoFilesPatch(
    oldText === undefined ? '/dev/null' : `a/${path}`,
    newText === undefined ? '/dev/null' : `b/${path}`,
    oldText ?? '',
    newText ?? '',
    undefined,
    undefined,
    { context, timeout: 5000 },
  );
  const header = `diff --git a/${path} b/${path}\n`;
  if (body === undefined) {
    return {
      patch: `${header}(diff too expensive to compute; compare the files directly)\n`,
      additions: 0,
      deletions: 0,
    };
  }
  const lines = body.split('\n').filter((l) => !l.startsWith('====='));
  let additions = 0;
  let deletions = 0;
  for (const line of lines) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('+')) additions++;
    else if (line.startsWith('-')) deletions++;
  }
  return { patch: header + lines.join('\n').replace(/\n+$/, '\n'), additions, deletions };
}
