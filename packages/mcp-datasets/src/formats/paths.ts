import { posix } from 'node:path';
import { imageExtensions } from '../image-header.ts';

export function extensionOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') ? path.slice(dot).toLowerCase() : '';
}

export function isImagePath(path: string): boolean {
  return imageExtensions.has(extensionOf(path));
}

/**
 * Resolves `target` (relative to folder `from`, both relative to the version folder) and
 * refuses anything that leaves the version folder.
 */
export function resolveInside(from: string, target: string): string | undefined {
  if (posix.isAbsolute(target)) return undefined;
  const joined = posix.normalize(posix.join(from || '.', target));
  if (joined === '..' || joined.startsWith('../')) return undefined;
  return joined === '.' ? '' : joined.replace(/\/$/, '');
}

export function under(dir: string, path: string): boolean {
  return dir === '' || path.startsWith(`${dir}/`);
}

export function dirOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}
