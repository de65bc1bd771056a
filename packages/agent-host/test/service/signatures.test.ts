import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  signMlflowWebhook,
  signSlackRequest,
  signStandardWebhook,
  verifyMlflowWebhook,
  verifySlackRequest,
  verifyStandardWebhook,
} from '../../src/service/signatures.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const other = `whsec_${randomBytes(24).toString('base64')}`;
const body = Buffer.from(JSON.stringify({ type: 'job.epoch', job: { id: 'j-1' } }));
const now = Math.floor(Date.now() / 1000);

function headers(id: string, timestamp: number, signature: string) {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
}

describe('Standard Webhooks', () => {
  it('accepts what the reference library signs, and the library accepts what we sign', () => {
    const reference = new Webhook(secret);
    const theirs = reference.sign('msg_1', new Date(now * 1000), body.toString());
    expect(
      verifyStandardWebhook({ headers: headers('msg_1', now, theirs), body, secrets: [secret] }),
    ).toEqual({
      ok: true,
      id: 'msg_1',
      timestamp: now,
    });
    const ours = signStandardWebhook(secret, 'msg_2', now, body);
    expect(ours).toBe(reference.sign('msg_2', new Date(now * 1000), body.toString()));
    expect(() => reference.verify(body.toString(), headers('msg_2', now, ours))).not.toThrow();
  });

  it('accepts any of several secrets (rotation) and any listed signature', () => {
    const signature = signStandardWebhook(other, 'msg_3', now, body);
    expect(
      verifyStandardWebhook({ headers: headers('msg_3', now, signature), body, secrets: [secret] }).ok,
    ).toBe(false);
    expect(
      verifyStandardWebhook({ headers: headers('msg_3', now, signature), body, secrets: [secret, other] }).ok,
    ).toBe(true);
    const both = `v1,${Buffer.alloc(32).toString('base64')} ${signature}`;
    expect(verifyStandardWebhook({ headers: headers('msg_3', now, both), body, secrets: [other] }).ok).toBe(
      true,
    );
  });

  it('refuses a changed body, a changed id, a missing header and a stale or future timestamp', () => {
    const signature = signStandardWebhook(secret, 'msg_4', now, body);
    const verify = (h: Record<string, string>, b = body, nowSeconds = now) =>
      verifyStandardWebhook({ headers: h, body: b, secrets: [secret], nowSeconds });
    expect(verify(headers('msg_4', now, signature), Buffer.from(`${body} `))).toMatchObject({
      ok: false,
      reason: 'no signature matches',
    });
    expect(verify(headers('msg_5', now, signature)).ok).toBe(false);
    expect(verify({ 'webhook-id': 'msg_4', 'webhook-timestamp': String(now) })).toMatchObject({
      reason: 'missing webhook-signature',
    });
    expect(verify(headers('msg_4', now, signature), body, now + 301)).toMatchObject({
      reason: 'timestamp outside the tolerance window',
    });
    expect(verify(headers('msg_4', now, signature), body, now - 301).ok).toBe(false);
    expect(verify(headers('msg_4', now, signature), body, now + 299).ok).toBe(true);
    expect(verify(headers('msg_4', now, 'v2,abc')).ok).toBe(false);
  });
});

describe('MLflow webhooks', () => {
  it('verifies HMAC-SHA256 over "<delivery id>.<timestamp>.<payload>" keyed by the secret text', () => {
    const raw = JSON.stringify({ entity: 'model_version', action: 'created', data: { name: 'm' } });
    // Computed independently, the way MLflow's delivery code does it.
    const expected = `v1,${createHmac('sha256', 'shh-secret').update(`d-1.${now}.${raw}`).digest('base64')}`;
    expect(signMlflowWebhook('shh-secret', 'd-1', now, raw)).toBe(expected);
    const h = {
      'x-mlflow-delivery-id': 'd-1',
      'x-mlflow-timestamp': String(now),
      'x-mlflow-signature': expected,
    };
    expect(verifyMlflowWebhook({ headers: h, body: Buffer.from(raw), secrets: ['shh-secret'] }).ok).toBe(
      true,
    );
    expect(verifyMlflowWebhook({ headers: h, body: Buffer.from(raw), secrets: ['other'] }).ok).toBe(false);
    expect(
      verifyMlflowWebhook({
        headers: h,
        body: Buffer.from(raw),
        secrets: ['shh-secret'],
        nowSeconds: now + 400,
      }).ok,
    ).toBe(false);
  });
});

describe('Slack request signing', () => {
  it('verifies v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>"> within five minutes', () => {
    const raw = 'token=x&payload=%7B%7D';
    const expected = `v0=${createHmac('sha256', 'slack-secret').update(`v0:${now}:${raw}`).digest('hex')}`;
    expect(signSlackRequest('slack-secret', now, raw)).toBe(expected);
    const h = { 'x-slack-signature': expected, 'x-slack-request-timestamp': String(now) };
    expect(verifySlackRequest({ headers: h, body: Buffer.from(raw), secrets: ['slack-secret'] }).ok).toBe(
      true,
    );
    expect(
      verifySlackRequest({ headers: h, body: Buffer.from(`${raw}x`), secrets: ['slack-secret'] }).ok,
    ).toBe(false);
    expect(
      verifySlackRequest({
        headers: h,
        body: Buffer.from(raw),
        secrets: ['slack-secret'],
        nowSeconds: now + 301,
      }).ok,
    ).toBe(false);
    expect(verifySlackRequest({ headers: {}, body: Buffer.from(raw), secrets: ['slack-secret'] }).ok).toBe(
      false,
    );
  });
});
