import type { DatabaseSync } from 'node:sqlite';
import { canonicalJson, sha256 } from '../core/canonical.ts';
import type { AuditLog, AuditRow, AuditVerification } from '../core/types.ts';

const genesis = '0'.repeat(64);

interface RawRow {
  seq: number;
  at: string;
  kind: string;
  conversation_id: string | null;
  actor: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

/** What a row's hash covers: every field but the hash itself, chained to the previous hash. */
function rowHash(prevHash: string, row: Omit<AuditRow, 'hash' | 'prevHash'>): string {
  return sha256(
    `${prevHash}\n${canonicalJson({
      seq: row.seq,
      at: row.at,
      kind: row.kind,
      conversationId: row.conversationId,
      actor: row.actor,
      data: row.data,
    })}`,
  );
}

/**
 * The same hash from the stored text: the data column holds the canonical JSON written at
 * append time, so verify need not parse and re-serialize it. Any change to those bytes, even an
 * equivalent re-serialization, changes the hash and counts as an edit.
 */
function storedRowHash(raw: RawRow): string {
  const text =
    `{"actor":${JSON.stringify(raw.actor)},"at":${JSON.stringify(raw.at)},` +
    `"conversationId":${JSON.stringify(raw.conversation_id)},"data":${raw.data},` +
    `"kind":${JSON.stringify(raw.kind)},"seq":${raw.seq}}`;
  return sha256(`${raw.prev_hash}\n${text}`);
}

function toRow(raw: RawRow): AuditRow {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(raw.data) as Record<string, unknown>;
  } catch {
    data = { unparsable: raw.data };
  }
  return {
    seq: raw.seq,
    at: raw.at,
    kind: raw.kind,
    conversationId: raw.conversation_id,
    actor: raw.actor,
    data,
    prevHash: raw.prev_hash,
    hash: raw.hash,
  };
}

/**
 * The append-only audit log: every tool call and every proposal event. Each row carries the
 * hash of the row before it, so an edited row breaks its own hash and a deleted one breaks the
 * chain; `verify()` finds both.
 */
export function createAuditLog(db: DatabaseSync, now: () => Date = () => new Date()): AuditLog {
  const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    'INSERT INTO audit (seq, at, kind, conversation_id, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    append(entry) {
      // The read of the previous hash and the insert form one transaction, so two appends can
      // never chain to the same predecessor.
      db.exec('BEGIN IMMEDIATE');
      try {
        const prev = last.get() as { seq: number; hash: string } | undefined;
        const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").get() as
          | { seq: number }
          | undefined;
        const seq = Math.max(prev?.seq ?? 0, sequence?.seq ?? 0) + 1;
        const row = {
          seq,
          at: now().toISOString(),
          kind: entry.kind,
          conversationId: entry.conversationId ?? null,
          actor: entry.actor ?? null,
          data: JSON.parse(canonicalJson(entry.data ?? {})) as Record<string, unknown>,
        };
        const prevHash = prev?.hash ?? genesis;
        const hash = rowHash(prevHash, row);
        insert.run(
          seq,
          row.at,
          row.kind,
          row.conversationId,
          row.actor,
          canonicalJson(row.data),
          prevHash,
          hash,
        );
        db.exec('COMMIT');
        return { ...row, prevHash, hash };
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    },
    list(options = {}) {
      const limit = options.limit ?? 100;
      const rows = (options.conversationId
        ? db
            .prepare('SELECT * FROM audit WHERE seq > ? AND conversation_id = ? ORDER BY seq DESC LIMIT ?')
            .all(options.afterSeq ?? 0, options.conversationId, limit)
        : db
            .prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq DESC LIMIT ?')
            .all(options.afterSeq ?? 0, limit)) as unknown as RawRow[];
      return rows.reverse().map(toRow);
    },
    verify(): AuditVerification {
      const problems: string[] = [];
      let expectedSeq = 1;
      let prevHash = genesis;
      let rows = 0;
      for (const raw of db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as Iterable<RawRow>) {
        rows++;
        if (raw.seq !== expectedSeq) {
          problems.push(`rows ${expectedSeq}..${raw.seq - 1} are missing (deleted)`);
        }
        if (raw.prev_hash !== prevHash) {
          problems.push(`row ${raw.seq}: does not chain to the row before it (a row was deleted or edited)`);
        }
        if (storedRowHash(raw) !== raw.hash) {
          problems.push(`row ${raw.seq}: content does not match its hash (edited)`);
        }
        prevHash = raw.hash;
        expectedSeq = raw.seq + 1;
      }
      // AUTOINCREMENT remembers the highest seq ever used: a shorter log means its tail was cut.
      const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").get() as
        | { seq: number }
        | undefined;
      if (sequence && sequence.seq >= expectedSeq) {
        problems.push(`rows ${expectedSeq}..${sequence.seq} are missing at the end (deleted)`);
      }
      return { ok: problems.length === 0, rows, headHash: prevHash, problems };
    },
  };
}
