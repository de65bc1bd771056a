import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { takeConfigFlag } from '../cli.ts';
import { createHost } from '../core/host.ts';
import { redact } from './http.ts';
import { startService } from './service.ts';
import { loadFullConfig } from './service-config.ts';
import { hashPassword } from './web-auth.ts';

const usage = `nightshift serve — run the agent as a service: event intake, web chat, Slack

Usage: nightshift serve [--config nightshift.config.yaml] [--host 127.0.0.1] [--port 7400]
       nightshift serve --hash-password     read a password on stdin, print its scrypt hash
                                            for service.web.logins[].passwordHash

Endpoints: POST /v1/events (Standard Webhooks), POST /v1/mlflow-events (MLflow registry
webhooks), POST /slack/events and /slack/interactivity, the web chat at /, GET /healthz.
`;

async function readLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

/** `nightshift serve`: runs until SIGINT/SIGTERM; resolves to the exit code. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { configPath, rest } = takeConfigFlag(argv, process.env);
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'hash-password': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values['hash-password']) {
    const password = await readLine();
    if (password.length < 8) {
      process.stderr.write('nightshift serve --hash-password: use at least 8 characters\n');
      return 2;
    }
    process.stdout.write(`${await hashPassword(password)}\n`);
    return 0;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write(`nightshift serve: --port ${values.port} is not a port\n`);
    return 2;
  }

  const config = loadFullConfig(configPath);
  const log = (line: string) => process.stderr.write(`${redact(line, config.secrets)}\n`);
  const host = await createHost(config.host, { log });
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService({
      host,
      service: config.service,
      dataDir: config.host.dataDir,
      secrets: config.secrets,
      listen: { ...(values.host ? { host: values.host } : {}), ...(port !== undefined ? { port } : {}) },
      log,
    });
  } catch (error) {
    await host.close();
    throw error;
  }
  log(`nightshift serve: listening on ${service.url}`);
  if (!config.service.events.secrets?.length) {
    log('nightshift serve: no service.events.secrets configured; POST /v1/events answers 401 to everything');
  }
  if (!host.modelConfigured) log(`nightshift serve: no model configured. ${host.modelSetupHelp}`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log('nightshift serve: stopping');
  await service.close();
  await host.close();
  return 0;
}
