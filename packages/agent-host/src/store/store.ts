import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * The host's SQLite store (`node:sqlite`): conversations, turns, messages, tool calls,
 * proposals and the audit log, in one file under the data directory. Synchronous on purpose:
 * every write is a short statement, and a proposal's status change must be atomic.
 */
export interface Store {
  readonly db: DatabaseSync;
  readonly path: string;
  close(): void;
}

const schema = `
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  channel TEXT,
  created_at TEXT NOT NULL,
  last_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
  id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL,
  steps INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL,
  turn_id TEXT,
  at TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, id);
CREATE TABLE IF NOT EXISTS tool_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  turn_id TEXT,
  conversation_id TEXT,
  server TEXT NOT NULL,
  tool TEXT NOT NULL,
  class TEXT NOT NULL,
  args_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  at TEXT NOT NULL,
  duration_ms INTEGER,
  error TEXT
);
CREATE TABLE IF NOT EXISTS proposals (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  change_set TEXT NOT NULL,
  position INTEGER NOT NULL,
  conversation_id TEXT NOT NULL,
  turn_id TEXT NOT NULL,
  server TEXT NOT NULL,
  tool TEXT NOT NULL,
  exposed_name TEXT NOT NULL,
  args TEXT NOT NULL,
  args_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  decided_by TEXT,
  decided_channel TEXT,
  decided_at TEXT,
  result TEXT
);
CREATE INDEX IF NOT EXISTS proposals_by_conversation ON proposals (conversation_id, status);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  conversation_id TEXT,
  actor TEXT,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
-- Append-only: the host never updates or deletes audit rows. Someone with the file can drop
-- these triggers, which is why every row also carries the previous row's hash.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

/** Opens (creating if needed) `<dataDir>/nightshift.db`. */
export function openStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'nightshift.db');
  const db = new DatabaseSync(path);
  // WAL with synchronous=NORMAL: every commit is atomic and the file stays consistent; only a
  // power loss can drop the last commits (all tables together). FULL costs an fsync per row,
  // which made a turn ~20x slower (bench/host-gate.bench.mjs).
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
  );
  db.exec(schema);
  return { db, path, close: () => db.close() };
}
