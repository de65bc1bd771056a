import { type CliIo, takeConfigFlag } from '../cli.ts';
import { loadConfig } from '../config.ts';
import { createHost } from '../core/host.ts';
import { poolOf, redactSecrets } from '../core/host-impl.ts';
import { createModel } from '../models/create-model.ts';

/**
 * `nightshift doctor`: validates the config, starts every server, prints each tool with its
 * policy class, and checks the model endpoint. Exits 1 when anything is not ready.
 */
export async function doctorCommand(argv: string[], io: CliIo): Promise<number> {
  const { configPath } = takeConfigFlag(argv, io.env);
  const config = loadConfig(configPath, io.env);
  // Server errors and stderr lines can carry what a server was given; print none of it.
  const out = (line = '') => io.stdout.write(`${redactSecrets(config.secrets, line)}\n`);
  let problems = 0;
  out(`config: ${configPath} is valid`);
  out(`data:   ${config.dataDir}`);
  out(`brief:  ${config.brief}`);
  out(
    `people: ${config.people.length} (${config.people.filter((p) => p.role === 'approver').length} approver(s))` +
      (config.people.length === 0 ? ' — nobody can talk to the agent; add a people entry' : ''),
  );
  const host = await createHost(config, { log: () => undefined, poolOptions: { startTimeoutMs: 20_000 } });
  try {
    const tools = host.tools();
    for (const status of poolOf(host).status()) {
      out();
      const info = status.serverInfo ? ` ${status.serverInfo.name} ${status.serverInfo.version}` : '';
      out(
        `server ${status.name} (${status.transport}${info}): ${status.state}${status.lastError ? ` — ${status.lastError}` : ''}`,
      );
      if (status.state !== 'up') {
        problems++;
        const stderr = poolOf(host).stderrOf(status.name).trim().split('\n').slice(-5);
        for (const line of stderr) if (line) out(`    | ${line}`);
        continue;
      }
      const trusted = config.mcpServers[status.name]?.trusted;
      out(`  trusted: ${trusted ?? 'default'}`);
      for (const tool of tools.filter((t) => t.server === status.name)) {
        const name = tool.exposedName === tool.tool ? tool.tool : `${tool.exposedName} (${tool.tool})`;
        out(`  ${tool.policyClass.padEnd(8)} ${name.padEnd(36)} ${tool.reason}`);
      }
    }
    out();
    if (!config.model) {
      out('model: not configured');
      out(host.modelSetupHelp.replace(/^/gm, '  '));
      problems++;
    } else {
      try {
        const model = await createModel(config.model, io.env);
        out(
          `model: ${(await model.check?.(AbortSignal.timeout(15_000))) ?? `${model.id} (no check available)`}`,
        );
      } catch (error) {
        out(`model: ${config.model.provider} NOT ready — ${(error as Error).message}`);
        problems++;
      }
    }
  } finally {
    await host.close();
  }
  out();
  out(problems === 0 ? 'doctor: everything is ready' : `doctor: ${problems} problem(s)`);
  return problems === 0 ? 0 : 1;
}
