/**
 * Provider-neutral model messages. Each provider adapter (one file each) translates these to
 * its wire format; nothing outside an adapter imports a provider SDK.
 */

export interface ModelToolCall {
  /** The provider's id for the call; results refer to it. */
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ModelToolResult {
  callId: string;
  name: string;
  content: string;
  isError: boolean;
}

export type ModelMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; text: string; toolCalls: ModelToolCall[] }
  | { role: 'tool'; results: ModelToolResult[] };

export interface ModelToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  /** The brief plus the host's fixed rules; stable across turns (providers may cache it). */
  system: string;
  tools: ModelToolSpec[];
  messages: ModelMessage[];
  maxTokens: number;
  signal?: AbortSignal;
  onText?: (delta: string) => void;
}

export interface ModelResponse {
  text: string;
  toolCalls: ModelToolCall[];
  usage: { inputTokens: number; outputTokens: number };
  stopReason: 'end' | 'tool_use' | 'max_tokens' | 'other';
}

export interface ModelAdapter {
  /** e.g. `anthropic:claude-sonnet-4-5`. */
  readonly id: string;
  complete(request: ModelRequest): Promise<ModelResponse>;
  /** A cheap reachability check for `nightshift doctor`; resolves to a one-line status. */
  check?(signal?: AbortSignal): Promise<string>;
}
