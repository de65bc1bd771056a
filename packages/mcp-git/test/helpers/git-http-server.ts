import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real smart-HTTP git server for tests: git's own `git http-backend` (CGI) behind a small
 * node:http wrapper on 127.0.0.1 that demands HTTP Basic auth with a token, the way a
 * hosted git server does. Clients talk the real protocol; nothing is mocked.
 */
export interface GitHttpServer {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  /** Directory holding the bare repositories (`<name>.git`). */
  root: string;
  token: string;
  /** Every request seen: method, path and whether its credentials were accepted. */
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  repoUrl(name: string): string;
  bareDir(name: string): string;
  close(): Promise<void>;
}

const identity = [
  '-c',
  'user.name=Test Person',
  '-c',
  'user.email=test@example.com',
  '-c',
  'commit.gpgsign=false',
];

/** Runs the git CLI (for setting up and reading back), optionally feeding `input` on stdin. */
export function git(args: string[], cwd?: string, input?: string): string {
  return execFileSync('git', [...identity, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
    ...(input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input }),
  });
}

export async function startGitHttpServer(options: { token?: string } = {}): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), 'ns-git-server-'));
  const token = options.token ?? `tok_${randomBytes(12).toString('hex')}`;
  const requests: GitHttpServer['requests'] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const user = authorizedUser(req, token);
    requests.push({ method: req.method ?? 'GET', path: url.pathname, authorized: user !== undefined });
    if (user === undefined) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    runBackend(root, req, res, url, user);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    root,
    token,
    requests,
    repoUrl: (name) => `${base}/${name}.git`,
    bareDir: (name) => join(root, `${name}.git`),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function authorizedUser(req: IncomingMessage, token: string): string | undefined {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  return decoded.slice(colon + 1) === token ? user || 'token' : undefined;
}

/** Runs one CGI request through `git http-backend` and relays its answer. */
function runBackend(root: string, req: IncomingMessage, res: ServerResponse, url: URL, user: string): void {
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    const endLf = head.indexOf('\n\n');
    const cut = end >= 0 ? { at: end, len: 4 } : endLf >= 0 ? { at: endLf, len: 2 } : undefined;
    if (!cut) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, cut.at).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    headersSent = true;
    res.write(head.subarray(cut.at + cut.len));
  });
  child.stdout.on('end', () => {
    if (!headersSent) res.writeHead(502);
    res.end();
  });
  child.on('error', () => {
    if (!headersSent) res.writeHead(500);
    res.end();
  });
}

/** The files of the test config repo: a commented YAML config, JSON, TOML and symlinks. */
export const seedFiles: Record<string, string> = {
  'README.md': '# Training configs\n\nOne directory per model.\n',
  'configs/weld.yaml': `# Weld seam defect detector, line 3 camera (customer A).
model:
  arch: tiny-det
  head_size: 640        # the detection head is compiled for this input size
  classes: [porosity, crack, spatter]
data:
  dataset: weld-defect
  version: v2
train:
  image_size: 640       # must match model.head_size
  batch: 16
  epochs: 30
  lr: 0.05
`,
  'configs/model.json': `{
  "name": "pcb-inspect",
  "input": { "width": 512, "height": 512 },
  "classes": ["short", "open"]
}
`,
  'configs/train.toml': `# PCB trainer
[train]
image_size = 512
epochs = 40

[optimizer]
name = "sgd"
lr = 0.01
`,
};

export const seedSymlinks: Record<string, string> = {
  'links/weld.yaml': '../configs/weld.yaml',
  'links/escape': '../../../../etc/passwd',
  'links/absolute': '/etc/passwd',
};

/** Creates `<name>.git` on the server with one initial commit of `files` on `main`. */
export function seedRepo(
  server: GitHttpServer,
  name: string,
  files: Record<string, string> = seedFiles,
  symlinks: Record<string, string> = seedSymlinks,
): string {
  const bare = server.bareDir(name);
  git(['init', '-q', '--bare', '-b', 'main', bare]);
  const work = mkdtempSync(join(tmpdir(), 'ns-git-seed-'));
  git(['init', '-q', '-b', 'main', work]);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), content);
  }
  for (const [path, target] of Object.entries(symlinks)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    symlinkSync(target, join(work, path));
  }
  git(['add', '-A'], work);
  git(['commit', '-q', '-m', 'Initial configs'], work);
  git(['push', '-q', bare, 'main'], work);
  rmSync(work, { recursive: true, force: true });
  return bare;
}

/** Commits a change straight into the bare repo (as another person would), bypassing HTTP. */
export function advanceRemote(
  server: GitHttpServer,
  name: string,
  path: string,
  content: string,
  message: string,
  branch = 'main',
): string {
  const work = mkdtempSync(join(tmpdir(), 'ns-git-work-'));
  git(['clone', '-q', '-b', branch, server.bareDir(name), work]);
  mkdirSync(dirname(join(work, path)), { recursive: true });
  writeFileSync(join(work, path), content);
  git(['add', '-A'], work);
  git(['commit', '-q', '-m', message], work);
  git(['push', '-q', 'origin', branch], work);
  const head = git(['rev-parse', 'HEAD'], work).trim();
  rmSync(work, { recursive: true, force: true });
  return head;
}

/** Reads a file at a ref in the server's bare repo with the git CLI. */
export function showRemote(server: GitHttpServer, name: string, ref: string, path: string): string {
  return git(['--git-dir', server.bareDir(name), 'show', `${ref}:${path}`]);
}

export function remoteHead(server: GitHttpServer, name: string, branch = 'main'): string {
  return git(['--git-dir', server.bareDir(name), 'rev-parse', `refs/heads/${branch}`]).trim();
}
