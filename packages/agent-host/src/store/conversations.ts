import type { DatabaseSync } from 'node:sqlite';
import type { ModelMessage } from '../models/types.ts';

export interface ToolCallRecord {
  turnId: string;
  conversationId: string;
  server: string;
  tool: string;
  policyClass: string;
  argsHash: string;
  /** ok, error, held, refused, cancelled */
  status: string;
  durationMs: number | null;
  error: string | null;
}

/**
 * Conversations, their messages (provider-neutral, as the model saw them), turns and tool calls
 * in the store. The audit log is separate: this is the working memory, that is the record.
 */
export class ConversationStore {
  private readonly db: DatabaseSync;
  private readonly now: () => Date;
  private readonly historyMessages: number;

  constructor(db: DatabaseSync, now: () => Date, historyMessages: number) {
    this.db = db;
    this.now = now;
    this.historyMessages = historyMessages;
  }

  touch(conversationId: string, channel: string | null): void {
    const at = this.now().toISOString();
    this.db
      .prepare(
        `INSERT INTO conversations (id, channel, created_at, last_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET last_at = excluded.last_at`,
      )
      .run(conversationId, channel, at, at);
  }

  save(conversationId: string, turnId: string | null, message: ModelMessage): void {
    this.db
      .prepare('INSERT INTO messages (conversation_id, turn_id, at, message) VALUES (?, ?, ?, ?)')
      .run(conversationId, turnId, this.now().toISOString(), JSON.stringify(message));
  }

  /** The latest messages of a conversation, shaped so every provider accepts them. */
  history(conversationId: string): ModelMessage[] {
    const rows = this.db
      .prepare('SELECT message FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?')
      .all(conversationId, this.historyMessages) as Array<{ message: string }>;
    const messages = rows.reverse().map((row) => JSON.parse(row.message) as ModelMessage);
    // A window must open on a person's (or the host's) message, never on a dangling tool result.
    while (messages.length > 0 && messages[0]?.role !== 'user') messages.shift();
    // A turn cancelled mid-tool leaves calls without results; providers reject that, so the
    // missing results are filled in as "not run".
    const repaired: ModelMessage[] = [];
    messages.forEach((message, index) => {
      repaired.push(message);
      if (message.role === 'assistant' && message.toolCalls.length > 0) {
        const next = messages[index + 1];
        if (next?.role !== 'tool') {
          repaired.push({
            role: 'tool',
            results: message.toolCalls.map((call) => ({
              callId: call.id,
              name: call.name,
              content: 'not run: the turn was cancelled',
              isError: true,
            })),
          });
        }
      }
    });
    return repaired;
  }

  startTurn(turn: { id: string; conversationId: string; kind: string; actor: string }): void {
    this.db
      .prepare(
        "INSERT INTO turns (id, conversation_id, kind, actor, started_at, status) VALUES (?, ?, ?, ?, ?, 'running')",
      )
      .run(turn.id, turn.conversationId, turn.kind, turn.actor, this.now().toISOString());
  }

  finishTurn(
    id: string,
    result: { status: string; steps: number; inputTokens: number; outputTokens: number },
  ): void {
    this.db
      .prepare(
        'UPDATE turns SET ended_at = ?, status = ?, steps = ?, input_tokens = ?, output_tokens = ? WHERE id = ?',
      )
      .run(
        this.now().toISOString(),
        result.status,
        result.steps,
        result.inputTokens,
        result.outputTokens,
        id,
      );
  }

  recordToolCall(call: ToolCallRecord): void {
    this.db
      .prepare(
        `INSERT INTO tool_calls (turn_id, conversation_id, server, tool, class, args_hash, status, at, duration_ms, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        call.turnId,
        call.conversationId,
        call.server,
        call.tool,
        call.policyClass,
        call.argsHash,
        call.status,
        this.now().toISOString(),
        call.durationMs,
        call.error,
      );
  }
}
