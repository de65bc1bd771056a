/**
 * Expected failures: the model (or any MCP client) gets the message as an `isError` result
 * and can act on it. Anything else thrown by a handler is a bug: it is logged with its stack
 * on stderr and reported to the client without internals.
 */
export type ToolErrorCode =
  | 'not_found'
  | 'invalid_input'
  | 'conflict'
  | 'permission_denied'
  | 'unavailable'
  | 'timeout'
  | 'too_large'
  | 'not_configured'
  | 'refused';

const toolErrorMarker = Symbol.for('nightshift.ToolError');

export class ToolError extends Error {
  override readonly name = 'ToolError';
  readonly code: ToolErrorCode;
  readonly [toolErrorMarker] = true;

  constructor(code: ToolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Works across bundles and package copies, unlike `instanceof`. */
  static isInstance(value: unknown): value is ToolError {
    return typeof value === 'object' && value !== null && toolErrorMarker in value;
  }
}

/** Lists what exists so a "not found" answer tells the caller what to try instead. */
export function notFound(what: string, known: readonly string[], hint?: string): ToolError {
  const shown = known.slice(0, 20);
  const more = known.length > shown.length ? ` (and ${known.length - shown.length} more)` : '';
  const list = known.length === 0 ? 'none exist yet' : `known: ${shown.join(', ')}${more}`;
  return new ToolError('not_found', `${what} not found; ${list}.${hint ? ` ${hint}` : ''}`);
}
