import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolOutput } from './define-tool.ts';

/** Default cap for the text rendering of one result. */
export const defaultMaxTextBytes = 16 * 1024;

/**
 * Turns a handler's output into a CallToolResult: `structuredContent` for programs and a
 * bounded text rendering for people and models that read text. When the text is cut, the
 * note says so and names the cursor to continue with, if the result has one.
 */
export function toCallToolResult(
  output: ToolOutput<unknown>,
  maxTextBytes = defaultMaxTextBytes,
): CallToolResult {
  const structured = output.structured as Record<string, unknown>;
  const text = capText(output.text ?? renderCompact(structured), maxTextBytes, cursorOf(structured));
  const content: CallToolResult['content'] = [{ type: 'text', text }];
  for (const image of output.images ?? [])
    content.push({ type: 'image', data: image.data, mimeType: image.mimeType });
  return { content, structuredContent: structured };
}

export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes (on a character boundary) and says so. */
export function capText(text: string, maxBytes: number, cursor?: string): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const note = cursor
    ? `\n… truncated at ${maxBytes} bytes; continue with cursor "${cursor}" or narrow the request.`
    : `\n… truncated at ${maxBytes} bytes; narrow the request (filters, limit, line range) to see the rest.`;
  const budget = Math.max(0, maxBytes - Buffer.byteLength(note));
  let cut = Buffer.from(text).subarray(0, budget).toString('utf8');
  // A multi-byte character split at the boundary decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + note;
}

/** A compact, line-oriented rendering of structured content for when a tool gives no text. */
export function renderCompact(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\n\s*/g, ' ').replace(/\[ /g, '[').replace(/ \]/g, ']');
}

function cursorOf(structured: Record<string, unknown> | undefined): string | undefined {
  const cursor = structured?.nextCursor;
  return typeof cursor === 'string' ? cursor : undefined;
}
