import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

/**
 * The service's own SQLite file (`<dataDir>/events.db`, WAL): received events, the notification
 * outbox, proposal notices and Slack de-duplication. Separate from the host's store so intake
 * writes (many, tiny, group-committed) never wait on a turn's writes.
 *
 * Durability: `synchronous=FULL` makes every commit reach the disk before the intake answers;
 * concurrent requests share one commit (see `EventWriter`), which is what keeps that affordable.
 */

export interface StoredEvent {
  seq: number;
  id: string;
  source: 'job' | 'mlflow';
  type: string;
  runKey: string;
  failure: boolean;
  occurredAt: string;
  receivedAt: string;
  payload: unknown;
  /** The lane (a conversation) the event was routed to. */
  route: string;
  status: 'pending' | 'handled';
  handledAt: string | null;
  /** What its turn did: `silent`, `notified` or null while pending. */
  outcome: string | null;
}

export interface NewEvent {
  id: string;
  source: 'job' | 'mlflow';
  type: string;
  runKey: string;
  failure: boolean;
  occurredAt: string;
  payload: string;
  route: string;
}

export type NotificationStatus = 'pending' | 'sent' | 'held' | 'digested' | 'failed';

export interface Notification {
  id: number;
  channel: string;
  conversation: string;
  kind: string;
  text: string;
  /** Ids of the events behind the message (event notifications). */
  eventIds: string[];
  /** A proposal id when the message announces one (channels add buttons). */
  proposalId: string | null;
  thread: string | null;
  status: NotificationStatus;
  createdAt: string;
  sentAt: string | null;
  attempts: number;
}

