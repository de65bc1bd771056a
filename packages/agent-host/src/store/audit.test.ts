import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from './audit.ts';
import { openStore } from './store.ts';

function logWithRows(n: number) {
  const store = openStore(mkdtempSync(join(tmpdir(), 'nightshift-audit-')));
  const audit = createAuditLog(store.db);
  for (let i = 1; i <= n; i++) {
    audit.append({
      kind: 'tool_call',
      conversationId: 'c1',
      actor: 'model',
      data: { tool: `t${i}`, argsHash: 'ab' },
    });
  }
  return { store, audit };
}

/** What someone with the database file could do: drop the triggers and change rows. */
function tamper(store: ReturnType<typeof openStore>, sql: string) {
  store.db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  store.db.exec(sql);
}

describe('the audit log', () => {
  it('chains every row to the one before and verifies clean', () => {
    const { audit } = logWithRows(4);
    const rows = audit.list();
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(rows[0]?.prevHash).toBe('0'.repeat(64));
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.prevHash).toBe(rows[i - 1]?.hash);
    expect(audit.verify()).toEqual({ ok: true, rows: 4, headHash: rows[3]?.hash, problems: [] });
  });

  it('refuses updates and deletes through SQL', () => {
    const { store } = logWithRows(2);
    expect(() => store.db.exec("UPDATE audit SET actor = 'x' WHERE seq = 1")).toThrow(/append-only/);
    expect(() => store.db.exec('DELETE FROM audit WHERE seq = 1')).toThrow(/append-only/);
  });

  it('detects an edited row', () => {
    const { store, audit } = logWithRows(3);
    tamper(store, `UPDATE audit SET data = '{"argsHash":"ab","tool":"other"}' WHERE seq = 2`);
    const result = audit.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(['row 2: content does not match its hash (edited)']);
  });

  it('detects an edited row whose hash was recomputed without the chain', () => {
    const { store, audit } = logWithRows(3);
    tamper(store, "UPDATE audit SET hash = 'f'||substr(hash, 2) WHERE seq = 2");
    expect(audit.verify().problems).toEqual([
      'row 2: content does not match its hash (edited)',
      'row 3: does not chain to the row before it (a row was deleted or edited)',
    ]);
  });

  it('detects a deleted row in the middle and at the end', () => {
    const middle = logWithRows(4);
    tamper(middle.store, 'DELETE FROM audit WHERE seq = 2');
    expect(middle.audit.verify().problems).toEqual([
      'rows 2..2 are missing (deleted)',
      'row 3: does not chain to the row before it (a row was deleted or edited)',
    ]);
    const tail = logWithRows(4);
    tamper(tail.store, 'DELETE FROM audit WHERE seq >= 3');
    expect(tail.audit.verify().problems).toEqual(['rows 3..4 are missing at the end (deleted)']);
  });

  it('keeps chaining after a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-audit-'));
    const first = openStore(dir);
    createAuditLog(first.db).append({ kind: 'a' });
    first.close();
    const second = openStore(dir);
    const audit = createAuditLog(second.db);
    audit.append({ kind: 'b' });
    expect(audit.verify()).toMatchObject({ ok: true, rows: 2 });
  });
});

describe('the audit hash', () => {
  it('is the same whether computed at append time or from the stored row', () => {
    const { audit } = logWithRows(0);
    audit.append({
      kind: 'x',
      conversationId: null,
      actor: null,
      data: { z: 1, a: { y: [1, 'é'], b: null } },
    });
    audit.append({ kind: 'y', conversationId: 'c "quoted"', actor: 'Åsa', data: {} });
    expect(audit.verify()).toMatchObject({ ok: true, rows: 2 });
  });
});
