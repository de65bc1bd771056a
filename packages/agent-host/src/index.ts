// The host's public API. The core lives in src/core/ (host.ts: `createHost`; types.ts: the
// `Host` interface the CLI and the service layer in src/service/ call), configuration in
// src/config.ts, MCP servers in src/mcp/, model adapters in src/models/, the SQLite store and
// the audit log in src/store/, CLI commands in src/commands/.
export { runCli, takeConfigFlag } from './cli.ts';
export {
  configSchema,
  defaultConfirmPhrases,
  defaultRejectPhrases,
  HostConfigError,
  loadConfig,
  type NightshiftConfig,
  normalizePhrase,
  parseConfig,
  type ServerConfig,
} from './config.ts';
export { type CreateHostOptions, createHost } from './core/host.ts';
export type {
  ActionView,
  AuditLog,
  AuditRow,
  AuditVerification,
  Channel,
  EventTurnInput,
  EventTurnResult,
  HandleMessageInput,
  HandleMessageResult,
  Host,
  HostEvent,
  HostTool,
  PeopleDirectory,
  Person,
  PolicyClass,
  ProposalStatus,
  ProposalView,
  Role,
} from './core/types.ts';
export { createModel, ModelNotConfiguredError, modelSetupHelp } from './models/create-model.ts';
export { createScriptedModel, loadScript, type ScriptedModel, type ScriptedTurn } from './models/scripted.ts';
export type {
  ModelAdapter,
  ModelMessage,
  ModelRequest,
  ModelResponse,
  ModelToolCall,
  ModelToolResult,
  ModelToolSpec,
} from './models/types.ts';
