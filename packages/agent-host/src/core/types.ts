/**
 * The host's public types: what the CLI and the service layer (web chat, Slack, event intake)
 * exchange with the core. Provider-neutral; no SDK type leaks through here.
 */

/** A channel a person talks on. The names are free-form; these three ship with Nightshift. */
export type Channel = 'terminal' | 'web' | 'slack' | (string & {});

export type Role = 'approver' | 'viewer';

/** One allow-listed person, as resolved from the configuration. */
export interface Person {
  /** Display name, also what the audit log records as the actor. */
  name: string;
  role: Role;
  /** Channel → the ids this person has on it (e.g. `{ terminal: ['anna'], slack: ['U04ABC'] }`). */
  ids: Record<string, string[]>;
}

/** Resolves channel ids to allow-listed people. */
export interface PeopleDirectory {
  /** The person with this id on this channel, or undefined (an unknown sender). */
  lookup(channel: Channel, senderId: string): Person | undefined;
  all(): readonly Person[];
}

/** `skipped`: an earlier proposal of the same change set failed, so this one never ran. */
export type ProposalStatus = 'pending' | 'executing' | 'done' | 'failed' | 'skipped' | 'rejected' | 'expired';

/** A confirm-class tool call the host held instead of running. */
export interface ProposalView {
  /** `P-<n>`, unique per data directory. */
  id: string;
  /** Proposals held in the same turn share a change set and are confirmed together, in order. */
  changeSet: string;
  /** 1-based position inside the change set. */
  position: number;
  conversationId: string;
  turnId: string;
  server: string;
  /** The tool's name on its server. */
  tool: string;
  /** The name the model saw (differs from `tool` when two servers share a tool name). */
  exposedName: string;
  /** The exact arguments that will run, in canonical key order. */
  arguments: Record<string, unknown>;
  /** sha256 of the canonical arguments. */
  argumentsHash: string;
  status: ProposalStatus;
  createdAt: string;
  expiresAt: string;
  decidedBy?: string;
  decidedChannel?: string;
  decidedAt?: string;
  /** The tool's answer once run (text), or why it failed. */
  result?: string;
}

/** A reversible (act-class) call that ran on its own; the host announces it. */
export interface ActionView {
  server: string;
  tool: string;
  argumentsHash: string;
  ok: boolean;
}

export interface HandleMessageInput {
  channel: Channel;
  /** The sender's id on that channel (unix user, Slack user id, web login). */
  senderId: string;
  /** A stable id for the thread/DM/terminal session; turns and proposals belong to it. */
  conversationId: string;
  text: string;
  /** Called with model text as it is produced (per model step when the provider does not stream). */
  onText?: (delta: string) => void;
  /** Aborting cancels the turn: the model call and any tool call in flight. */
  signal?: AbortSignal;
}

export interface HandleMessageResult {
  /** What to show the person. Empty when ignored. */
  reply: string;
  /** Proposals of this conversation that are still pending after the turn. */
  proposals: ProposalView[];
  /** Reversible actions that ran during the turn. */
  actions?: ActionView[];
  /** Set when the sender is not on the allow-list: nothing was done, no model was called. */
  ignored?: 'unknown_sender';
}

/** A training event as the service layer received and verified it. */
export interface HostEvent {
  id: string;
  /** Identifies the run/job the event belongs to (e.g. `customer-a/weld-defect-v4#r-4f92a1`). */
  runKey: string;
  type: string;
  payload: unknown;
  /** ISO timestamp. */
  receivedAt: string;
}

export interface EventTurnInput {
  conversationId: string;
  events: HostEvent[];
  signal?: AbortSignal;
}

export interface EventTurnResult {
  /** The model's message, trimmed; empty when silent. */
  text: string;
  /** True when the model chose to say nothing (an empty answer or exactly `[silent]`). */
  silent: boolean;
  /** The ids of the events this turn consumed. */
  eventIds: string[];
  proposals: ProposalView[];
}

/** One row of the append-only, hash-chained audit log. */
export interface AuditRow {
  seq: number;
  at: string;
  kind: string;
  conversationId: string | null;
  actor: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  /** The last row's hash: anchor it elsewhere to detect truncation of the whole tail. */
  headHash: string;
  problems: string[];
}

export interface AuditLog {
  append(entry: {
    kind: string;
    conversationId?: string | null;
    actor?: string | null;
    data?: Record<string, unknown>;
  }): AuditRow;
  list(options?: { limit?: number; afterSeq?: number; conversationId?: string }): AuditRow[];
  verify(): AuditVerification;
}

/** A tool as the host exposes it, with its policy class. */
export interface HostTool {
  exposedName: string;
  server: string;
  tool: string;
  description: string;
  inputSchema: Record<string, unknown>;
  policyClass: PolicyClass;
  /** Why it got that class (annotation, override, untrusted server). */
  reason: string;
}

export type PolicyClass = 'read' | 'act' | 'confirm' | 'deny';

/** The host the CLI and the service layer drive. */
export interface Host {
  /**
   * A person's message. The allow-list check comes first: an unknown sender gets
   * `{ ignored: 'unknown_sender' }` and costs nothing. An approver's confirm or reject phrase
   * is matched here by the host (never by the model) against the conversation's pending proposals.
   */
  handleMessage(input: HandleMessageInput): Promise<HandleMessageResult>;
  /**
   * Hands a batch of events to the model in one turn. The model decides whether to speak;
   * `[silent]` (or nothing) means silent. Event content can never confirm a proposal.
   */
  runEventTurn(input: EventTurnInput): Promise<EventTurnResult>;
  /** Pending (not expired) proposals, of one conversation or all. */
  pendingProposals(conversationId?: string): ProposalView[];
  /** All tools with their policy class, denied ones included (for `doctor` and UIs). */
  tools(): HostTool[];
  readonly audit: AuditLog;
  readonly people: PeopleDirectory;
  /** False when no model is configured: the host still runs, model calls fail with setup help. */
  readonly modelConfigured: boolean;
  /** How to configure a model, for UIs to show when `modelConfigured` is false. */
  readonly modelSetupHelp: string;
  /** Stops the MCP servers and closes the store. */
  close(): Promise<void>;
}
