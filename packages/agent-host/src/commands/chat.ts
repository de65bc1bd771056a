import type { CliIo } from '../cli.ts';
export async function chatCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr.write('nightshift chat: not built yet\n');
  return 2;
}
