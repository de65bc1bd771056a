import type { Job } from './types.ts';

/**
 * What every backend puts in a job's environment and command line, so a training script reads
 * the same variables wherever it runs.
 */

/** `{{key}}` → params[key]; also `{{config_repo}}`, `{{config_path}}`, `{{config_commit}}`, `{{job_id}}`, `{{job_name}}`. */
export function substitute(arg: string, job: Job): string {
  return arg.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (whole, key: string) => {
    if (key in job.params) return job.params[key] as string;
    if (key === 'config_repo') return job.configRef?.repo ?? '';
    if (key === 'config_path') return job.configRef?.path ?? '';
    if (key === 'config_commit') return job.configRef?.commit ?? '';
    if (key === 'job_id') return job.id;
    if (key === 'job_name') return job.name;
    return whole;
  });
}

/** The job's own variables: params, config reference, identity, and the job's extra env. */
export function jobVariables(job: Job): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(job.params)) env[`NIGHTSHIFT_PARAM_${envKey(key)}`] = value;
  if (job.configRef) {
    env.NIGHTSHIFT_CONFIG_REPO = job.configRef.repo;
    env.NIGHTSHIFT_CONFIG_PATH = job.configRef.path;
    if (job.configRef.commit) env.NIGHTSHIFT_CONFIG_COMMIT = job.configRef.commit;
  }
  Object.assign(env, job.env);
  env.NIGHTSHIFT_JOB_ID = job.id;
  env.NIGHTSHIFT_JOB_NAME = job.name;
  env.NIGHTSHIFT_JOB_ATTEMPT = String(job.attempt);
  return env;
}

function envKey(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
