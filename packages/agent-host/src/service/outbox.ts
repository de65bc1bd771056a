import type { EventStore, Notification } from './event-store.ts';

/**
 * Delivers the notification outbox to channels, in order, with the flood cap as a backstop:
 * when a channel conversation already got `messages` event updates within `window`, further
 * event updates are held, and one digest ("12 more updates held back") goes out when the window
 * has room again. The cap does not judge what matters (the brief does); it only bounds the noise
 * a misbehaving turn or a flood of failures can make. Proposal notices are never held.
 */

export interface ChannelSink {
  /** Sends one notification; throws when the channel refused it (the outbox retries). */
  deliver(notification: Notification): Promise<void>;
}

export interface OutboxOptions {
  store: EventStore;
  sinks: Record<string, ChannelSink>;
  floodCap: { messages: number; windowMs: number };
  maxAttempts?: number;
  now?: () => Date;
  log?: (line: string) => void;
}

/** Kinds the cap counts and holds; proposal notices and digests always go out. */
const cappedKinds = new Set(['event']);

export class Outbox {
  private readonly options: OutboxOptions;
  private pumping: Promise<void> | undefined;
  private again = false;
  private digestTimers = new Map<string, NodeJS.Timeout>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: OutboxOptions) {
    this.options = options;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Delivers what is pending; concurrent calls coalesce. Resolves when the outbox is drained. */
  pump(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async drain(): Promise<void> {
    const { store, sinks, floodCap, log } = this.options;
    const failedThisRound = new Set<number>();
    for (;;) {
      const pending = store.notificationsWithStatus('pending', 50).filter((n) => !failedThisRound.has(n.id));
      if (pending.length === 0 || this.closed) return;
      for (const notification of pending) {
        if (this.closed) return;
        const sink = sinks[notification.channel];
        if (!sink) {
          store.notificationAttemptFailed(
            notification.id,
            `no channel "${notification.channel}" is configured`,
            1,
          );
          log?.(
            `notification ${notification.id}: no channel "${notification.channel}" is configured; check service.routes`,
          );
          continue;
        }
        if (cappedKinds.has(notification.kind)) {
          const since = new Date(this.now().getTime() - floodCap.windowMs).toISOString();
          if (store.sentSince(notification.channel, notification.conversation, since) >= floodCap.messages) {
            store.setNotificationStatus(notification.id, 'held');
            this.scheduleDigest(notification.channel, notification.conversation);
            continue;
          }
        }
        try {
          await sink.deliver(notification);
          store.setNotificationStatus(notification.id, 'sent');
        } catch (error) {
          failedThisRound.add(notification.id);
          const status = store.notificationAttemptFailed(
            notification.id,
            (error as Error).message,
            this.options.maxAttempts ?? 8,
          );
          log?.(
            `notification ${notification.id} to ${notification.channel}: ${(error as Error).message} (${status})`,
          );
          this.scheduleRetry();
        }
      }
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.pump();
    }, 5_000);
    this.retryTimer.unref();
  }

  private scheduleDigest(channel: string, conversation: string): void {
    const key = `${channel}\u0000${conversation}`;
    if (this.digestTimers.has(key) || this.closed) return;
    const timer = setTimeout(() => {
      this.digestTimers.delete(key);
      this.sendDigest(channel, conversation);
    }, this.options.floodCap.windowMs);
    timer.unref();
    this.digestTimers.set(key, timer);
  }

  /** Turns every held update of a conversation into one digest notification (and delivers it). */
  sendDigest(channel: string, conversation: string): void {
    const { store } = this.options;
    const held = store
      .notificationsWithStatus('held', 10_000)
      .filter((n) => n.channel === channel && n.conversation === conversation);
    if (held.length === 0) return;
    const latest = held[held.length - 1] as Notification;
    const firstLine = latest.text.split('\n')[0]?.slice(0, 300) ?? '';
    const text =
      `${held.length} more update${held.length === 1 ? '' : 's'} held back (flood cap: ` +
      `${this.options.floodCap.messages} per ${formatWindow(this.options.floodCap.windowMs)}). ` +
      `Latest: ${firstLine}\nThe event timeline has them all.`;
    store.transaction(() => {
      store.insertNotification({
        channel,
        conversation,
        kind: 'digest',
        text,
        eventIds: held.flatMap((n) => n.eventIds),
        dedupeKey: `digest:${held.map((n) => n.id).join(',')}`,
      });
      for (const n of held) store.setNotificationStatus(n.id, 'digested');
    });
    void this.pump();
  }

  /** After a restart: held updates of the last run get their digest after one window. */
  resumeHeld(): void {
    for (const n of this.options.store.notificationsWithStatus('held', 10_000)) {
      this.scheduleDigest(n.channel, n.conversation);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const timer of this.digestTimers.values()) clearTimeout(timer);
    this.digestTimers.clear();
  }
}

function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}
