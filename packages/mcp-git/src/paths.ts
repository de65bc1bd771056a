import { posix } from 'node:path';
import { ToolError } from '@nightshift/mcp-kit';

/**
 * Normalizes a path a caller gave into a repository-relative POSIX path, refusing anything
 * that could name a file outside the repository: absolute paths, drive letters, `..`
 * segments, backslashes and NUL bytes. Symlinks are checked where trees are walked
 * (see `resolveInTree` in git.ts), because only the tree knows which entries are links.
 */
export function repoPath(input: string, what = 'path'): string {
  const refuse = (why: string) =>
    new ToolError(
      'invalid_input',
      `${what} "${input}" is refused: ${why}. Give a path relative to the repository root, e.g. "configs/train.yaml".`,
    );
  if (input.includes('\0')) throw refuse('it contains a NUL byte');
  if (input.includes('\\')) throw refuse('use "/" as the separator');
  if (input.startsWith('/') || /^[A-Za-z]:/.test(input)) throw refuse('absolute paths are not allowed');
  const segments = input.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw refuse('".." is not allowed');
  if (segments.length === 0) throw refuse('it names the repository root, not a file');
  if (segments[0] === '.git') throw refuse('the .git directory is not part of the tree');
  return segments.join('/');
}

/** The same checks for an optional directory prefix, where the root ("" or ".") is allowed. */
export function repoDir(input: string | undefined): string {
  if (input === undefined || input === '' || input === '.' || input === './') return '';
  return repoPath(input, 'directory');
}

/**
 * Resolves a symlink's target relative to the link's directory; undefined when the target
 * would leave the repository (absolute or climbing above the root).
 */
export function symlinkTarget(linkPath: string, target: string): string | undefined {
  if (target.startsWith('/') || target.includes('\0')) return undefined;
  const joined = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (joined === '..' || joined.startsWith('../') || joined === '.' || joined.startsWith('/'))
    return undefined;
  return joined;
}
