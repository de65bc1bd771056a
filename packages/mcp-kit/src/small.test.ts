import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBoolean, loadEnvConfig } from './config.ts';
import { decodeCursor, encodeCursor, paginate } from './cursor.ts';
import { ToolError } from './errors.ts';
import { createLogger, redact } from './logger.ts';
import { capText, toCallToolResult } from './results.ts';
import { withTimeout } from './timeout.ts';

describe('loadEnvConfig', () => {
  const schema = z.object({
    SERVICE_URL: z.url().describe('Where the service listens, e.g. http://127.0.0.1:5000'),
    SERVICE_TIMEOUT_MS: z.coerce.number().int().positive().default(1000).describe('Per-call timeout'),
    SERVICE_INSECURE: envBoolean.optional().describe('Skip TLS verification'),
  });

  it('parses and applies defaults', () => {
    expect(loadEnvConfig(schema, { SERVICE_URL: 'http://x:1', SERVICE_INSECURE: 'yes' })).toEqual({
      SERVICE_URL: 'http://x:1',
      SERVICE_TIMEOUT_MS: 1000,
      SERVICE_INSECURE: true,
    });
  });

  it('lists every problem at once, each with what the variable is for', () => {
    try {
      loadEnvConfig(schema, { SERVICE_TIMEOUT_MS: '-3', SERVICE_INSECURE: 'maybe' });
      expect.unreachable();
    } catch (error) {
      expect(ConfigError.isInstance(error)).toBe(true);
      const { problems, message } = error as ConfigError;
      expect(problems).toHaveLength(3);
      expect(message).toMatch(/SERVICE_URL is not set \(Where the service listens/);
      expect(message).toMatch(/SERVICE_TIMEOUT_MS is invalid/);
      expect(message).toMatch(/SERVICE_INSECURE is invalid: use one of 1, 0/);
    }
  });
});

describe('cursors and pages', () => {
  it('round-trips state and pages by count and bytes', () => {
    expect(decodeCursor(encodeCursor({ offset: 3, token: 'abc' }))).toEqual({ offset: 3, token: 'abc' });
    const items = Array.from({ length: 10 }, (_, i) => ({ i, pad: 'x'.repeat(100) }));
    const page = paginate(items, { limit: 8, maxBytes: 350 });
    expect(page.items.map((x) => x.i)).toEqual([0, 1, 2]);
    expect(page.total).toBe(10);
    const rest = paginate(items, { limit: 100, cursor: page.nextCursor });
    expect(rest.items[0]?.i).toBe(3);
    expect(rest.nextCursor).toBeUndefined();
  });

  it('rejects cursors it did not issue', () => {
    for (const bad of ['garbage', 'c1.!!!', encodeCursor({ offset: -1 })]) {
      expect(() => paginate([1, 2], { limit: 1, cursor: bad })).toThrow(ToolError);
    }
  });
});

describe('results', () => {
  it('caps text on a character boundary and names the cursor to continue with', () => {
    const capped = capText('é'.repeat(1000), 300, 'c1.abc');
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(300);
    expect(capped).toMatch(/truncated at 300 bytes; continue with cursor "c1.abc"/);
    expect(capped).not.toContain('\uFFFD');
  });

  it('renders structured content when no text is given and picks up nextCursor', () => {
    const result = toCallToolResult({ structured: { rows: 'y'.repeat(500), nextCursor: 'c1.zz' } }, 200);
    expect(result.structuredContent).toEqual({ rows: 'y'.repeat(500), nextCursor: 'c1.zz' });
    expect((result.content[0] as { text: string }).text).toMatch(/cursor "c1.zz"/);
  });
});

describe('logger', () => {
  it('writes secrets as [redacted], including ones added later', () => {
    const lines: string[] = [];
    const log = createLogger('t', { write: (l) => lines.push(l), secrets: ['hunter22'] });
    log.addSecret('tok-123456');
    log.info('auth with hunter22', { header: 'Bearer tok-123456' });
    expect(lines[0]).toContain('[redacted]');
    expect(lines.join('')).not.toMatch(/hunter22|tok-123456/);
    expect(redact('abc', ['ab'])).toBe('abc'); // too short to be a secret worth hiding
  });
});

describe('withTimeout', () => {
  it('fails with a timeout ToolError naming what hung, and aborts the work', async () => {
    let aborted = false;
    const hung = withTimeout('the MLflow server at http://127.0.0.1:1', 50, (signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      return new Promise(() => undefined);
    });
    await expect(hung).rejects.toThrow(/MLflow server at http:\/\/127.0.0.1:1 did not answer within 50 ms/);
    expect(aborted).toBe(true);
  });
});
