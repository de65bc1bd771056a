import type { NightshiftConfig } from '../config.ts';
import type { CreateHostOptions } from './host.ts';
import type { Host } from './types.ts';

export async function startHost(_config: NightshiftConfig, _options: CreateHostOptions): Promise<Host> {
  throw new Error('the host core is being built');
}
