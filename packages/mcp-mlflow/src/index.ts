export { type MlflowConfig, mlflowEnv, mlflowSecrets } from './config.ts';
export {
  createMlflowDeps,
  type ErrorHints,
  type MlflowDeps,
  notConfiguredMessage,
  toToolError,
} from './mlflow.ts';
export { createServer, program, tools } from './server.ts';
