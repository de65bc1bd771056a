import {
  type AnyObjectSchema,
  type AnyTool,
  type ToolDefinition,
  ToolError,
  toolDefiner,
} from '@nightshift/mcp-kit';
import { MlflowClient, MlflowError } from '@nightshift/mlflow-client';
import type { MlflowConfig } from './config.ts';

/**
 * The only module that talks to MLflow: it builds the client from the configuration and turns
 * the client's typed errors into answers the model can act on.
 */
export interface MlflowDeps {
  /** The client; throws a `not_configured` ToolError when no tracking URI is set. */
  mlflow(): MlflowClient;
  /** Milliseconds since the epoch; injectable so "how long ago" is testable. */
  now(): number;
}

export const notConfiguredMessage =
  'MLflow is not configured: this server has no MLFLOW_TRACKING_URI. Set MLFLOW_TRACKING_URI to the ' +
  'tracking server URL (e.g. http://127.0.0.1:5000) in the environment of nightshift-mcp-mlflow, plus ' +
  'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) if the server ' +
  'requires auth, then restart it.';

/** Builds the dependencies from the environment; never fails for a missing tracking URI. */
export function createMlflowDeps(config: MlflowConfig, now: () => number = Date.now): MlflowDeps {
  let client: MlflowClient | undefined;
  let problem: string | undefined;
  if (config.MLFLOW_TRACKING_URI) {
    try {
      client = new MlflowClient({
        trackingUri: config.MLFLOW_TRACKING_URI,
        username: config.MLFLOW_TRACKING_USERNAME,
        password: config.MLFLOW_TRACKING_PASSWORD,
        token: config.MLFLOW_TRACKING_TOKEN,
        insecureTls: config.MLFLOW_TRACKING_INSECURE_TLS,
        timeoutMs: config.NIGHTSHIFT_MLFLOW_TIMEOUT_MS ?? 30_000,
      });
    } catch (error) {
      problem = `MLFLOW_TRACKING_URI is unusable: ${(error as Error).message}. Fix it and restart nightshift-mcp-mlflow.`;
    }
  }
  return {
    mlflow: () => {
      if (client) return client;
      throw new ToolError('not_configured', problem ?? notConfiguredMessage);
    },
    now,
  };
}

/** What to tell the model next when a call fails, per tool. */
export interface ErrorHints {
  /** Appended to "not found" answers, e.g. "search with mlflow_search_runs". */
  notFound?: string;
  /** Appended to "invalid parameter" answers, e.g. the filter grammar. */
  invalid?: string;
}

/** Maps a client failure to a ToolError whose message says what to do next. */
export function toToolError(error: unknown, hints: ErrorHints = {}): unknown {
  if (!MlflowError.isInstance(error)) return error;
  const add = (hint: string | undefined) => (hint ? ` ${hint}` : '');
  switch (error.kind) {
    case 'not_found':
      return new ToolError('not_found', `${error.message}.${add(hints.notFound)}`);
    case 'invalid_parameter':
      // MLflow reports some missing things (an unknown alias) as invalid parameters.
      if (/not found|does not exist/i.test(error.message))
        return new ToolError('not_found', `${error.message}${add(hints.notFound)}`);
      return new ToolError('invalid_input', `${error.message}${add(hints.invalid)}`);
    case 'already_exists':
      return new ToolError('conflict', error.message);
    case 'unauthenticated':
      return new ToolError(
        'permission_denied',
        `${error.message} Check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN in the server's environment.`,
      );
    case 'permission_denied':
      return new ToolError(
        'permission_denied',
        `${error.message} The configured MLflow user lacks permission for this; ask an MLflow admin to grant it.`,
      );
    case 'timeout':
      return new ToolError('timeout', `${error.message}. Try again, or narrow the request.`);
    case 'unreachable':
      return new ToolError(
        'unavailable',
        `${error.message}. Check that the server is running and that MLFLOW_TRACKING_URI is right.`,
      );
    case 'rate_limited':
    case 'server_error':
      return new ToolError('unavailable', `${error.message}. MLflow is struggling; try again shortly.`);
    default:
      return new ToolError('unavailable', error.message);
  }
}

const define = toolDefiner<MlflowDeps>();

/**
 * `defineTool` for MLflow tools: the handler's MLflow failures become actionable `isError`
 * answers using the tool's hints; anything else still surfaces as a bug.
 */
export function defineMlflowTool<In extends AnyObjectSchema, Out extends AnyObjectSchema>(
  tool: ToolDefinition<MlflowDeps, In, Out> & { hints?: ErrorHints },
): AnyTool<MlflowDeps> {
  const { hints, handler, ...rest } = tool;
  return define<In, Out>({
    ...rest,
    handler: async (input, deps, context) => {
      try {
        return await handler(input, deps, context);
      } catch (error) {
        throw toToolError(error, hints);
      }
    },
  });
}
