// Shared helpers for benchmarks. Every benchmark measures its baseline in the same run and
// reports the ratio: absolute numbers on a shared 2-core machine mislead.
import { spawn } from 'node:child_process';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Milliseconds from spawn to the process's exit. */
export async function timeProcess(command, args, env = process.env) {
  const start = performance.now();
  await new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  return performance.now() - start;
}

/** Milliseconds from spawn to the answer of tools/list over stdio (initialize first, as clients do). */
export async function timeMcpColdStart(command, args, env = process.env, timeoutMs = 10_000) {
  const start = performance.now();
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const send = (message) => child.stdin.write(`${JSON.stringify(message)}\n`);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${args.join(' ')}: no tools/list answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      let buffer = '';
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before answering`)));
      child.stdout.on('data', (chunk) => {
        buffer += chunk;
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const message = JSON.parse(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
          if (message.id === 1) {
            send({ jsonrpc: '2.0', method: 'notifications/initialized' });
            send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
          } else if (message.id === 2) {
            clearTimeout(timer);
            resolve(performance.now() - start);
          }
          newline = buffer.indexOf('\n');
        }
      });
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'bench', version: '0' },
        },
      });
    });
  } finally {
    child.removeAllListeners('exit');
    child.kill();
  }
}

export function formatTable(rows) {
  const header = ['benchmark', 'case', 'value', 'baseline', 'ratio', 'target'];
  const lines = rows.map((r) => [
    r.bench,
    r.case,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline !== undefined
      ? `${fmt(r.baseline)} ${r.unit} (${r.baselineName})`
      : r.baselineName
        ? `none: ${r.baselineName}`
        : '',
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.target ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [row(header), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row)].join('\n');
}

function fmt(n) {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
