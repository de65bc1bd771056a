import { envBoolean, envPositiveInt } from '@nightshift/mcp-kit';
import { z } from 'zod';

/**
 * The server's environment, by MLflow's own conventions. Everything is optional: without a
 * tracking URI the server still starts and every tool explains how to configure it.
 */
export const mlflowEnv = z.object({
  MLFLOW_TRACKING_URI: z
    .string()
    .optional()
    .describe(
      'URL of the MLflow tracking server, e.g. http://127.0.0.1:5000 (without it every tool says how to configure)',
    ),
  MLFLOW_TRACKING_USERNAME: z.string().optional().describe('Username for MLflow basic auth'),
  MLFLOW_TRACKING_PASSWORD: z.string().optional().describe('Password for MLflow basic auth (never logged)'),
  MLFLOW_TRACKING_TOKEN: z
    .string()
    .optional()
    .describe('Bearer token for MLflow (never logged; wins over basic auth)'),
  MLFLOW_TRACKING_INSECURE_TLS: envBoolean
    .optional()
    .describe('Skip TLS certificate verification for an https tracking URI (1/true)'),
  NIGHTSHIFT_MLFLOW_TIMEOUT_MS: envPositiveInt
    .optional()
    .describe('Deadline for each call to MLflow in milliseconds (default 30000)'),
});

export type MlflowConfig = z.output<typeof mlflowEnv>;

/** Every credential in the configuration, for the logger's redaction list. */
export function mlflowSecrets(config: MlflowConfig): Array<string | undefined> {
  const secrets = [config.MLFLOW_TRACKING_PASSWORD, config.MLFLOW_TRACKING_TOKEN];
  try {
    const url = new URL(config.MLFLOW_TRACKING_URI ?? '');
    if (url.password) secrets.push(url.password, decodeURIComponent(url.password));
  } catch {
    // Not a URL: nothing embedded to redact.
  }
  return secrets;
}
