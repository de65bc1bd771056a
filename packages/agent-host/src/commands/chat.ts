import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { type CliIo, takeConfigFlag } from '../cli.ts';
import { loadConfig } from '../config.ts';
import { createHost } from '../core/host.ts';
import type { ProposalView } from '../core/types.ts';
import { ModelNotConfiguredError } from '../models/create-model.ts';

function describe(proposals: ProposalView[]): string {
  if (proposals.length === 0) return '';
  const lines = proposals.map(
    (p) => `  ${p.id}  ${p.server}/${p.tool} ${JSON.stringify(p.arguments)}  (expires ${p.expiresAt})`,
  );
  return `pending for confirmation:\n${lines.join('\n')}\n  reply "yes" (or "go ahead", "kör på"), "no", or "confirm P-<n>"\n`;
}

/**
 * `nightshift chat`: a terminal conversation. The sender is the local unix user, who must be on
 * the allow-list as `terminal: <user>`. Ctrl-C cancels a running turn; Ctrl-C when idle (or
 * Ctrl-D) leaves.
 */
export async function chatCommand(argv: string[], io: CliIo): Promise<number> {
  const { configPath } = takeConfigFlag(argv, io.env);
  const config = loadConfig(configPath, io.env);
  const user = userInfo().username;
  const write = (text: string) => io.stdout.write(text);
  const host = await createHost(config, { log: (line) => io.stderr.write(`nightshift: ${line}\n`) });
  const person = host.people.lookup('terminal', user);
  if (!person) {
    await host.close();
    io.stderr.write(
      `nightshift chat: the unix user "${user}" is not on the allow-list. Add "terminal: ${user}" to a people entry in ${configPath}.\n`,
    );
    return 2;
  }
  const conversationId = `terminal:${user}`;
  write(
    `nightshift — ${person.name} (${person.role}); ${host.tools().length} tools. Ctrl-C cancels a turn, Ctrl-D leaves.\n`,
  );
  if (!host.modelConfigured) write(`\n${host.modelSetupHelp}\n\n`);
  write(describe(host.pendingProposals(conversationId)));

  const rl = createInterface({
    input: io.stdin,
    output: io.stdout,
    terminal: Boolean((io.stdin as { isTTY?: boolean }).isTTY),
  });
  let running: AbortController | undefined;
  let queue = Promise.resolve();
  let closed = false;
  const prompt = () => {
    if (!closed) rl.prompt();
  };
  rl.once('close', () => {
    closed = true;
  });
  rl.on('SIGINT', () => {
    if (running) {
      running.abort();
      write('\n(cancelling…)\n');
    } else rl.close();
  });
  rl.setPrompt('you> ');
  rl.prompt();
  rl.on('line', (line) => {
    const text = line.trim();
    if (!text) return prompt();
    queue = queue.then(async () => {
      if (text === '/pending') {
        write(describe(host.pendingProposals(conversationId)) || 'nothing pending\n');
        return prompt();
      }
      running = new AbortController();
      try {
        const result = await host.handleMessage({
          channel: 'terminal',
          senderId: user,
          conversationId,
          text,
          signal: running.signal,
        });
        write(`\nnightshift> ${result.reply || '(no answer)'}\n`);
        for (const action of result.actions ?? []) {
          write(`  ran ${action.server}/${action.tool}${action.ok ? '' : ' (failed)'}\n`);
        }
        write(describe(result.proposals));
      } catch (error) {
        write(
          ModelNotConfiguredError.isInstance(error)
            ? `\n${(error as Error).message}\n`
            : `\nnightshift: the turn failed: ${(error as Error).message}\n`,
        );
      } finally {
        running = undefined;
      }
      write('\n');
      prompt();
    });
  });
  try {
    await new Promise<void>((resolve) => rl.once('close', resolve));
    await queue;
  } finally {
    await host.close();
  }
  write('\n');
  return 0;
}
