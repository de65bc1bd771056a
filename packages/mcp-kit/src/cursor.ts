import { ToolError } from './errors.ts';

/**
 * The cursor convention every Nightshift server shares: an opaque string the client passes
 * back unchanged. Inside it is versioned JSON, so a server can put an offset, a backend page
 * token or a snapshot id there without the client caring.
 */
const prefix = 'c1.';

export function encodeCursor(state: Record<string, unknown>): string {
  return prefix + Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown> = Record<string, unknown>>(cursor: string): T {
  const invalid = () =>
    new ToolError(
      'invalid_input',
      'The cursor is not one this server issued; repeat the call without a cursor.',
    );
  if (!cursor.startsWith(prefix)) throw invalid();
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor.slice(prefix.length), 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid();
    return value as T;
  } catch {
    throw invalid();
  }
}

export interface Page<T> {
  items: T[];
  /** Items before truncation (all matching items, not just this page). */
  total: number;
  /** Pass back to get the next page; absent on the last page. */
  nextCursor?: string;
}

export interface PageOptions {
  cursor?: string | undefined;
  limit: number;
  /** Stops adding items once their JSON reaches this many bytes (at least one item is returned). */
  maxBytes?: number;
}

/** Pages an in-memory list by offset, bounded by count and by serialized size. */
export function paginate<T>(all: readonly T[], options: PageOptions): Page<T> {
  const offset = options.cursor ? offsetFrom(options.cursor) : 0;
  const items: T[] = [];
  let bytes = 0;
  for (let i = offset; i < all.length && items.length < options.limit; i++) {
    const item = all[i] as T;
    const size = Buffer.byteLength(JSON.stringify(item) ?? '');
    if (options.maxBytes !== undefined && items.length > 0 && bytes + size > options.maxBytes) break;
    bytes += size;
    items.push(item);
  }
  const next = offset + items.length;
  return next < all.length
    ? { items, total: all.length, nextCursor: encodeCursor({ offset: next }) }
    : { items, total: all.length };
}

function offsetFrom(cursor: string): number {
  const { offset } = decodeCursor<{ offset?: unknown }>(cursor);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new ToolError(
      'invalid_input',
      'The cursor is not one this server issued; repeat the call without a cursor.',
    );
  }
  return offset;
}
