import type { CliIo } from '../cli.ts';
export async function doctorCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr.write('nightshift doctor: not built yet\n');
  return 2;
}
