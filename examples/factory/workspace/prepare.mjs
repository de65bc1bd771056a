// Prepares the example factory workspace in a data directory, idempotently:
//   - a Python venv with numpy (the trainer) and MLflow, when python3 is present;
//   - the YOLO datasets (two models, two versions each);
//   - the config repo as a bare git repository, served over smart HTTP with a token;
//   - the settings files of the MCP servers (repos file, job templates) and of the host.
// Nothing here decides anything at run time; it only lays out files.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

export const MLFLOW_VERSION = '3.17.2';
export const NUMPY_VERSION = '2.2.6';

const here = new URL('.', import.meta.url).pathname;
export const factoryDir = resolve(here, '..');
export const repoRoot = resolve(factoryDir, '..', '..');

const log = (message) => process.stderr.write(`[factory] ${message}\n`);

/** Secrets live in one file readable only by the owner; they never go into the host config. */
export function loadSecrets(dataDir) {
  const file = join(dataDir, 'secrets.json');
  const secrets = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const fill = (key, make) => {
    if (!secrets[key]) secrets[key] = make();
  };
  fill('gitToken', () => randomBytes(24).toString('base64url'));
  fill('eventsSecret', () => `whsec_${randomBytes(32).toString('base64')}`);
  fill('webPassword', () => randomBytes(18).toString('base64url'));
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

/** A venv with numpy and MLflow; returns the python path, or undefined when it cannot be had. */
export function preparePython(dataDir) {
  const venv = join(dataDir, 'venv');
  const python = join(venv, 'bin', 'python');
  const marker = join(venv, `.nightshift-mlflow-${MLFLOW_VERSION}-numpy-${NUMPY_VERSION}`);
  if (existsSync(marker)) return python;
  const system = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (system.status !== 0) {
    log('python3 not found: training jobs and the local MLflow server are unavailable');
    return undefined;
  }
  log(`installing numpy and MLflow ${MLFLOW_VERSION} into ${venv} (first start only; a few minutes)`);
  if (!existsSync(python)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  const pip = spawnSync(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `numpy==${NUMPY_VERSION}`,
      `mlflow==${MLFLOW_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
  if (pip.status !== 0) {
    // numpy alone still lets the trainer run without MLflow.
    const numpyOnly = spawnSync(python, ['-m', 'pip', 'install', '--quiet', `numpy==${NUMPY_VERSION}`], {
      stdio: 'inherit',
    });
    log('MLflow could not be installed; the service starts without it');
    return numpyOnly.status === 0 ? python : undefined;
  }
  writeFileSync(marker, '');
  return python;
}

export function hasMlflow(dataDir) {
  return existsSync(join(dataDir, 'venv', 'bin', 'mlflow'));
}

export function prepareDatasets(dataDir, python) {
  const root = join(dataDir, 'datasets');
  if (existsSync(join(root, 'pcb-inspect', 'v2', 'data.yaml'))) return root;
  if (!python) {
    mkdirSync(root, { recursive: true });
    return root;
  }
  log('generating the example datasets');
  execFileSync(python, [join(factoryDir, 'trainer', 'make_datasets.py'), root], { stdio: 'inherit' });
  return root;
}

/** The config repo as a bare repository `configs.git` under `<dataDir>/git`. */
export function prepareConfigRepo(dataDir) {
  const gitRoot = join(dataDir, 'git');
  const bare = join(gitRoot, 'configs.git');
  if (existsSync(join(bare, 'HEAD'))) return gitRoot;
  log('creating the config repository');
  mkdirSync(gitRoot, { recursive: true });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  execFileSync('git', ['-C', bare, 'config', 'http.receivepack', 'true']);
  const work = mkdtempSync(join(tmpdir(), 'nightshift-configs-'));
  try {
    cpSync(join(factoryDir, 'config-repo'), work, { recursive: true });
    const git = (...args) =>
      execFileSync('git', ['-C', work, ...args], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'Factory team',
          GIT_AUTHOR_EMAIL: 'factory-team@example.com',
          GIT_COMMITTER_NAME: 'Factory team',
          GIT_COMMITTER_EMAIL: 'factory-team@example.com',
        },
      });
    git('init', '--quiet', '--initial-branch=main');
    git('add', '-A');
    git('commit', '--quiet', '-m', 'Training configs for weld-defect, pcb-inspect and gripper-pose');
    git('push', '--quiet', bare, 'main');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return gitRoot;
}

/** Writes the MCP servers' settings and the host config; returns the host config path. */
export function writeSettings({ dataDir, python, datasetsRoot, gitUrl, mlflowUri, epochSeconds = 2 }) {
  const trainer = join(factoryDir, 'trainer');
  const models = [
    ['customer-a/weld-defect-v4', 'customer-a/weld-defect-v4/train_cfg.yaml'],
    ['customer-b/pcb-inspect-v2', 'customer-b/pcb-inspect-v2/train_cfg.yaml'],
    ['customer-a/gripper-pose-v1', 'customer-a/gripper-pose-v1/train_cfg.yaml'],
  ];
  const templates = Object.fromEntries(
    models.map(([name, path]) => [
      name,
      {
        description: `Train ${name} from ${path} at the head of main in the config repo`,
        command: ['bash', join(trainer, 'run-job.sh'), path],
        env: {
          NIGHTSHIFT_CONFIG_REMOTE: `${gitUrl}/configs.git`,
          NIGHTSHIFT_DATASETS_ROOT: datasetsRoot,
          NIGHTSHIFT_PYTHON: python ?? 'python3',
          PYTHONPATH: `${trainer}:${join(repoRoot, 'clients', 'python')}`,
          TRAIN_EPOCH_SECONDS: String(epochSeconds),
          ...(mlflowUri ? { MLFLOW_TRACKING_URI: mlflowUri } : {}),
        },
        resources: { gpus: 1 },
        configRef: { repo: 'configs', path },
        labels: { customer: name.split('/')[0] },
      },
    ]),
  );
  const aiquConfig = join(dataDir, 'aiqu.yaml');
  writeFileSync(
    aiquConfig,
    `${JSON.stringify({ backends: { local: { gpus: 2, stopGraceSeconds: 5 } }, templates }, null, 2)}\n`,
  );

  const reposFile = join(dataDir, 'repos.yaml');
  writeFileSync(
    reposFile,
    `${JSON.stringify(
      {
        repos: [
          {
            name: 'configs',
            url: `${gitUrl}/configs.git`,
            default_branch: 'main',
            push_branches: ['main'],
            author: { name: 'Nightshift', email: 'nightshift@example.com' },
            token_env: 'NIGHTSHIFT_CONFIGS_TOKEN',
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  return { aiquConfig, reposFile, localUser: userInfo().username };
}

/** A `${NAME}` reference the host config substitutes from the environment at load time. */
export const envRef = (name) => `$${'{'}${name}}`;

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export async function waitFor(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/**
 * Starts MLflow from the workspace venv (SQLite, served artifacts) in its own process group,
 * pushed onto `children` so the caller stops it with the service. Undefined when not installed.
 */
export async function startMlflow(dataDir, children, requestedPort = 0) {
  if (!hasMlflow(dataDir)) return undefined;
  const port = requestedPort || (await freePort());
  const dir = join(dataDir, 'mlflow');
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  const child = spawn(
    join(dataDir, 'venv', 'bin', 'mlflow'),
    [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--serve-artifacts',
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--workers',
      '1',
    ],
    // MLflow's background job workers are not needed here and cost a core's worth of start-up.
    { stdio: 'ignore', detached: true, env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' } },
  );
  children.push(child);
  const uri = `http://127.0.0.1:${port}`;
  log(`starting MLflow at ${uri} (the first start migrates its database; up to a few minutes)`);
  if (await waitFor(`${uri}/health`, 300)) return uri;
  log('MLflow did not come up; continuing without it');
  return undefined;
}

/** Stops what `startMlflow` (or anything else in `children`) started, process group and all. */
export function stopChildren(children) {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** The model block from the environment, or undefined (the service then runs without a model). */
export function modelFromEnv(env = process.env) {
  if (env.ANTHROPIC_API_KEY) {
    return {
      provider: 'anthropic',
      name: env.NIGHTSHIFT_MODEL ?? 'claude-sonnet-4-5',
      apiKeyEnv: 'ANTHROPIC_API_KEY',
    };
  }
  if (env.NIGHTSHIFT_MODEL_BASE_URL) {
    return {
      provider: 'openai-compatible',
      name: env.NIGHTSHIFT_MODEL ?? 'llama3.1',
      baseUrl: env.NIGHTSHIFT_MODEL_BASE_URL,
      ...(env.NIGHTSHIFT_MODEL_API_KEY ? { apiKeyEnv: 'NIGHTSHIFT_MODEL_API_KEY' } : {}),
    };
  }
  if (env.NIGHTSHIFT_MODEL_SCRIPT) return { provider: 'scripted', script: env.NIGHTSHIFT_MODEL_SCRIPT };
  return undefined;
}

/**
 * The host config, with its `service:` block, for the workspace. Secrets appear only as
 * ${VARIABLES}; the service gets their values through its environment.
 */
export function hostConfig({
  dataDir,
  port,
  mlflowUri,
  aiquConfig,
  reposFile,
  datasetsRoot,
  people,
  logins,
  model,
}) {
  const bin = (name, file) => join(repoRoot, 'packages', name, 'bin', file);
  return {
    dataDir: join(dataDir, 'host'),
    brief: join(repoRoot, 'brief.md'),
    ...(model ? { model } : {}),
    mcpServers: {
      mlflow: {
        command: process.execPath,
        args: [bin('mcp-mlflow', 'nightshift-mcp-mlflow.js')],
        env: mlflowUri ? { MLFLOW_TRACKING_URI: mlflowUri } : {},
      },
      aiqu: {
        command: process.execPath,
        args: [bin('mcp-aiqu', 'nightshift-mcp-aiqu.js')],
        env: {
          NIGHTSHIFT_AIQU_STATE_DIR: join(dataDir, 'aiqu'),
          NIGHTSHIFT_AIQU_CONFIG: aiquConfig,
          NIGHTSHIFT_EVENTS_URL: `http://127.0.0.1:${port}/v1/events`,
          NIGHTSHIFT_EVENTS_SECRET: envRef('NIGHTSHIFT_EVENTS_SECRET'),
        },
      },
      datasets: {
        command: process.execPath,
        args: [bin('mcp-datasets', 'nightshift-mcp-datasets.js')],
        env: { NIGHTSHIFT_DATASETS_ROOT: datasetsRoot },
      },
      git: {
        command: process.execPath,
        args: [bin('mcp-git', 'nightshift-mcp-git.js')],
        env: {
          NIGHTSHIFT_GIT_REPOS_FILE: reposFile,
          NIGHTSHIFT_GIT_CACHE_DIR: join(dataDir, 'git-cache'),
          NIGHTSHIFT_CONFIGS_TOKEN: envRef('NIGHTSHIFT_CONFIGS_TOKEN'),
        },
      },
    },
    people,
    service: {
      listen: { host: '127.0.0.1', port },
      events: { secrets: [envRef('NIGHTSHIFT_EVENTS_SECRET')] },
      routes: [{ channel: 'web', conversation: 'team' }],
      web: { logins },
    },
  };
}
