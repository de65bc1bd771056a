import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnyTool, ToolContext } from './define-tool.ts';
import { ToolError } from './errors.ts';
import { createLogger, type Logger } from './logger.ts';
import { createProgressReporter } from './progress.ts';
import { defaultMaxTextBytes, errorResult, toCallToolResult } from './results.ts';

export interface RegisterOptions {
  /** Drops every tool whose `readOnlyHint` is not true. */
  readOnly?: boolean;
  /** Keeps only tools in these named toolsets; all when absent or empty. */
  toolsets?: readonly string[];
  logger?: Logger;
  maxTextBytes?: number;
}

/** The tools that survive the read-only and toolset filters, in declaration order. */
export function selectTools<Deps>(
  tools: readonly AnyTool<Deps>[],
  options: RegisterOptions = {},
): AnyTool<Deps>[] {
  const toolsets = options.toolsets && options.toolsets.length > 0 ? new Set(options.toolsets) : undefined;
  if (toolsets) {
    const known = new Set(tools.map((tool) => tool.toolset));
    const unknown = [...toolsets].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new Error(`unknown toolset(s): ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
    }
  }
  return tools.filter(
    (tool) =>
      (!options.readOnly || tool.annotations.readOnlyHint) && (!toolsets || toolsets.has(tool.toolset)),
  );
}

/**
 * Registers tools on an McpServer. Handlers receive validated input, the server's injected
 * dependencies and a context; expected failures (ToolError) become `isError` text, anything
 * else is logged with its stack and answered generically, so no input can take the server down.
 */
export function registerTools<Deps>(
  server: McpServer,
  tools: readonly AnyTool<Deps>[],
  deps: Deps,
  options: RegisterOptions = {},
): string[] {
  const log = options.logger ?? createLogger('mcp');
  const selected = selectTools(tools, options);
  for (const tool of selected) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        outputSchema: tool.output,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (input: unknown, extra) => {
        const context: ToolContext = {
          signal: extra.signal,
          log,
          progress: createProgressReporter(extra._meta?.progressToken, (n) => extra.sendNotification(n)),
        };
        try {
          const output = await tool.handler(input as never, deps, context);
          return toCallToolResult(output, options.maxTextBytes ?? defaultMaxTextBytes);
        } catch (error) {
          if (ToolError.isInstance(error)) return errorResult(error.message);
          log.error(`tool ${tool.name} failed unexpectedly`, {
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          });
          return errorResult(
            `${tool.name} failed with an internal error (details are in the server's log). ` +
              'Retrying may help; if it keeps failing, report it.',
          );
        }
      },
    );
  }
  return selected.map((tool) => tool.name);
}
