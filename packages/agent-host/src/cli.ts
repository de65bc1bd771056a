import { parseArgs } from 'node:util';

/**
 * `nightshift <command>`: dispatches to one module per command, each imported only when used
 * so `nightshift audit` does not load provider SDKs or the service layer.
 */

const usage = `nightshift — a self-hosted MLOps agent with a structural write gate

Usage: nightshift <command> [--config nightshift.config.yaml]

Commands:
  chat              chat in this terminal (you must be on the allow-list as terminal: <unix user>)
  serve             run the service: event intake, web chat, Slack
  doctor            validate the config, start each MCP server, list tools with their policy class,
                    check the model endpoint
  audit [--limit N] [--json]
                    list the audit log (newest last)
  audit --verify    check the audit log's hash chain; exits 1 when a row was edited or deleted

Options:
  --config <path>   the config file (default: ./nightshift.config.yaml, or NIGHTSHIFT_CONFIG)
  -h, --help        this help
  --version         the version
`;

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

/** Splits off `--config` (accepted anywhere), returning it and the remaining argv. */
export function takeConfigFlag(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { configPath: string; rest: string[] } {
  const rest: string[] = [];
  let configPath = env.NIGHTSHIFT_CONFIG || 'nightshift.config.yaml';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config' || arg === '-c') {
      configPath = argv[++i] ?? configPath;
    } else if (arg.startsWith('--config=')) {
      configPath = arg.slice('--config='.length);
    } else {
      rest.push(arg);
    }
  }
  return { configPath, rest };
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(usage);
    return command ? 0 : 2;
  }
  if (command === '--version') {
    io.stdout.write(`${process.env.NIGHTSHIFT_PACKAGE_VERSION ?? '0.0.0-dev'}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'chat': {
        const { chatCommand } = await import('./commands/chat.ts');
        return await chatCommand(rest, io);
      }
      case 'doctor': {
        const { doctorCommand } = await import('./commands/doctor.ts');
        return await doctorCommand(rest, io);
      }
      case 'audit': {
        const { auditCommand } = await import('./commands/audit.ts');
        return await auditCommand(rest, io);
      }
      case 'serve':
        return await serve(rest);
      default:
        io.stderr.write(`nightshift: unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (error) {
    const { HostConfigError } = await import('./config.ts');
    if (HostConfigError.isInstance(error)) {
      io.stderr.write(`nightshift: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`nightshift ${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

async function serve(argv: string[]): Promise<number> {
  // The service layer (event intake, scheduler, web chat, Slack) lives in src/service/ and is
  // loaded only for `serve`, so the other commands start without it.
  const { serveCommand } = await import('./service/serve-command.ts');
  return (await serveCommand(argv)) ?? 0;
}

/** Parses a command's own flags strictly; `--config` was already taken off. */
export function parseCommandFlags<const O extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  argv: string[],
  options: O,
) {
  return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
}
