import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type NightshiftConfig, parseConfig } from '../config.ts';
import { createHost } from '../core/host.ts';
import type { Host } from '../core/types.ts';
import { createScriptedModel, type ScriptedModel, type ScriptedTurn } from '../models/scripted.ts';
import type { ModelAdapter } from '../models/types.ts';

export const recordingServer = fileURLToPath(new URL('./recording-server.ts', import.meta.url));

export interface FixtureHost {
  host: Host;
  model: ScriptedModel;
  config: NightshiftConfig;
  dir: string;
  stateFile: string;
  /** The calls the fixture server really executed, in order. */
  executed(): Array<{ tool: string; args: Record<string, unknown>; pid: number }>;
  logs: string[];
  clock: { now: Date };
  close(): Promise<void>;
}

export const defaultPeople = [
  { name: 'Anna', role: 'approver', terminal: 'anna', slack: 'U-ANNA' },
  { name: 'Bo', role: 'approver', terminal: 'bo' },
  { name: 'Vera', role: 'viewer', terminal: 'vera' },
];

/** A host over the real recording MCP server (stdio) with a scripted model. */
export async function fixtureHost(
  options: {
    turns?: ScriptedTurn[];
    model?: ModelAdapter;
    config?: Record<string, unknown>;
    servers?: Record<string, Record<string, unknown>>;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<FixtureHost> {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-host-'));
  const recordFile = join(dir, 'calls.jsonl');
  const stateFile = join(dir, 'state.json');
  const serverEnv = { FX_RECORD_FILE: recordFile, FX_STATE_FILE: stateFile };
  const servers = options.servers ?? {
    fx: { command: process.execPath, args: [recordingServer], env: serverEnv, trusted: true },
  };
  for (const server of Object.values(servers)) {
    if ('command' in server) server.env = { ...serverEnv, ...(server.env as object) };
  }
  const config = parseConfig(
    stringify({
      dataDir: join(dir, 'data'),
      brief: join(dir, 'brief.md'),
      mcpServers: servers,
      people: defaultPeople,
      ...options.config,
    }),
    { env: options.env ?? {}, baseDir: dir },
  );
  const model = createScriptedModel(options.turns ?? []);
  const logs: string[] = [];
  const clock = { now: new Date('2026-01-10T10:00:00Z') };
  const host = await createHost(config, {
    model: options.model ?? model,
    log: (line) => logs.push(line),
    now: () => clock.now,
    poolOptions: { backoffMs: 50, maxBackoffMs: 200 },
  });
  return {
    host,
    model,
    config,
    dir,
    stateFile,
    logs,
    clock,
    executed: () =>
      existsSync(recordFile)
        ? readFileSync(recordFile, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : [],
    close: () => host.close(),
  };
}

/** Shorthand for a message from a person in the default conversation. */
export function say(
  fx: FixtureHost,
  senderId: string,
  text: string,
  conversationId = 'c1',
  channel = 'terminal',
) {
  return fx.host.handleMessage({ channel, senderId, conversationId, text });
}

export const write = (
  path = 'configs/a.yaml',
  content = 'image_size: 640',
  extra: Record<string, unknown> = {},
) => ({
  name: 'fx_write_config',
  arguments: { path, content, ...extra },
});
