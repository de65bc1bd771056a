import { z } from 'zod';

/**
 * Start-up configuration problems. The message lists every problem at once, each with what
 * the variable is for, so one failed start is enough to fix them all.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[], heading = 'Configuration is incomplete or invalid') {
    super(`${heading}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }

  static isInstance(value: unknown): value is ConfigError {
    return (
      value instanceof Error && value.name === 'ConfigError' && Array.isArray((value as ConfigError).problems)
    );
  }
}

/**
 * Reads configuration from environment variables. Each key of `schema` is a variable name;
 * its `.describe()` text is shown next to any problem with it.
 */
export function loadEnvConfig<S extends z.ZodObject<z.ZodRawShape>>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    input[key] = value === '' ? undefined : value;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const field = schema.shape[key] as z.ZodType | undefined;
    const about = field?.description ? ` (${field.description})` : '';
    const what = input[key] === undefined ? 'is not set' : `is invalid: ${issue.message}`;
    return key ? `${key} ${what}${about}` : issue.message;
  });
  throw new ConfigError(problems);
}

/** A boolean environment variable: 1/true/yes/on or 0/false/no/off. */
export const envBoolean = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], {
    message: 'use one of 1, 0, true, false, yes, no, on, off',
  })
  .transform((value) => ['1', 'true', 'yes', 'on'].includes(value));

/** A positive integer given as text, e.g. a timeout in milliseconds. */
export const envPositiveInt = z.coerce.number().int().positive();

/** Documents a schema's variables, one per line, for `--help`. */
export function describeEnv(schema: z.ZodObject<z.ZodRawShape>): string {
  return Object.entries(schema.shape)
    .map(([key, field]) => {
      const optional = (field as z.ZodType).safeParse(undefined).success ? 'optional' : 'required';
      return `  ${key} (${optional})${(field as z.ZodType).description ? `: ${(field as z.ZodType).description}` : ''}`;
    })
    .join('\n');
}
