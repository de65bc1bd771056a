import type { CliIo } from '../cli.ts';
export async function auditCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr.write('nightshift audit: not built yet\n');
  return 2;
}
