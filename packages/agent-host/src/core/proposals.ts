import type { DatabaseSync } from 'node:sqlite';
import { argumentsHash, canonicalJson } from './canonical.ts';
import type { AuditLog, ProposalStatus, ProposalView } from './types.ts';

interface RawProposal {
  n: number;
  change_set: string;
  position: number;
  conversation_id: string;
  turn_id: string;
  server: string;
  tool: string;
  exposed_name: string;
  args: string;
  args_hash: string;
  status: ProposalStatus;
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_channel: string | null;
  decided_at: string | null;
  result: string | null;
}

function toView(raw: RawProposal): ProposalView {
  return {
    id: `P-${raw.n}`,
    changeSet: raw.change_set,
    position: raw.position,
    conversationId: raw.conversation_id,
    turnId: raw.turn_id,
    server: raw.server,
    tool: raw.tool,
    exposedName: raw.exposed_name,
    arguments: JSON.parse(raw.args) as Record<string, unknown>,
    argumentsHash: raw.args_hash,
    status: raw.status,
    createdAt: raw.created_at,
    expiresAt: raw.expires_at,
    ...(raw.decided_by ? { decidedBy: raw.decided_by } : {}),
    ...(raw.decided_channel ? { decidedChannel: raw.decided_channel } : {}),
    ...(raw.decided_at ? { decidedAt: raw.decided_at } : {}),
    ...(raw.result !== null ? { result: raw.result } : {}),
  };
}

export function proposalNumber(id: string): number | undefined {
  const match = /^p-(\d+)$/i.exec(id.trim());
  return match ? Number(match[1]) : undefined;
}

/**
 * Proposals in the store. Status changes are single conditional UPDATEs, so a proposal moves
 * from pending to executing exactly once however many confirmations race for it.
 */
export class ProposalBook {
  private readonly db: DatabaseSync;
  private readonly audit: AuditLog;
  private readonly now: () => Date;
  private readonly expiryMs: number;

  constructor(db: DatabaseSync, audit: AuditLog, now: () => Date, expiryMs: number) {
    this.db = db;
    this.audit = audit;
    this.now = now;
    this.expiryMs = expiryMs;
  }

  hold(
    input: Pick<
      ProposalView,
      'changeSet' | 'position' | 'conversationId' | 'turnId' | 'server' | 'tool' | 'exposedName' | 'arguments'
    >,
  ): ProposalView {
    const created = this.now();
    const expires = new Date(created.getTime() + this.expiryMs);
    const args = canonicalJson(input.arguments);
    const hash = argumentsHash(input.arguments);
    const result = this.db
      .prepare(
        `INSERT INTO proposals (change_set, position, conversation_id, turn_id, server, tool, exposed_name, args,
           args_hash, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(
        input.changeSet,
        input.position,
        input.conversationId,
        input.turnId,
        input.server,
        input.tool,
        input.exposedName,
        args,
        hash,
        created.toISOString(),
        expires.toISOString(),
      );
    const view = this.get(Number(result.lastInsertRowid)) as ProposalView;
    this.audit.append({
      kind: 'proposal_held',
      conversationId: input.conversationId,
      actor: 'model',
      data: {
        proposal: view.id,
        changeSet: view.changeSet,
        server: view.server,
        tool: view.tool,
        class: 'confirm',
        argsHash: hash,
        turn: view.turnId,
        expiresAt: view.expiresAt,
      },
    });
    return view;
  }

  get(n: number): ProposalView | undefined {
    const raw = this.db.prepare('SELECT * FROM proposals WHERE n = ?').get(n) as RawProposal | undefined;
    return raw ? toView(raw) : undefined;
  }

  /** Marks overdue pending proposals expired (audited), then lists the pending ones. */
  pending(conversationId?: string): ProposalView[] {
    this.expireOverdue();
    const rows = (conversationId
      ? this.db
          .prepare("SELECT * FROM proposals WHERE status = 'pending' AND conversation_id = ? ORDER BY n")
          .all(conversationId)
      : this.db
          .prepare("SELECT * FROM proposals WHERE status = 'pending' ORDER BY n")
          .all()) as unknown as RawProposal[];
    return rows.map(toView);
  }

  changeSet(changeSet: string): ProposalView[] {
    return (
      this.db
        .prepare('SELECT * FROM proposals WHERE change_set = ? ORDER BY position')
        .all(changeSet) as unknown as RawProposal[]
    ).map(toView);
  }

  expireOverdue(): void {
    const nowIso = this.now().toISOString();
    const overdue = this.db
      .prepare("SELECT * FROM proposals WHERE status = 'pending' AND expires_at <= ?")
      .all(nowIso) as unknown as RawProposal[];
    for (const raw of overdue) {
      const changed = this.db
        .prepare("UPDATE proposals SET status = 'expired', decided_at = ? WHERE n = ? AND status = 'pending'")
        .run(nowIso, raw.n);
      if (changed.changes === 1) {
        this.audit.append({
          kind: 'proposal_expired',
          conversationId: raw.conversation_id,
          actor: 'host',
          data: { proposal: `P-${raw.n}`, argsHash: raw.args_hash, expiredAt: raw.expires_at },
        });
      }
    }
  }

  /**
   * pending → executing, recording who confirmed. False when the proposal is not pending any
   * more (already confirmed, rejected, expired): then nothing may run.
   */
  claim(n: number, by: string, channel: string): boolean {
    const nowIso = this.now().toISOString();
    const changed = this.db
      .prepare(
        `UPDATE proposals SET status = 'executing', decided_by = ?, decided_channel = ?, decided_at = ?
         WHERE n = ? AND status = 'pending' AND expires_at > ?`,
      )
      .run(by, channel, nowIso, n, nowIso);
    return changed.changes === 1;
  }

  finish(n: number, status: 'done' | 'failed' | 'skipped', result: string): void {
    this.db.prepare('UPDATE proposals SET status = ?, result = ? WHERE n = ?').run(status, result, n);
  }

  reject(n: number, by: string, channel: string): boolean {
    const changed = this.db
      .prepare(
        `UPDATE proposals SET status = 'rejected', decided_by = ?, decided_channel = ?, decided_at = ?
         WHERE n = ? AND status = 'pending'`,
      )
      .run(by, channel, this.now().toISOString(), n);
    return changed.changes === 1;
  }

  /** An earlier proposal of its change set failed: this one never runs. */
  skip(n: number, reason: string): void {
    this.db
      .prepare("UPDATE proposals SET status = 'skipped', result = ? WHERE n = ? AND status = 'pending'")
      .run(reason, n);
  }
}
