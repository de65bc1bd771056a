import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/**
 * Signature schemes the service accepts. Each verifier is pure (headers, raw body, secrets,
 * clock in; a verdict out), so the HTTP layer decides nothing about cryptography and the tests
 * can cross-check every scheme against its reference implementation.
 *
 * - Standard Webhooks (training jobs): `webhook-id`, `webhook-timestamp`, `webhook-signature:
 *   v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>` (space-separated list), secrets
 *   `whsec_<base64>`.
 * - MLflow registry webhooks: the same construction under `X-MLflow-Delivery-Id`,
 *   `X-MLflow-Timestamp`, `X-MLflow-Signature`, keyed by the secret's UTF-8 bytes.
 * - Slack (Events API, interactivity): `X-Slack-Signature: v0=<hex HMAC-SHA256(secret,
 *   "v0:<timestamp>:<body>")>` with `X-Slack-Request-Timestamp`.
 */

/** Five minutes, as all three schemes recommend: bounds how long a captured request replays. */
export const defaultToleranceSeconds = 300;

export type Headers = Record<string, string | string[] | undefined>;

export type Verdict = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The key bytes of a Standard Webhooks secret (`whsec_` + base64; a bare base64 string works too). */
export function webhookSecretKey(secret: string): Buffer {
  const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = Buffer.from(base64, 'base64');
  if (key.length < 16)
    throw new Error('a webhook secret must be whsec_ followed by at least 16 base64 bytes');
  return key;
}

// Wrapping raw key bytes into a key object on every request is the costliest step of a
// verification; secrets are few and fixed, so each is wrapped once.
const keyObjects = new Map<string, KeyObject>();

function keyObject(scheme: 'whsec' | 'raw', secret: string): KeyObject {
  const cacheKey = `${scheme}\u0000${secret}`;
  let key = keyObjects.get(cacheKey);
  if (!key) {
    key = createSecretKey(scheme === 'whsec' ? webhookSecretKey(secret) : Buffer.from(secret, 'utf8'));
    if (keyObjects.size > 64) keyObjects.clear();
    keyObjects.set(cacheKey, key);
  }
  return key;
}

function hmacBase64(key: KeyObject, content: Buffer): Buffer {
  return createHmac('sha256', key).update(content).digest();
}

function signedContent(id: string, timestamp: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]);
}

function checkTimestamp(raw: string | undefined, nowSeconds: number, tolerance: number): number | string {
  if (!raw || !/^\d{1,12}$/.test(raw)) return 'missing or malformed timestamp';
  const timestamp = Number(raw);
  if (Math.abs(nowSeconds - timestamp) > tolerance) return 'timestamp outside the tolerance window';
  return timestamp;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Signs like a Standard Webhooks sender: returns the `webhook-signature` header value. */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Buffer,
): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const mac = hmacBase64(keyObject('whsec', secret), signedContent(id, String(timestamp), bytes));
  return `v1,${mac.toString('base64')}`;
}

export interface VerifyOptions {
  headers: Headers;
  body: Buffer;
  /** Every secret currently valid (several during a rotation). */
  secrets: readonly string[];
  nowSeconds?: number;
  toleranceSeconds?: number;
}

/** Verifies a Standard Webhooks request; any listed `v1` signature under any secret counts. */
export function verifyStandardWebhook(options: VerifyOptions): Verdict {
  const id = header(options.headers, 'webhook-id');
  const signatures = header(options.headers, 'webhook-signature');
  if (!id || id.length > 256) return { ok: false, reason: 'missing or malformed webhook-id' };
  if (!signatures) return { ok: false, reason: 'missing webhook-signature' };
  const rawTimestamp = header(options.headers, 'webhook-timestamp');
  const timestamp = checkTimestamp(
    rawTimestamp,
    options.nowSeconds ?? Math.floor(Date.now() / 1000),
    options.toleranceSeconds ?? defaultToleranceSeconds,
  );
  if (typeof timestamp === 'string') return { ok: false, reason: timestamp };
  const content = signedContent(id, rawTimestamp as string, options.body);
  const offered = signatures
    .split(' ')
    .map((entry) => entry.split(','))
    .filter((parts) => parts[0] === 'v1' && parts[1])
    .map((parts) => Buffer.from(parts[1] as string, 'base64'));
  for (const secret of options.secrets) {
    const expected = hmacBase64(keyObject('whsec', secret), content);
    if (offered.some((candidate) => sameBytes(candidate, expected))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'no signature matches' };
}

/** Signs like MLflow's webhook delivery (secret used as UTF-8 bytes): the `X-MLflow-Signature` value. */
export function signMlflowWebhook(
  secret: string,
  deliveryId: string,
  timestamp: number,
  body: string,
): string {
  const mac = hmacBase64(
    keyObject('raw', secret),
    signedContent(deliveryId, String(timestamp), Buffer.from(body, 'utf8')),
  );
  return `v1,${mac.toString('base64')}`;
}

/** Verifies an MLflow registry webhook (`X-MLflow-Delivery-Id`, `-Timestamp`, `-Signature`). */
export function verifyMlflowWebhook(options: VerifyOptions): Verdict {
  const id = header(options.headers, 'x-mlflow-delivery-id');
  const signature = header(options.headers, 'x-mlflow-signature');
  if (!id || id.length > 256) return { ok: false, reason: 'missing or malformed X-MLflow-Delivery-Id' };
  if (!signature?.startsWith('v1,')) return { ok: false, reason: 'missing X-MLflow-Signature' };
  const rawTimestamp = header(options.headers, 'x-mlflow-timestamp');
  const timestamp = checkTimestamp(
    rawTimestamp,
    options.nowSeconds ?? Math.floor(Date.now() / 1000),
    options.toleranceSeconds ?? defaultToleranceSeconds,
  );
  if (typeof timestamp === 'string') return { ok: false, reason: timestamp };
  const offered = Buffer.from(signature.slice(3), 'base64');
  const content = signedContent(id, rawTimestamp as string, options.body);
  for (const secret of options.secrets) {
    if (sameBytes(offered, hmacBase64(keyObject('raw', secret), content))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'no signature matches' };
}

/** Signs like Slack: the `X-Slack-Signature` value for a body sent at `timestamp`. */
export function signSlackRequest(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** Verifies a Slack request (Events API or interactivity); `id` is empty (Slack has none here). */
export function verifySlackRequest(options: VerifyOptions): Verdict {
  const signature = header(options.headers, 'x-slack-signature');
  const rawTimestamp = header(options.headers, 'x-slack-request-timestamp');
  if (!signature?.startsWith('v0=')) return { ok: false, reason: 'missing X-Slack-Signature' };
  const timestamp = checkTimestamp(
    rawTimestamp,
    options.nowSeconds ?? Math.floor(Date.now() / 1000),
    options.toleranceSeconds ?? defaultToleranceSeconds,
  );
  if (typeof timestamp === 'string') return { ok: false, reason: timestamp };
  const offered = Buffer.from(signature.slice(3), 'hex');
  const content = Buffer.concat([Buffer.from(`v0:${rawTimestamp}:`, 'utf8'), options.body]);
  for (const secret of options.secrets) {
    if (sameBytes(offered, hmacBase64(keyObject('raw', secret), content)))
      return { ok: true, id: '', timestamp };
  }
  return { ok: false, reason: 'no signature matches' };
}
