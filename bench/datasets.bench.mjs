// mcp-datasets on a generated YOLO dataset of 100k small images (80k train, 20k val): stats on a
// cold cache, warm (same server, second call), and after a restart (disk cache), against a plain
// readdir+stat walk of the same tree measured in the same run. Also the server's peak RSS.
// Targets: cold < 10 s on 2 cores with peak RSS < 300 MB; warm < 100 ms.
// The dataset is generated once and cached under $NIGHTSHIFT_CACHE, keyed by `datasetVersion`.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { median } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const packageDir = join(root, 'packages', 'mcp-datasets');
const bin = join(packageDir, 'bin', 'nightshift-mcp-datasets.js');
const require = createRequire(join(packageDir, 'package.json'));

/** Bump when the generator changes, so a stale cached dataset is not reused. */
const datasetVersion = 'yolo-100k-v1';
const images = Number(process.env.BENCH_DATASET_IMAGES ?? 100_000);
const classes = ['scratch', 'dent', 'rust', 'crack', 'stain'];

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A 16×16 greyscale PNG whose pixels encode `n`, so every image differs. */
function png(n) {
  const size = 16;
  const raw = Buffer.alloc((size + 1) * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      raw[y * (size + 1) + 1 + x] = ((n >> ((x % 3) * 8)) + x * 7 + y * 13) & 255;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function generate(dir) {
  const done = join(dir, '.complete');
  if (existsSync(done)) return;
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`[bench] generating ${images} images under ${dir} (once)\n`);
  const version = join(dir, 'parts', 'v1');
  for (const split of ['train', 'val']) {
    mkdirSync(join(version, 'images', split), { recursive: true });
    mkdirSync(join(version, 'labels', split), { recursive: true });
  }
  writeFileSync(
    join(version, 'data.yaml'),
    `train: images/train\nval: images/val\nnames:\n${classes.map((c, i) => `  ${i}: ${c}`).join('\n')}\n`,
  );
  for (let i = 0; i < images; i++) {
    const split = i % 5 === 4 ? 'val' : 'train';
    const name = `img-${String(i).padStart(6, '0')}`;
    writeFileSync(join(version, 'images', split, `${name}.png`), png(i));
    const lines = [];
    for (let j = 0; j <= i % 3; j++) {
      const w = 0.1 + ((i + j) % 7) * 0.1;
      lines.push(`${(i + j) % classes.length} 0.5 0.5 ${w.toFixed(2)} ${(w / 2).toFixed(2)}`);
    }
    writeFileSync(join(version, 'labels', split, `${name}.txt`), `${lines.join('\n')}\n`);
  }
  writeFileSync(done, datasetVersion);
}

/** The baseline: what any tool must at least do to notice a changed file. */
function walkAndStat(dir) {
  let files = 0;
  const stack = [dir];
  while (stack.length) {
    const current = stack.pop();
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else {
        statSync(path);
        files++;
      }
    }
  }
  return files;
}

async function startServer(datasetsRoot, cacheDir) {
  const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NIGHTSHIFT_DATASETS_ROOT: datasetsRoot,
      NIGHTSHIFT_DATASETS_CACHE_DIR: cacheDir,
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  const stats = async () => {
    const start = performance.now();
    const result = await client.callTool(
      { name: 'datasets_get_stats', arguments: { dataset: 'parts' } },
      undefined,
      { timeout: 600_000, onprogress: () => {} },
    );
    const ms = performance.now() - start;
    if (result.isError) throw new Error(result.content[0]?.text);
    return { ms, result: result.structuredContent };
  };
  /** Peak resident set of the server process (VmHWM), in MB. */
  const peakRssMb = () => {
    const status = readFileSync(`/proc/${transport.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  };
  /** CPU seconds (user + system) the server process has used: what load on a shared machine does not inflate. */
  const cpuSeconds = () => {
    const fields = readFileSync(`/proc/${transport.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  return { stats, peakRssMb, cpuSeconds, close: () => client.close() };
}

export async function run() {
  if (!existsSync(join(packageDir, 'dist', 'bundle', 'main.js'))) {
    process.stderr.write('[bench] mcp-datasets is not built; skipping\n');
    return [];
  }
  const cache = process.env.NIGHTSHIFT_CACHE ?? join(tmpdir(), 'nightshift-cache');
  const datasetsRoot = join(cache, 'bench', `datasets-${datasetVersion}-${images}`);
  generate(datasetsRoot);
  const version = join(datasetsRoot, 'parts', 'v1');

  const walks = [];
  let files = 0;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    files = walkAndStat(version);
    walks.push(performance.now() - start);
  }
  const walk = median(walks);
  const cpuStart = process.cpuUsage();
  walkAndStat(version);
  const cpuUsed = process.cpuUsage(cpuStart);
  const walkCpu = (cpuUsed.user + cpuUsed.system) / 1e6;

  const scanCache = mkdtempSync(join(tmpdir(), 'nightshift-bench-datasets-'));
  const rows = [];
  try {
    const server = await startServer(datasetsRoot, scanCache);
    const cpuBefore = server.cpuSeconds();
    const cold = await server.stats();
    const coldCpu = server.cpuSeconds() - cpuBefore;
    if (cold.result.totals.images !== images)
      throw new Error(`expected ${images} images, got ${cold.result.totals.images}`);
    const rss = server.peakRssMb();
    const warm = [];
    for (let i = 0; i < 5; i++) warm.push((await server.stats()).ms);
    await server.close();

    const restarted = await startServer(datasetsRoot, scanCache);
    const restart = await restarted.stats();
    await restarted.close();

    const base = {
      bench: `datasets stats (${images / 1000}k YOLO images)`,
      baselineName: `readdir+stat walk, ${files} files`,
    };
    rows.push(
      {
        ...base,
        case: 'cold (empty cache)',
        value: cold.ms,
        unit: 'ms',
        baseline: walk,
        ratio: cold.ms / walk,
        target: '< 10000 ms',
      },
      {
        ...base,
        case: 'cold: server CPU time (user+sys)',
        value: coldCpu * 1000,
        unit: 'ms',
        baseline: walkCpu * 1000,
        ratio: coldCpu / walkCpu,
      },
      { ...base, case: 'cold: server peak RSS', value: rss, unit: 'MB', target: '< 300 MB' },
      {
        ...base,
        case: 'warm (same server, median of 5)',
        value: median(warm),
        unit: 'ms',
        baseline: walk,
        ratio: median(warm) / walk,
        target: '< 100 ms',
      },
      {
        ...base,
        case: 'restart (disk cache)',
        value: restart.ms,
        unit: 'ms',
        baseline: walk,
        ratio: restart.ms / walk,
      },
    );
  } finally {
    rmSync(scanCache, { recursive: true, force: true });
  }
  return rows;
}
