import type { AuditLog, ProposalView } from '../core/types.ts';
import type { EventStore } from './event-store.ts';
import { parseLane } from './routing.ts';

/**
 * Keeps waiting proposals in front of people: announces each one where the request came from
 * (with confirm/reject buttons where the channel has them), reminds after `remindAfter`, and
 * announces the expiry — a proposal is never silently auto-denied. The decision itself is never
 * made here: buttons turn into the clicking person's confirmation message to the host.
 */

export interface ProposalWatchOptions {
  store: EventStore;
  pendingProposals: () => ProposalView[];
  audit?: AuditLog;
  remindAfterMs: number;
  now?: () => Date;
  /** Called after notices were queued (the outbox delivers them). */
  onQueued?: () => void;
}

/** Where a conversation lives, from its id (see the channel modules for the id shapes). */
export function conversationOrigin(
  conversationId: string,
): { channel: string; conversation: string; thread?: string } | undefined {
  if (conversationId.startsWith('events:')) return parseLane(conversationId.slice('events:'.length));
  const [channel, ...rest] = conversationId.split(':');
  if (channel === 'web' && rest.length > 0) return { channel: 'web', conversation: conversationId };
  if (channel === 'slack' && rest.length >= 2) {
    return { channel: 'slack', conversation: rest[0] as string, thread: rest[1] as string };
  }
  return undefined;
}

/** One line describing what a proposal would run. */
export function describeProposal(p: ProposalView): string {
  const args = JSON.stringify(p.arguments);
  return `${p.server}/${p.tool} ${args.length > 300 ? `${args.slice(0, 300)}…` : args}`;
}

export class ProposalWatch {
  private readonly options: ProposalWatchOptions;

  constructor(options: ProposalWatchOptions) {
    this.options = options;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Announces new proposals, reminds old ones, announces expiries. Idempotent; call it often. */
  check(): void {
    const { store } = this.options;
    const now = this.now();
    let queued = false;
    const pending = this.options.pendingProposals();
    const pendingIds = new Set(pending.map((p) => p.id));
    for (const proposal of pending) {
      const origin = conversationOrigin(proposal.conversationId);
      const fresh = store.recordAnnounced(proposal.id, proposal.conversationId, proposal.expiresAt);
      if (!origin) continue;
      const base = {
        channel: origin.channel,
        conversation: origin.conversation,
        thread: origin.thread,
        proposalId: proposal.id,
      };
      if (fresh) {
        store.insertNotification({
          ...base,
          kind: 'proposal',
          text: `${proposal.id} waits for an approver: ${describeProposal(proposal)}. It expires ${proposal.expiresAt}.`,
          dedupeKey: `proposal:${proposal.id}:announced`,
        });
        queued = true;
        continue;
      }
      const notice = store.proposalNotice(proposal.id);
      if (!notice) continue;
      const since = Date.parse(notice.lastRemindedAt ?? notice.announcedAt);
      if (now.getTime() - since >= this.options.remindAfterMs) {
        store.recordReminded(proposal.id);
        this.options.audit?.append({
          kind: 'proposal_reminded',
          conversationId: proposal.conversationId,
          actor: 'host',
          data: { proposal: proposal.id, channel: origin.channel, reminder: notice.reminders + 1 },
        });
        store.insertNotification({
          ...base,
          kind: 'reminder',
          text: `Reminder: ${proposal.id} still waits for an approver: ${describeProposal(proposal)}. It expires ${proposal.expiresAt}.`,
          dedupeKey: `proposal:${proposal.id}:reminder:${notice.reminders + 1}`,
        });
        queued = true;
      }
    }
    for (const notice of store.openProposalNotices()) {
      if (pendingIds.has(notice.proposalId)) continue;
      // No longer pending: decided (the conversation already heard the outcome) or expired.
      const expired = now.getTime() >= Date.parse(notice.expiresAt) && !this.decided(notice.proposalId);
      store.recordClosed(notice.proposalId, expired ? 'expired' : 'decided');
      const origin = conversationOrigin(notice.conversationId);
      if (!expired || !origin) continue;
      this.options.audit?.append({
        kind: 'proposal_expiry_announced',
        conversationId: notice.conversationId,
        actor: 'host',
        data: { proposal: notice.proposalId, channel: origin.channel, expiredAt: notice.expiresAt },
      });
      store.insertNotification({
        channel: origin.channel,
        conversation: origin.conversation,
        thread: origin.thread,
        proposalId: notice.proposalId,
        kind: 'expired',
        text: `${notice.proposalId} expired at ${notice.expiresAt} without a decision; nothing was run. Ask again for a fresh proposal if it is still wanted.`,
        dedupeKey: `proposal:${notice.proposalId}:expired`,
      });
      queued = true;
    }
    if (queued) this.options.onQueued?.();
  }

  /** True when the audit log records a decision on the proposal (confirmed, rejected, ran). */
  private decided(id: string): boolean {
    const audit = this.options.audit;
    if (!audit) return false;
    return audit
      .list({ limit: 2000 })
      .some(
        (row) =>
          /confirm|reject|execut|done|fail/.test(row.kind) &&
          !/expire/.test(row.kind) &&
          (row.data.proposal === id || row.data.proposalId === id || row.data.id === id),
      );
  }
}