export interface NewNotification {
  channel: string;
  conversation: string;
  kind: string;
  text: string;
  eventIds?: string[];
  proposalId?: string;
  thread?: string;
  /** A second notification with the same key is dropped: re-deliveries never notify twice. */
  dedupeKey: string;
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  run_key TEXT NOT NULL,
  failure INTEGER NOT NULL,
  occurred_at TEXT NOT NULL,
  received_at TEXT NOT NULL,
  payload TEXT NOT NULL,
  route TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  handled_at TEXT,
  outcome TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (status, route, seq);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  conversation TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  event_ids TEXT NOT NULL DEFAULT '[]',
  proposal_id TEXT,
  thread TEXT,
  dedupe_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending',
  created_at TEXT NOT NULL,
  sent_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT
);
CREATE INDEX IF NOT EXISTS notifications_by_status ON notifications (status, id);
CREATE TABLE IF NOT EXISTS notified_events (
  event_id TEXT PRIMARY KEY,
  notification_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS proposal_notices (
  proposal_id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  announced_at TEXT NOT NULL,
  last_reminded_at TEXT,
  reminders INTEGER NOT NULL DEFAULT 0,
  closed_at TEXT,
  closing TEXT
);
CREATE TABLE IF NOT EXISTS seen_keys (
  key TEXT PRIMARY KEY,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS slack_threads (
  channel TEXT NOT NULL,
  ts TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  PRIMARY KEY (channel, ts)
);
`;

const insertSql = `INSERT INTO events (id, source, type, run_key, failure, occurred_at, received_at, payload, route)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`;

type Row = Record<string, string | number | null | bigint | Uint8Array>;

function toEvent(row: Row): StoredEvent {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    source: row.source as 'job' | 'mlflow',
    type: String(row.type),
    runKey: String(row.run_key),
    failure: Number(row.failure) === 1,
    occurredAt: String(row.occurred_at),
    receivedAt: String(row.received_at),
    payload: JSON.parse(String(row.payload)),
    route: String(row.route),
    status: row.status as 'pending' | 'handled',
    handledAt: (row.handled_at as string | null) ?? null,
    outcome: (row.outcome as string | null) ?? null,
  };
}

function toNotification(row: Row): Notification {
  return {
    id: Number(row.id),
    channel: String(row.channel),
    conversation: String(row.conversation),
    kind: String(row.kind),
    text: String(row.text),
    eventIds: JSON.parse(String(row.event_ids)) as string[],
    proposalId: (row.proposal_id as string | null) ?? null,
    thread: (row.thread as string | null) ?? null,
    status: row.status as NotificationStatus,
    createdAt: String(row.created_at),
    sentAt: (row.sent_at as string | null) ?? null,
    attempts: Number(row.attempts),
  };
}

export interface ProposalNotice {
  proposalId: string;
  conversationId: string;
  expiresAt: string;
  announcedAt: string;
  lastRemindedAt: string | null;
  reminders: number;
  closedAt: string | null;
}

/** The service store. Synchronous (node:sqlite); every method is one short statement or transaction. */
export class EventStore {
  readonly db: DatabaseSync;
  readonly path: string;
  private readonly insertEvent: StatementSync;
  private readonly now: () => Date;

  constructor(dataDir: string, options: { now?: () => Date } = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'events.db');
    this.db = new DatabaseSync(this.path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.db.exec(schema);
    this.now = options.now ?? (() => new Date());
    this.insertEvent = this.db.prepare(insertSql);
  }

  /** Inserts events in one transaction; returns, per event, whether it was new (false: a repeat id). */
  insertEvents(events: readonly NewEvent[]): boolean[] {
    const receivedAt = this.now().toISOString();
    return this.transaction(() =>
      events.map(
        (e) =>
          Number(
            this.insertEvent.run(
              e.id,
              e.source,
              e.type,
              e.runKey,
              e.failure ? 1 : 0,
              e.occurredAt,
              receivedAt,
              e.payload,
              e.route,
            ).changes,
          ) === 1,
      ),
    );
  }

  /** Pending events, oldest first (all lanes, or one). */
  pendingEvents(route?: string, limit = 10_000): StoredEvent[] {
    const rows =
      route === undefined
        ? this.db.prepare(`SELECT * FROM events WHERE status = 'pending' ORDER BY seq LIMIT ?`).all(limit)
        : this.db
            .prepare(`SELECT * FROM events WHERE status = 'pending' AND route = ? ORDER BY seq LIMIT ?`)
            .all(route, limit);
    return (rows as Row[]).map(toEvent);
  }

  /** Lanes with pending events. */
  pendingRoutes(): string[] {
    const rows = this.db
      .prepare(
        `SELECT route, MIN(seq) AS first FROM events WHERE status = 'pending' GROUP BY route ORDER BY first`,
      )
      .all() as Row[];
    return rows.map((r) => String(r.route));
  }

  /** The event timeline, newest first. */
  listEvents(options: { limit?: number; beforeSeq?: number; runKey?: string } = {}): StoredEvent[] {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const rows = this.db
      .prepare(
        `SELECT * FROM events WHERE (? IS NULL OR seq < ?) AND (? IS NULL OR run_key = ?)
         ORDER BY seq DESC LIMIT ?`,
      )
      .all(
        options.beforeSeq ?? null,
        options.beforeSeq ?? null,
        options.runKey ?? null,
        options.runKey ?? null,
        limit,
      ) as Row[];
    return rows.map(toEvent);
  }

  getEvent(id: string): StoredEvent | undefined {
    const row = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row | undefined;
    return row ? toEvent(row) : undefined;
  }

  countEvents(): number {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as Row).n);
  }

  /**
   * Completes a turn atomically: the events become handled and, unless the turn was silent, the
   * notification enters the outbox. Events that already have a notification are not notified
   * again (a crash after this commit cannot re-run the turn, but a stale duplicate never slips in).
   */
  completeTurn(
    eventIds: readonly string[],
    notification: NewNotification | undefined,
  ): Notification | undefined {
    const at = this.now().toISOString();
    return this.transaction(() => {
      const markHandled = this.db.prepare(
        `UPDATE events SET status = 'handled', handled_at = ?, outcome = ? WHERE id = ? AND status = 'pending'`,
      );
      const fresh = notification
        ? eventIds.filter(
            (id) => !this.db.prepare('SELECT 1 FROM notified_events WHERE event_id = ?').get(id),
          )
        : [];
      let created: Notification | undefined;
      if (notification && (fresh.length > 0 || eventIds.length === 0)) {
        created = this.insertNotification({ ...notification, eventIds: fresh });
        if (created) {
          const link = this.db.prepare(
            'INSERT OR IGNORE INTO notified_events (event_id, notification_id) VALUES (?, ?)',
          );
          for (const id of fresh) link.run(id, created.id);
        }
      }
      for (const id of eventIds) markHandled.run(at, notification ? 'notified' : 'silent', id);
      return created;
    });
  }

  /** Adds a notification to the outbox; undefined when its dedupe key was used before. */
  insertNotification(n: NewNotification): Notification | undefined {
    const result = this.db
      .prepare(
        `INSERT INTO notifications (channel, conversation, kind, text, event_ids, proposal_id, thread, dedupe_key, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING`,
      )
      .run(
        n.channel,
        n.conversation,
        n.kind,
        n.text,
        JSON.stringify(n.eventIds ?? []),
        n.proposalId ?? null,
        n.thread ?? null,
        n.dedupeKey,
        this.now().toISOString(),
      );
    if (Number(result.changes) !== 1) return undefined;
    return this.getNotification(Number(result.lastInsertRowid));
  }

  getNotification(id: number): Notification | undefined {
    const row = this.db.prepare('SELECT * FROM notifications WHERE id = ?').get(id) as Row | undefined;
    return row ? toNotification(row) : undefined;
  }

  notificationsWithStatus(status: NotificationStatus, limit = 100): Notification[] {
    return (
      this.db
        .prepare('SELECT * FROM notifications WHERE status = ? ORDER BY id LIMIT ?')
        .all(status, limit) as Row[]
    ).map(toNotification);
  }

  /** Notifications of one channel (optionally one conversation), oldest first, after an id. */
  listNotifications(options: { channel?: string; conversation?: string; afterId?: number; limit?: number }) {
    const rows = this.db
      .prepare(
        `SELECT * FROM notifications WHERE (? IS NULL OR channel = ?) AND (? IS NULL OR conversation = ?)
         AND id > ? ORDER BY id DESC LIMIT ?`,
      )
      .all(
        options.channel ?? null,
        options.channel ?? null,
        options.conversation ?? null,
        options.conversation ?? null,
        options.afterId ?? 0,
        Math.min(options.limit ?? 100, 500),
      ) as Row[];
    return rows.map(toNotification).reverse();
  }

  setNotificationStatus(id: number, status: NotificationStatus, error?: string): void {
    this.db
      .prepare(
        `UPDATE notifications SET status = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
         attempts = attempts + CASE WHEN ? IN ('sent', 'failed') THEN 1 ELSE 0 END, error = ? WHERE id = ?`,
      )
      .run(status, status, this.now().toISOString(), status, error ?? null, id);
  }

  /** A delivery failed: the notification stays pending for a retry, or fails after `maxAttempts`. */
  notificationAttemptFailed(id: number, error: string, maxAttempts: number): NotificationStatus {
    this.db
      .prepare(
        `UPDATE notifications SET attempts = attempts + 1, error = ?,
         status = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE status END WHERE id = ?`,
      )
      .run(error, maxAttempts, id);
    return (this.getNotification(id)?.status ?? 'failed') as NotificationStatus;
  }

  /** Sent (or digested) notifications of one channel+conversation since a time: the flood cap's count. */
  sentSince(channel: string, conversation: string, sinceIso: string): number {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS n FROM notifications WHERE channel = ? AND conversation = ? AND status = 'sent'
         AND kind IN ('event', 'digest') AND sent_at >= ?`,
      )
      .get(channel, conversation, sinceIso) as Row;
    return Number(row.n);
  }

  /** Records a key once; false when it was seen before (Slack retries, duplicate clicks). */
  firstSeen(key: string): boolean {
    const result = this.db
      .prepare('INSERT INTO seen_keys (key, at) VALUES (?, ?) ON CONFLICT(key) DO NOTHING')
      .run(key, this.now().toISOString());
    return Number(result.changes) === 1;
  }

  rememberSlackThread(channel: string, ts: string, conversationId: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO slack_threads (channel, ts, conversation_id) VALUES (?, ?, ?)')
      .run(channel, ts, conversationId);
  }

  slackThreadConversation(channel: string, ts: string): string | undefined {
    const row = this.db
      .prepare('SELECT conversation_id FROM slack_threads WHERE channel = ? AND ts = ?')
      .get(channel, ts) as Row | undefined;
    return row ? String(row.conversation_id) : undefined;
  }

  proposalNotice(id: string): ProposalNotice | undefined {
    const row = this.db.prepare('SELECT * FROM proposal_notices WHERE proposal_id = ?').get(id) as
      | Row
      | undefined;
    if (!row) return undefined;
    return {
      proposalId: String(row.proposal_id),
      conversationId: String(row.conversation_id),
      expiresAt: String(row.expires_at),
      announcedAt: String(row.announced_at),
      lastRemindedAt: (row.last_reminded_at as string | null) ?? null,
      reminders: Number(row.reminders),
      closedAt: (row.closed_at as string | null) ?? null,
    };
  }

  openProposalNotices(): ProposalNotice[] {
    const rows = this.db
      .prepare('SELECT proposal_id FROM proposal_notices WHERE closed_at IS NULL')
      .all() as Row[];
    return rows.map((r) => this.proposalNotice(String(r.proposal_id)) as ProposalNotice);
  }

  recordAnnounced(id: string, conversationId: string, expiresAt: string): boolean {
    const result = this.db
      .prepare(
        `INSERT INTO proposal_notices (proposal_id, conversation_id, expires_at, announced_at)
         VALUES (?, ?, ?, ?) ON CONFLICT(proposal_id) DO NOTHING`,
      )
      .run(id, conversationId, expiresAt, this.now().toISOString());
    return Number(result.changes) === 1;
  }

  recordReminded(id: string): void {
    this.db
      .prepare(
        'UPDATE proposal_notices SET last_reminded_at = ?, reminders = reminders + 1 WHERE proposal_id = ?',
      )
      .run(this.now().toISOString(), id);
  }

  recordClosed(id: string, closing: string): void {
    this.db
      .prepare(
        'UPDATE proposal_notices SET closed_at = ?, closing = ? WHERE proposal_id = ? AND closed_at IS NULL',
      )
      .run(this.now().toISOString(), closing, id);
  }

  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

/**
 * The commit thread: its own connection to the same file, so the fsync of one batch happens off
 * the main thread while the next batch gathers. Inline (eval) so the bundled bin needs no file.
 */
const writerThreadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
const insert = db.prepare(workerData.insertSql);
parentPort.on('message', ({ id, events, receivedAt }) => {
  try {
    db.exec('BEGIN IMMEDIATE');
    const fresh = events.map((e) => Number(insert.run(e.id, e.source, e.type, e.runKey, e.failure ? 1 : 0,
      e.occurredAt, receivedAt, e.payload, e.route).changes) === 1);
    db.exec('COMMIT');
    parentPort.postMessage({ id, fresh });
  } catch (error) {
    try { db.exec('ROLLBACK'); } catch {}
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

type Pending = { event: NewEvent; resolve: (fresh: boolean) => void; reject: (e: unknown) => void };

/**
 * Group commit for the intake: requests that arrive while a commit is under way share the next
 * one (one fsync for the lot), and each request's promise settles only after its commit. With
 * `thread: true` commits run on a worker thread, so the main thread keeps accepting requests
 * while the disk syncs.
 */
export class EventWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight = false;
  private batches = 0;
  private readonly store: EventStore;
  private readonly onStored: () => void;
  private readonly now: () => Date;
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Pending[]>();

  constructor(
    store: EventStore,
    onStored: () => void = () => {},
    options: { thread?: boolean; now?: () => Date } = {},
  ) {
    this.store = store;
    this.onStored = onStored;
    this.now = options.now ?? (() => new Date());
    if (options.thread) {
      this.worker = new Worker(writerThreadSource, {
        eval: true,
        workerData: { path: store.path, insertSql },
      });
      this.worker.unref();
      this.worker.on('message', (message: { id: number; fresh?: boolean[]; error?: string }) =>
        this.settle(message),
      );
      this.worker.on('error', (error) => {
        for (const batch of this.waiting.values()) for (const b of batch) b.reject(error);
        this.waiting.clear();
        this.worker = undefined;
        this.inFlight = false;
      });
    }
  }

  /** Resolves true when stored, false when the id was stored before; after the commit either way. */
  write(event: NewEvent): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (!this.scheduled && !this.inFlight) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.worker) {
      const id = ++this.batches;
      this.inFlight = true;
      this.waiting.set(id, batch);
      this.worker.ref();
      this.worker.postMessage({
        id,
        events: batch.map((b) => b.event),
        receivedAt: this.now().toISOString(),
      });
      return;
    }
    try {
      const fresh = this.store.insertEvents(batch.map((b) => b.event));
      batch.forEach((b, i) => {
        b.resolve(fresh[i] as boolean);
      });
      if (fresh.some(Boolean)) this.onStored();
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  private settle(message: { id: number; fresh?: boolean[]; error?: string }): void {
    const batch = this.waiting.get(message.id) ?? [];
    this.waiting.delete(message.id);
    this.inFlight = false;
    this.worker?.unref();
    if (message.error !== undefined) {
      for (const b of batch) b.reject(new Error(message.error));
    } else {
      batch.forEach((b, i) => {
        b.resolve(message.fresh?.[i] === true);
      });
      if (message.fresh?.some(Boolean)) this.onStored();
    }
    // What gathered during the commit goes now, together.
    if (this.queue.length > 0) this.flush();
  }

  /** Waits for the commit in flight, then stops the commit thread. */
  async close(): Promise<void> {
    while (this.inFlight || this.queue.length > 0) {
      if (!this.inFlight) this.flush();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
