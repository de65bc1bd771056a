import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkJobEnvelope, checkMlflowEnvelope, type EnvelopeResult } from './envelope.ts';
import type { EventWriter } from './event-store.ts';
import { BodyTooLarge, readBody, sendJson } from './http.ts';
import { laneKey, type Router } from './routing.ts';
import {
  type Verdict,
  type VerifyOptions,
  verifyMlflowWebhook,
  verifyStandardWebhook,
} from './signatures.ts';

/**
 * The event intake: `POST /v1/events` (Standard Webhooks, from training jobs) and
 * `POST /v1/mlflow-events` (MLflow registry webhooks). It verifies, checks the minimal envelope,
 * stores the event durably, and only then answers 202. It makes no decision about the event.
 *
 * Answers: 413 over the size limit; 401 on a missing or bad signature (nothing stored); 400 on
 * malformed JSON or a missing envelope field, with the reason; 202 `{id}` when stored; 200
 * `{id, duplicate: true}` when that id was stored before (accepted once, never twice).
 */

export interface IntakeSource {
  source: 'job' | 'mlflow';
  secrets: readonly string[];
  verify: (options: VerifyOptions) => Verdict;
  check: (body: unknown) => EnvelopeResult;
}

export interface IntakeOptions {
  writer: EventWriter;
  router: Router;
  maxBodyBytes: number;
  toleranceSeconds?: number;
  log?: (line: string) => void;
}

export function jobSource(secrets: readonly string[]): IntakeSource {
  return { source: 'job', secrets, verify: verifyStandardWebhook, check: checkJobEnvelope };
}

export function mlflowSource(secrets: readonly string[]): IntakeSource {
  return { source: 'mlflow', secrets, verify: verifyMlflowWebhook, check: checkMlflowEnvelope };
}

/** Handles one intake request for a source. */
export async function handleIntake(
  req: IncomingMessage,
  res: ServerResponse,
  source: IntakeSource,
  options: IntakeOptions,
): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, options.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      sendJson(res, 413, { error: 'payload_too_large', reason: error.message }, { connection: 'close' });
      return;
    }
    throw error;
  }
  if (source.secrets.length === 0) {
    sendJson(res, 401, { error: 'unauthorized', reason: 'no secret is configured for this intake' });
    return;
  }
  const verdict = source.verify({
    headers: req.headers,
    body,
    secrets: source.secrets,
    ...(options.toleranceSeconds !== undefined ? { toleranceSeconds: options.toleranceSeconds } : {}),
  });
  if (!verdict.ok) {
    // The reason names which check failed, never a secret or the expected signature.
    sendJson(res, 401, { error: 'unauthorized', reason: verdict.reason });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    sendJson(res, 400, { error: 'malformed_json', reason: (error as Error).message });
    return;
  }
  const checked = source.check(parsed);
  if (!checked.ok) {
    sendJson(res, 400, { error: 'invalid_envelope', reason: checked.reason });
    return;
  }
  const { envelope } = checked;
  const id = `${source.source}:${verdict.id}`;
  const route = laneKey(
    options.router.target({ runKey: envelope.runKey, type: envelope.type, source: source.source }),
  );
  const fresh = await options.writer.write({
    id,
    source: source.source,
    type: envelope.type,
    runKey: envelope.runKey,
    failure: envelope.failure,
    occurredAt: envelope.occurredAt,
    payload: body.toString('utf8'),
    route,
  });
  if (fresh) sendJson(res, 202, { id });
  else sendJson(res, 200, { id, duplicate: true });
}
