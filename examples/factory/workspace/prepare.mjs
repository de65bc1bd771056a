// Prepares the example factory workspace in a data directory, idempotently:
//   - a Python venv with numpy (the trainer) and MLflow, when python3 is present;
//   - the YOLO datasets (two models, two versions each);
//   - the config repo as a bare git repository, served over smart HTTP with a token;
//   - the settings files of the MCP servers (repos file, job templates) and of the host.
// Nothing here decides anything at run time; it only lays out files.
import { execFileSync, spawnSync } from 'node:child_process';
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
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

export const MLFLOW_VERSION = '3.6.0';
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
  fill('webPassword', () => randomBytes(9).toString('base64url'));
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
export function writeSettings({ dataDir, python, datasetsRoot, gitUrl, mlflowUri, eventsUrl, webPort }) {
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
          ...(mlflowUri ? { MLFLOW_TRACKING_URI: mlflowUri } : {}),
        },
        resources: { gpus: 1 },
        config: { repo: 'configs', path },
      },
    ]),
  );
  const aiquConfig = join(dataDir, 'aiqu.yaml');
  writeFileSync(aiquConfig, `${JSON.stringify({ backends: { local: { slots: 2 } }, templates }, null, 2)}\n`);

  const reposFile = join(dataDir, 'repos.yaml');
  writeFileSync(
    reposFile,
    `${JSON.stringify(
      {
        repos: [
          {
            name: 'configs',
            url: `${gitUrl}/configs.git`,
            defaultBranch: 'main',
            pushBranches: ['main'],
            author: { name: 'Nightshift', email: 'nightshift@example.com' },
            tokenEnv: 'NIGHTSHIFT_CONFIGS_TOKEN',
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  return { aiquConfig, reposFile, eventsUrl, webPort, localUser: userInfo().username };
}
