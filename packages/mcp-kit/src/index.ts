export { ConfigError, describeEnv, envBoolean, envPositiveInt, loadEnvConfig } from './config.ts';
export { decodeCursor, encodeCursor, type Page, type PageOptions, paginate } from './cursor.ts';
export {
  type AnyObjectSchema,
  type AnyTool,
  defineTool,
  type ImageOutput,
  type ProgressUpdate,
  type ToolAnnotations,
  type ToolContext,
  type ToolDefinition,
  type ToolOutput,
  toolDefiner,
} from './define-tool.ts';
export { notFound, ToolError, type ToolErrorCode } from './errors.ts';
export { isLoopback, parseHostPort } from './host-port.ts';
export { createLogger, type Logger, type LoggerOptions, type LogLevel, redact } from './logger.ts';
export { createMcpServer, runServer, type ServerProgram, toolTable } from './program.ts';
export { createProgressReporter } from './progress.ts';
export { type RegisterOptions, registerTools, selectTools } from './register.ts';
export { capText, defaultMaxTextBytes, errorResult, renderCompact, toCallToolResult } from './results.ts';
export { type HttpServeOptions, type HttpServerHandle, serveHttp } from './serve-http.ts';
export { timeoutSignal, withTimeout } from './timeout.ts';
