import type { z } from 'zod';
import type { Logger } from './logger.ts';

/**
 * Every Nightshift tool states all three hints on purpose; the host derives its policy class
 * (read, act, confirm) from them, so a missing hint would silently change what runs unconfirmed.
 */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  /** True when the tool talks to a system outside this server's own data (most of ours do). */
  openWorldHint?: boolean;
}

export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

export interface ToolContext {
  /** Aborted when the client cancels the request or the connection goes away. */
  signal: AbortSignal;
  /** Sends an MCP progress notification when the client asked for progress; otherwise a no-op. */
  progress(update: ProgressUpdate): Promise<void>;
  log: Logger;
}

export interface ImageOutput {
  /** Base64-encoded bytes. */
  data: string;
  mimeType: string;
}

export interface ToolOutput<Structured> {
  /** Must match the tool's output schema; goes out as `structuredContent`. */
  structured: Structured;
  /** A short rendering a person can read; defaults to a compact rendering of `structured`. */
  text?: string;
  images?: ImageOutput[];
}

export type AnyObjectSchema = z.ZodObject<z.ZodRawShape>;

export interface ToolDefinition<Deps, In extends AnyObjectSchema, Out extends AnyObjectSchema> {
  /** `<server>_<verb>_<noun>` in snake_case, matching `^[A-Za-z0-9._-]{1,128}$`. */
  name: string;
  title: string;
  /** What the tool does, when to use it, and what it returns: the model reads this. */
  description: string;
  /** The named group this tool belongs to, for `--toolsets`. */
  toolset: string;
  input: In;
  output: Out;
  annotations: ToolAnnotations;
  handler(input: z.output<In>, deps: Deps, context: ToolContext): Promise<ToolOutput<z.input<Out>>>;
}

/** A tool with its schema types erased, for lists that mix tools. */
export type AnyTool<Deps> = ToolDefinition<Deps, AnyObjectSchema, AnyObjectSchema>;

const toolNamePattern = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Declares a tool as data. Checks at definition time what would otherwise surface as a
 * confusing protocol error later: the name's shape and that every hint is stated.
 */
export function defineTool<Deps, In extends AnyObjectSchema, Out extends AnyObjectSchema>(
  tool: ToolDefinition<Deps, In, Out>,
): AnyTool<Deps> {
  if (!toolNamePattern.test(tool.name)) {
    throw new Error(`tool name "${tool.name}" must match ${toolNamePattern}`);
  }
  for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint'] as const) {
    if (typeof tool.annotations?.[hint] !== 'boolean') {
      throw new Error(`tool ${tool.name} must state annotations.${hint} (true or false)`);
    }
  }
  if (tool.annotations.readOnlyHint && tool.annotations.destructiveHint) {
    throw new Error(`tool ${tool.name} cannot be both read-only and destructive`);
  }
  return tool as unknown as AnyTool<Deps>;
}

/**
 * Binds `defineTool` to a server's dependency type, so each tool's handler gets typed deps
 * while input and output types are still inferred from the schemas:
 * `const defineMlflowTool = toolDefiner<MlflowDeps>();`
 */
export function toolDefiner<Deps>() {
  return <In extends AnyObjectSchema, Out extends AnyObjectSchema>(
    tool: ToolDefinition<Deps, In, Out>,
  ): AnyTool<Deps> => defineTool(tool);
}
