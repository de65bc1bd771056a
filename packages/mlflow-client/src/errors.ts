/**
 * What went wrong, in terms a caller can branch on. MLflow's own `error_code` values are
 * mapped onto these kinds; the original code and HTTP status stay available.
 */
export type MlflowErrorKind =
  | 'not_found'
  | 'invalid_parameter'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'rate_limited'
  | 'server_error'
  | 'unreachable'
  | 'timeout'
  | 'bad_response'
  | 'unsupported';

const marker = Symbol.for('nightshift.MlflowError');

/** Every failure the client reports. Messages never contain credentials. */
export class MlflowError extends Error {
  override readonly name = 'MlflowError';
  readonly kind: MlflowErrorKind;
  /** MLflow's `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`) when the server sent one. */
  readonly errorCode: string | undefined;
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** The REST path that failed, e.g. `/api/2.0/mlflow/runs/get`. */
  readonly endpoint: string;
  readonly [marker] = true;

  constructor(
    kind: MlflowErrorKind,
    message: string,
    details: { errorCode?: string; status?: number; endpoint: string; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.errorCode = details.errorCode;
    this.status = details.status;
    this.endpoint = details.endpoint;
  }

  /** Works across bundles and package copies, unlike `instanceof`. */
  static isInstance(value: unknown): value is MlflowError {
    return typeof value === 'object' && value !== null && marker in value;
  }
}

/** Maps MLflow's error code (or, lacking one, the HTTP status) to an error kind. */
export function kindOf(errorCode: string | undefined, status: number): MlflowErrorKind {
  switch (errorCode) {
    case 'RESOURCE_DOES_NOT_EXIST':
    case 'NOT_FOUND':
    case 'ENDPOINT_NOT_FOUND':
      return 'not_found';
    case 'INVALID_PARAMETER_VALUE':
    case 'BAD_REQUEST':
    case 'INVALID_STATE':
    case 'MALFORMED_REQUEST':
      return 'invalid_parameter';
    case 'RESOURCE_ALREADY_EXISTS':
      return 'already_exists';
    case 'PERMISSION_DENIED':
      return 'permission_denied';
    case 'UNAUTHENTICATED':
      return 'unauthenticated';
    case 'REQUEST_LIMIT_EXCEEDED':
      return 'rate_limited';
  }
  if (status === 404) return 'not_found';
  if (status === 400) return 'invalid_parameter';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'permission_denied';
  if (status === 409) return 'already_exists';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'bad_response';
}
