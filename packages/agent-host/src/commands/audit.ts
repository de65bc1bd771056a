import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CliIo, parseCommandFlags, takeConfigFlag } from '../cli.ts';
import { loadConfig } from '../config.ts';
import { createAuditLog } from '../store/audit.ts';
import { openStore } from '../store/store.ts';

/** `nightshift audit [--limit N] [--json] [--verify]`: reads the store only; starts no server. */
export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const { configPath, rest } = takeConfigFlag(argv, io.env);
  const { values } = parseCommandFlags(rest, {
    verify: { type: 'boolean' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
  });
  const config = loadConfig(configPath, io.env, { ignoreMissingEnv: true });
  if (!existsSync(join(config.dataDir, 'nightshift.db'))) {
    io.stderr.write(`no audit log yet: ${join(config.dataDir, 'nightshift.db')} does not exist\n`);
    return values.verify ? 1 : 0;
  }
  const store = openStore(config.dataDir);
  try {
    const audit = createAuditLog(store.db);
    if (values.verify) {
      const result = audit.verify();
      if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.ok) {
        io.stdout.write(`audit log intact: ${result.rows} rows, head ${result.headHash}\n`);
      } else {
        io.stdout.write(
          `audit log TAMPERED (${result.problems.length} problem(s)):\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`,
        );
      }
      return result.ok ? 0 : 1;
    }
    const limit = values.limit ? Number(values.limit) : 50;
    if (!Number.isInteger(limit) || limit <= 0) throw new Error('--limit takes a positive whole number');
    const rows = audit.list({ limit });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    for (const row of rows) {
      const data = Object.entries(row.data)
        .map(
          ([k, v]) =>
            `${k}=${typeof v === 'string' ? (k.endsWith('Hash') ? v.slice(0, 12) : v) : JSON.stringify(v)}`,
        )
        .join(' ');
      io.stdout.write(
        `${String(row.seq).padStart(5)} ${row.at} ${row.kind.padEnd(20)} ${(row.actor ?? '-').padEnd(10)} ${row.conversationId ?? '-'} ${data}\n`,
      );
    }
    if (rows.length === 0) io.stdout.write('the audit log is empty\n');
    return 0;
  } finally {
    store.close();
  }
}
