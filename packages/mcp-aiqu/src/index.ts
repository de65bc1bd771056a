export { createLocalBackend, LocalBackend, type LocalBackendOptions } from './backends/local.ts';
export {
  applyOverrides,
  type ConfigRef,
  configRefSchema,
  isTerminal,
  type Job,
  type JobBackend,
  type JobFilter,
  type JobLogs,
  type JobReason,
  type JobSpec,
  type JobStatus,
  jobReasons,
  jobSchema,
  jobSpecSchema,
  jobStatuses,
  type ListQuery,
  type ListResult,
  type LogQuery,
  matchesFilter,
  type QueueStatus,
  type Resources,
  resourcesSchema,
  type SpecOverrides,
  type SubmitOptions,
  specOf,
} from './backends/types.ts';
export { type AiquEnv, type AiquFile, aiquEnv, loadAiquFile, parseAiquFile } from './config.ts';
export type { AiquDeps } from './deps.ts';
export { JobService, type SubmitRequest } from './jobs.ts';
export { extractErrors, type LogError } from './log-analysis.ts';
export { aiquProgram, aiquTools, createDeps, createServer } from './server.ts';
