/**
 * The minimal envelope the intake checks. Everything beyond it passes to the reasoning core
 * untouched: the intake decides nothing about what an event means, it only needs to know which
 * run it belongs to (ordering), whether it reports a failure (failures go first in a turn) and
 * when it happened.
 *
 * A training job's event (what the reporters send):
 *
 * ```json
 * { "type": "job.epoch", "timestamp": "2026-11-23T09:00:00Z",
 *   "job": { "id": "j-12", "name": "customer-a/weld-defect-v4" },
 *   "data": { "epoch": 15, "epochs": 60, "metrics": { "mAP50": 0.874 } } }
 * ```
 *
 * An MLflow registry webhook: `{ "entity": "model_version", "action": "created", "timestamp",
 * "data": { "name", "version", ... } }`.
 */

export interface Envelope {
  type: string;
  /** Identifies the run: `<job name>#<job id>`, or the job id alone. */
  runKey: string;
  /** ISO timestamp the sender gave. */
  occurredAt: string;
  /** The event reports a failure (sorted first in a turn; never decides anything else). */
  failure: boolean;
}

export type EnvelopeResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isoUtc = /^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d(\.\d{1,9})?Z$/;

const failureType = /(^|[._-])(failed|failure|error|crashed|oom)$/i;

function parseTime(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Seconds or milliseconds since the epoch.
    const ms = value < 1e12 ? value * 1000 : value;
    return new Date(ms).toISOString();
  }
  // The reporters send UTC ISO strings: take those as they are (parsing dates is not free).
  if (typeof value === 'string' && isoUtc.test(value)) return value;
  if (typeof value === 'string' && value.length <= 64) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return undefined;
}

const idText = (value: unknown): string | undefined =>
  (typeof value === 'string' && value.trim() !== '' && value.length <= 200) ||
  (typeof value === 'number' && Number.isFinite(value))
    ? String(value).trim()
    : undefined;

/** Checks a training job's event: `type`, `job.id` (or `job_id`), `timestamp` (or `time`). */
export function checkJobEnvelope(body: unknown): EnvelopeResult {
  if (!isRecord(body)) return { ok: false, reason: 'the body must be a JSON object' };
  const type = body.type;
  if (typeof type !== 'string' || !/^[A-Za-z0-9_.:-]{1,100}$/.test(type)) {
    return { ok: false, reason: 'type: required, a string of letters, digits, _ . : - (max 100)' };
  }
  const job = isRecord(body.job) ? body.job : undefined;
  const jobId = idText(job?.id ?? body.job_id ?? body.run_id);
  if (!jobId) return { ok: false, reason: 'job.id: required, the run identity (job id)' };
  const name = idText(job?.name ?? body.job_name);
  const occurredAt = parseTime(body.timestamp ?? body.time);
  if (!occurredAt) return { ok: false, reason: 'timestamp: required, an ISO time or epoch seconds' };
  return {
    ok: true,
    envelope: {
      type,
      runKey: name ? `${name}#${jobId}` : jobId,
      occurredAt,
      failure: failureType.test(type),
    },
  };
}

/** Checks an MLflow registry webhook: `entity`, `action`, `timestamp`, `data.name`. */
export function checkMlflowEnvelope(body: unknown): EnvelopeResult {
  if (!isRecord(body)) return { ok: false, reason: 'the body must be a JSON object' };
  const { entity, action } = body;
  if (typeof entity !== 'string' || typeof action !== 'string' || !entity || !action) {
    return { ok: false, reason: 'entity and action: required strings' };
  }
  const data = isRecord(body.data) ? body.data : undefined;
  const name = idText(data?.name);
  if (!name) return { ok: false, reason: 'data.name: required, the registered model or prompt' };
  const occurredAt = parseTime(body.timestamp);
  if (!occurredAt) return { ok: false, reason: 'timestamp: required, an ISO time' };
  return {
    ok: true,
    envelope: {
      type: `mlflow.${entity}.${action}`,
      runKey: `mlflow:${entity.startsWith('prompt') ? 'prompt' : 'model'}/${name}`,
      occurredAt,
      failure: false,
    },
  };
}
