import { createHash } from 'node:crypto';
import type { HostEvent } from '../core/types.ts';
import type { EventStore, Notification, StoredEvent } from './event-store.ts';
import { laneConversation, parseLane } from './routing.ts';

/**
 * Feeds stored events to the reasoning core. One turn at a time per lane (a route target); events
 * that arrive while a lane's turn runs wait and go together into its next turn, grouped by run,
 * runs with a failure first, each run's events in arrival order. At most `concurrency` turns run
 * at once across lanes. An event becomes handled only when its turn completed — in the same
 * transaction that queues the turn's notification — so a crash mid-turn re-delivers it and a
 * completed turn is never notified twice.
 */

export interface TurnOutcome {
  text: string;
  silent: boolean;
}

export type RunTurn = (input: {
  conversationId: string;
  events: HostEvent[];
  signal: AbortSignal;
}) => Promise<TurnOutcome>;

export interface SchedulerOptions {
  store: EventStore;
  runTurn: RunTurn;
  concurrency: number;
  maxEventsPerTurn: number;
  /** First wait after a failed turn; doubles per failure up to ten minutes. */
  retryAfterMs: number;
  /** Called after a turn queued a notification (the outbox delivers it). */
  onNotification?: (notification: Notification) => void;
  log?: (line: string) => void;
}

/** Orders a lane's batch: runs with a failure first, then by first arrival; each run in order. */
export function orderForTurn(events: readonly StoredEvent[]): StoredEvent[] {
  const runs = new Map<string, StoredEvent[]>();
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    const list = runs.get(event.runKey) ?? [];
    list.push(event);
    runs.set(event.runKey, list);
  }
  return [...runs.values()]
    .sort((a, b) => {
      const failedA = a.some((e) => e.failure) ? 0 : 1;
      const failedB = b.some((e) => e.failure) ? 0 : 1;
      return failedA - failedB || (a[0] as StoredEvent).seq - (b[0] as StoredEvent).seq;
    })
    .flat();
}

export const toHostEvent = (event: StoredEvent): HostEvent => ({
  id: event.id,
  runKey: event.runKey,
  type: event.type,
  payload: event.payload,
  receivedAt: event.receivedAt,
});

/** A notification's dedupe key: the set of events behind it. */
export function eventSetKey(eventIds: readonly string[]): string {
  return `events:${createHash('sha256')
    .update([...eventIds].sort().join('\n'))
    .digest('hex')}`;
}

interface Lane {
  running: boolean;
  failures: number;
  blockedUntil: number;
}

export class EventScheduler {
  private readonly options: SchedulerOptions;
  private readonly lanes = new Map<string, Lane>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Counters for tests and benchmarks. */
  readonly stats = { turns: 0, events: 0, failedTurns: 0, silentTurns: 0 };

  constructor(options: SchedulerOptions) {
    this.options = options;
  }

  /** Looks for pending events and starts what may run now. Cheap; call it on every stored event. */
  wake(): void {
    if (this.stopped) return;
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    for (const lane of this.options.store.pendingRoutes()) {
      if (this.inFlight.size >= this.options.concurrency) break;
      const state = this.lanes.get(lane) ?? { running: false, failures: 0, blockedUntil: 0 };
      this.lanes.set(lane, state);
      if (state.running) continue;
      if (state.blockedUntil > now) {
        nextRetry = Math.min(nextRetry, state.blockedUntil);
        continue;
      }
      this.startTurn(lane, state);
    }
    if (Number.isFinite(nextRetry)) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.wake(), Math.max(nextRetry - now, 10));
      this.timer.unref();
    }
    this.checkIdle();
  }

  private startTurn(laneId: string, lane: Lane): void {
    const batch = orderForTurn(this.options.store.pendingEvents(laneId, this.options.maxEventsPerTurn));
    if (batch.length === 0) return;
    lane.running = true;
    const task = this.runTurn(laneId, lane, batch).finally(() => {
      lane.running = false;
      this.inFlight.delete(task);
      this.wake();
    });
    this.inFlight.add(task);
  }

  private async runTurn(laneId: string, lane: Lane, batch: StoredEvent[]): Promise<void> {
    const { store, log } = this.options;
    const ids = batch.map((e) => e.id);
    let outcome: TurnOutcome;
    try {
      outcome = await this.options.runTurn({
        conversationId: laneConversation(laneId),
        events: batch.map(toHostEvent),
        signal: this.controller.signal,
      });
    } catch (error) {
      if (this.stopped) return;
      this.stats.failedTurns++;
      lane.failures++;
      const wait = Math.min(this.options.retryAfterMs * 2 ** (lane.failures - 1), 600_000);
      lane.blockedUntil = Date.now() + wait;
      log?.(
        `event turn for ${laneId} failed (${(error as Error).message}); ${batch.length} event(s) stay pending, retry in ${Math.round(wait / 1000)} s`,
      );
      return;
    }
    if (this.stopped) return;
    lane.failures = 0;
    lane.blockedUntil = 0;
    this.stats.turns++;
    this.stats.events += batch.length;
    const target = parseLane(laneId);
    const text = outcome.text.trim();
    const silent = outcome.silent || text === '' || text === '[silent]';
    if (silent) this.stats.silentTurns++;
    const notification = store.completeTurn(
      ids,
      silent
        ? undefined
        : {
            channel: target.channel,
            conversation: target.conversation,
            kind: 'event',
            text,
            dedupeKey: eventSetKey(ids),
          },
    );
    if (notification) this.options.onNotification?.(notification);
  }

  /** Resolves when no event is pending (or every pending lane is waiting to retry) and no turn runs. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.inFlight.size > 0) return;
    const now = Date.now();
    const runnable = this.options.store
      .pendingRoutes()
      .some((lane) => (this.lanes.get(lane)?.blockedUntil ?? 0) <= now);
    if (runnable && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Cancels turns in flight (their events stay pending) and stops scheduling. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller.abort(new Error('the service is stopping'));
    await Promise.allSettled([...this.inFlight]);
    this.checkIdle();
  }
}
