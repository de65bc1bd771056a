import type { ProposalBook } from './proposals.ts';
import type { AuditLog, Person, ProposalView } from './types.ts';

export interface ChangeSetRun {
  /** Pending proposals of one change set, in position order. */
  set: ProposalView[];
  /** The approver who confirmed. */
  person: Person;
  channel: string;
  /** Where the confirmation was said (may differ from the proposals' conversation). */
  conversationId: string;
  proposals: ProposalBook;
  audit: AuditLog;
  callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ text: string; isError: boolean; durationMs: number }>;
  signal?: AbortSignal;
}

/**
 * Runs a confirmed change set: each proposal moves pending → executing once (a second
 * confirmation finds nothing to claim), runs exactly its stored call, and ends done or failed;
 * after the first failure the rest are skipped. Returns one line per proposal for the report.
 */
export async function executeChangeSet(run: ChangeSetRun): Promise<string[]> {
  const { set, person, channel, conversationId, proposals, audit, callTool, signal } = run;
  const lines: string[] = [];
  let failedAt: string | undefined;
  for (const proposal of set) {
    const n = Number(proposal.id.slice(2));
    if (failedAt) {
      proposals.skip(n, `not run: ${failedAt} failed before it`);
      audit.append({
        kind: 'proposal_skipped',
        conversationId: proposal.conversationId,
        actor: 'host',
        data: { proposal: proposal.id, argsHash: proposal.argumentsHash, after: failedAt },
      });
      lines.push(`${proposal.id} not run (${failedAt} failed before it)`);
      continue;
    }
    if (!proposals.claim(n, person.name, channel)) {
      const current = proposals.get(n);
      lines.push(`${proposal.id} not run: it is ${current?.status ?? 'unknown'}`);
      failedAt = proposal.id;
      continue;
    }
    audit.append({
      kind: 'proposal_confirmed',
      conversationId: proposal.conversationId,
      actor: person.name,
      data: {
        proposal: proposal.id,
        channel,
        argsHash: proposal.argumentsHash,
        inConversation: conversationId,
      },
    });
    let ran: { text: string; isError: boolean; durationMs: number };
    try {
      // Exactly the stored call: server, tool and arguments as held, nothing from the model now.
      ran = await callTool(proposal.server, proposal.tool, proposal.arguments, signal);
    } catch (error) {
      ran = {
        text: `the call did not complete: ${(error as Error).message}`,
        isError: true,
        durationMs: 0,
      };
    }
    proposals.finish(n, ran.isError ? 'failed' : 'done', ran.text.slice(0, 8000));
    audit.append({
      kind: ran.isError ? 'proposal_failed' : 'proposal_executed',
      conversationId: proposal.conversationId,
      actor: 'host',
      data: {
        proposal: proposal.id,
        server: proposal.server,
        tool: proposal.tool,
        class: 'confirm',
        argsHash: proposal.argumentsHash,
        durationMs: ran.durationMs,
      },
    });
    if (ran.isError) {
      failedAt = proposal.id;
      lines.push(`${proposal.id} ${proposal.exposedName} FAILED: ${ran.text}`);
    } else {
      lines.push(`${proposal.id} ${proposal.exposedName} done: ${ran.text}`);
    }
  }
  return lines;
}
