#!/usr/bin/env node
// Starts Nightshift on the example factory workspace with embedded defaults: the local job
// backend, the local datasets, the config repo served as a real git remote, and a local MLflow
// server (when python3 can install it), all on 127.0.0.1 and stopped with the service.
//
//   node examples/factory/workspace/run.mjs [--port 7400] [--data-dir DIR]
//
// Secrets (the config remote's push token, the event signing secret, the web sign-in token) are
// generated once into <data-dir>/secrets.json (mode 600) and handed to the service through its
// environment; the generated config names them only as ${VARIABLES}.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startGitHttpServer } from './git-http.mjs';
import {
  envRef,
  factoryDir,
  hostConfig,
  loadSecrets,
  modelFromEnv,
  prepareConfigRepo,
  prepareDatasets,
  preparePython,
  repoRoot,
  startMlflow,
  stopChildren,
  writeSettings,
} from './prepare.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.NIGHTSHIFT_PORT ?? '7400' },
    'data-dir': {
      type: 'string',
      default: process.env.NIGHTSHIFT_DATA_DIR ?? join(factoryDir, '.nightshift'),
    },
    'mlflow-port': { type: 'string', default: process.env.NIGHTSHIFT_MLFLOW_PORT ?? '0' },
  },
});
const dataDir = resolve(values['data-dir']);
const port = Number(values.port);
const children = [];

async function main() {
  mkdirSync(dataDir, { recursive: true });
  const secrets = loadSecrets(dataDir);
  const python = preparePython(dataDir);
  const datasetsRoot = prepareDatasets(dataDir, python);
  const git = await startGitHttpServer({ root: prepareConfigRepo(dataDir), token: secrets.gitToken });
  process.stderr.write(`[factory] config repo served at ${git.url}/configs.git\n`);
  const mlflowUri = await startMlflow(dataDir, children, Number(values['mlflow-port']));
  const settings = writeSettings({ dataDir, python, datasetsRoot, gitUrl: git.url, mlflowUri });
  const model = modelFromEnv();
  const user = settings.localUser;
  const configPath = join(dataDir, 'nightshift.config.yaml');
  const config = hostConfig({
    ...settings,
    dataDir,
    port,
    mlflowUri,
    datasetsRoot,
    model,
    people: [{ name: user, role: 'approver', terminal: user, web: user }],
    logins: [{ id: user, token: envRef('NIGHTSHIFT_WEB_TOKEN') }],
  });
  // JSON is YAML; the file holds no secret, only ${VARIABLE} references.
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const modelHelp = model
    ? ''
    : [
        '',
        '  No model is configured: events are taken and shown, but nobody reasons about them yet.',
        '  Anthropic:    ANTHROPIC_API_KEY=sk-ant-… bash scripts/start.sh',
        '  Self-hosted:  NIGHTSHIFT_MODEL_BASE_URL=http://127.0.0.1:11434/v1 NIGHTSHIFT_MODEL=llama3.1 bash scripts/start.sh',
        '                (vLLM, Ollama, llama.cpp server, LM Studio: any OpenAI-compatible endpoint)',
      ].join('\n');
  process.stderr.write(
    [
      '',
      `Nightshift is starting on the example factory workspace (data: ${dataDir}).`,
      `  Web chat:    http://127.0.0.1:${port}/`,
      `  First login: sign in as "${user}" with the token ${secrets.webPassword}`,
      `               (kept in ${join(dataDir, 'secrets.json')})`,
      `  Terminal:    node packages/agent-host/bin/nightshift.js chat --config ${configPath}`,
      `  MLflow:      ${mlflowUri ?? 'not running (python3 with pip is needed to install it)'}`,
      '  Try:         "train customer-b/pcb-inspect-v2", or `pnpm demo` for the whole story.',
      modelHelp,
      '',
    ].join('\n'),
  );

  const serve = spawn(
    process.execPath,
    [join(repoRoot, 'packages', 'agent-host', 'bin', 'nightshift.js'), 'serve', '--config', configPath],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        NIGHTSHIFT_EVENTS_SECRET: secrets.eventsSecret,
        NIGHTSHIFT_CONFIGS_TOKEN: secrets.gitToken,
        NIGHTSHIFT_WEB_TOKEN: secrets.webPassword,
      },
    },
  );
  const shutdown = () => serve.kill('SIGTERM');
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  const code = await new Promise((r) => serve.on('exit', (c, signal) => r(c ?? (signal ? 0 : 1))));
  stopChildren(children);
  await git.close();
  process.exit(code);
}

main().catch((error) => {
  stopChildren(children);
  process.stderr.write(`[factory] ${error.stack ?? error}\n`);
  process.exit(1);
});
