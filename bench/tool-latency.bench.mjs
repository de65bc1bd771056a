// Tool-call latency, p50 and p99, for a typical tool of each server, called over stdio with the
// real SDK client against the built bin. The baseline is the protocol floor measured in the same
// run on the same connection: an MCP ping. The ratio is what the tool itself costs on top.
// MLflow rows need NIGHTSHIFT_TEST_MLFLOW_URI (scripts/services/mlflow.sh).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { percentile } from './lib.mjs';

const root = new URL('..', import.meta.url).pathname;
const calls = Number(process.env.BENCH_CALLS ?? 200);
const kit = await import(new URL('../packages/mcp-kit/dist/testing.js', import.meta.url).href);

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-tools-'));
  // A config repository like the example workspace's.
  const repo = join(dir, 'configs');
  mkdirSync(join(repo, 'customer-b', 'pcb-inspect-v2'), { recursive: true });
  writeFileSync(
    join(repo, 'customer-b', 'pcb-inspect-v2', 'train_cfg.yaml'),
    'model:\n  head_size: 640 # compiled size\ntrain:\n  image_size: 1280\n  batch: 64\n',
  );
  const git = (...args) =>
    execFileSync('git', ['-C', repo, ...args], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'b',
        GIT_AUTHOR_EMAIL: 'b@x',
        GIT_COMMITTER_NAME: 'b',
        GIT_COMMITTER_EMAIL: 'b@x',
      },
    });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'configs');
  writeFileSync(
    join(dir, 'repos.yaml'),
    `repos:\n  - name: configs\n    path: ${repo}\n    default_branch: main\n`,
  );
  // A small YOLO dataset (the example trainer's generator needs numpy; this bench does not).
  const version = join(dir, 'datasets', 'weld', 'v1');
  for (const split of ['train', 'val']) {
    mkdirSync(join(version, 'images', split), { recursive: true });
    mkdirSync(join(version, 'labels', split), { recursive: true });
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(version, 'images', split, `${i}.png`), tinyPng(32 + (i % 5), 32));
      writeFileSync(join(version, 'labels', split, `${i}.txt`), `${i % 3} 0.5 0.5 0.2 0.2\n`);
    }
  }
  writeFileSync(
    join(version, 'data.yaml'),
    'train: images/train\nval: images/val\nnames: [porosity, crack, spatter]\n',
  );
  return { dir, repoFile: join(dir, 'repos.yaml'), datasets: join(dir, 'datasets') };
}

/** A valid greyscale PNG of the given size (headers and a stored zlib stream). */
function tinyPng(width, height) {
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])) >>> 0, 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  const raw = Buffer.alloc((width + 1) * height, 128);
  for (let y = 0; y < height; y++) raw[y * (width + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function measure(server, name, args) {
  const { client } = server;
  const first = await client.callTool({ name, arguments: args });
  if (first.isError) throw new Error(`${name}: ${first.content?.[0]?.text}`);
  const tool = [];
  const ping = [];
  for (let i = 0; i < calls; i++) {
    let start = performance.now();
    await client.ping();
    ping.push(performance.now() - start);
    start = performance.now();
    await client.callTool({ name, arguments: args });
    tool.push(performance.now() - start);
  }
  const base = percentile(ping, 50);
  return [
    { case: `${name} p50`, value: percentile(tool, 50), base },
    { case: `${name} p99`, value: percentile(tool, 99), base: percentile(ping, 99) },
  ];
}

export async function run() {
  const f = fixtures();
  const bin = (pkg, file) => join(root, 'packages', pkg, 'bin', file);
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const plans = [
    {
      bin: bin('mcp-git', 'nightshift-mcp-git.js'),
      env: { NIGHTSHIFT_GIT_REPOS_FILE: f.repoFile, NIGHTSHIFT_GIT_CACHE_DIR: join(f.dir, 'git-cache') },
      calls: [
        [
          'git_read_config_value',
          { repo: 'configs', path: 'customer-b/pcb-inspect-v2/train_cfg.yaml', key: 'train.image_size' },
        ],
        ['git_show_file', { repo: 'configs', path: 'customer-b/pcb-inspect-v2/train_cfg.yaml' }],
      ],
    },
    {
      bin: bin('mcp-datasets', 'nightshift-mcp-datasets.js'),
      env: { NIGHTSHIFT_DATASETS_ROOT: f.datasets, NIGHTSHIFT_DATASETS_CACHE_DIR: join(f.dir, 'ds-cache') },
      calls: [['datasets_get_stats', { dataset: 'weld', version: 'v1' }]],
    },
    {
      bin: bin('mcp-aiqu', 'nightshift-mcp-aiqu.js'),
      env: { NIGHTSHIFT_AIQU_STATE_DIR: join(f.dir, 'aiqu') },
      calls: [
        ['aiqu_list_jobs', {}],
        ['aiqu_get_queue_status', {}],
      ],
    },
    ...(process.env.NIGHTSHIFT_TEST_MLFLOW_URI
      ? [
          {
            bin: bin('mcp-mlflow', 'nightshift-mcp-mlflow.js'),
            env: { MLFLOW_TRACKING_URI: process.env.NIGHTSHIFT_TEST_MLFLOW_URI },
            calls: [['mlflow_list_experiments', {}]],
          },
        ]
      : []),
  ];
  const rows = [];
  for (const plan of plans) {
    const server = await kit.spawnStdioServer(process.execPath, [plan.bin], { env: { ...env, ...plan.env } });
    try {
      for (const [name, args] of plan.calls) {
        for (const r of await measure(server, name, args)) {
          rows.push({
            bench: 'tool-call latency (stdio)',
            case: r.case,
            value: r.value,
            unit: 'ms',
            baseline: r.base,
            baselineName: 'MCP ping',
            ratio: r.value / r.base,
          });
        }
      }
    } finally {
      await server.close();
    }
  }
  return rows;
}
