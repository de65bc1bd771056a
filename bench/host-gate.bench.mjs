// The host's own cost per turn, next to a direct MCP tool call measured in the same run: a turn
// that runs a read tool (two scripted model steps, SQLite writes, an audit row), a turn whose
// write is held by the gate, the confirmation that runs it; and `audit --verify` over 10 000 rows
// next to a plain read of the same rows. Targets: host overhead per turn ≤ 15 ms median over the
// direct call; verifying 10 000 audit rows ≤ 500 ms.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const pkg = join(root, 'packages', 'agent-host');
const runs = Number(process.env.BENCH_RUNS ?? 30);

export async function run() {
  if (!existsSync(join(pkg, 'dist', 'index.js'))) return [];
  const host = await import(join(pkg, 'dist', 'index.js'));
  const { Client } = await import(
    join(pkg, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js')
  );
  const { StdioClientTransport } = await import(
    join(pkg, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js')
  );
  const fixture = join(pkg, 'src', '__fixtures__', 'recording-server.ts');
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-host-'));
  const serverEnv = { FX_RECORD_FILE: join(dir, 'calls.jsonl'), FX_STATE_FILE: join(dir, 'state.json') };

  // Baseline: the same read tool called directly with the SDK client.
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [fixture],
      env: { PATH: process.env.PATH, ...serverEnv },
    }),
  );
  const turns = [];
  for (let i = 0; i < runs + 3; i++) {
    turns.push(
      { text: '', toolCalls: [{ name: 'fx_read_status', arguments: { what: 'x' } }] },
      { text: 'fine' },
    );
  }
  for (let i = 0; i < runs; i++) {
    turns.push(
      {
        text: '',
        toolCalls: [{ name: 'fx_write_config', arguments: { path: `f${i}.yaml`, content: 'a: 1' } }],
      },
      { text: 'held' },
      { text: 'done' },
    );
  }
  const config = host.parseConfig(
    JSON.stringify({
      dataDir: join(dir, 'data'),
      brief: join(dir, 'brief.md'),
      mcpServers: { fx: { command: process.execPath, args: [fixture], env: serverEnv, trusted: true } },
      people: [{ name: 'Bench', role: 'approver', terminal: 'bench' }],
    }),
    { env: {} },
  );
  const model = host.createScriptedModel(turns);
  const h = await host.createHost(config, { model, log: () => undefined });
  const say = (text, conversationId) =>
    h.handleMessage({ channel: 'terminal', senderId: 'bench', conversationId, text });
  // Interleaved with the baseline, so both see the same machine load.
  const direct = [];
  const readTurns = [];
  for (let i = 0; i < runs + 3; i++) {
    let start = performance.now();
    await client.callTool({ name: 'fx_read_status', arguments: { what: 'x' } });
    if (i >= 3) direct.push(performance.now() - start);
    start = performance.now();
    await say('status?', `read-${i % 4}`);
    if (i >= 3) readTurns.push(performance.now() - start);
  }
  await client.close();
  const base = median(direct);
  const holds = [];
  const confirms = [];
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    await say('write it', `write-${i}`);
    holds.push(performance.now() - start);
    start = performance.now();
    await say('yes', `write-${i}`);
    confirms.push(performance.now() - start);
  }

  // Fill the audit log to 10 000 rows, then time verify against reading the same rows.
  const target = 10_000;
  const existing = h.audit.verify().rows;
  for (let i = existing; i < target; i++)
    h.audit.append({ kind: 'bench', data: { i, argsHash: 'x'.repeat(64) } });
  const verifyTimes = [];
  const readTimes = [];
  for (let i = 0; i < 5; i++) {
    let start = performance.now();
    const result = h.audit.verify();
    verifyTimes.push(performance.now() - start);
    if (!result.ok) throw new Error(`audit chain broken: ${result.problems.join('; ')}`);
    start = performance.now();
    h.audit.list({ limit: target });
    readTimes.push(performance.now() - start);
  }
  await h.close();

  const row = (name, times, target) => ({
    bench: 'host turn (median)',
    case: name,
    value: median(times),
    unit: 'ms',
    baseline: base,
    baselineName: 'direct MCP call',
    ratio: median(times) / base,
    target,
  });
  return [
    row('read tool turn', readTurns, '≤ direct + 15 ms'),
    row('write held by the gate', holds, '≤ direct + 15 ms'),
    row('confirmation runs the write', confirms, '≤ direct + 15 ms'),
    {
      bench: 'audit --verify (median)',
      case: `${target} rows`,
      value: median(verifyTimes),
      unit: 'ms',
      baseline: median(readTimes),
      baselineName: 'read the rows',
      ratio: median(verifyTimes) / median(readTimes),
      target: '≤ 500 ms',
    },
  ];
}
