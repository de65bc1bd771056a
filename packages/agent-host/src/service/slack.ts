import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Host, ProposalView } from '../core/types.ts';
import type { EventStore, Notification } from './event-store.ts';
import { BodyTooLarge, readBody, redact, sendJson } from './http.ts';
import type { ChannelSink } from './outbox.ts';
import { conversationOrigin } from './proposal-watch.ts';
import { laneConversation } from './routing.ts';
import type { ServiceConfig } from './service-config.ts';
import { verifySlackRequest } from './signatures.ts';

/**
 * Slack: the Events API (messages in DMs, mentions, replies in threads the agent is part of) and
 * the interactivity endpoint (Block Kit confirm/reject buttons), both verified with the signing
 * secret (v0 scheme, five-minute tolerance); the Web API (`chat.postMessage`, `chat.update`,
 * `chat.postEphemeral`) at a configurable base URL.
 *
 * A Slack conversation is `slack:<channel>:<thread root ts>`; a thread under an event
 * notification continues that lane's event conversation. The sender's Slack user id is checked
 * against the allow-list before anything else: an unknown sender gets no answer, no API call and
 * no model call.
 */

export type SlackConfig = NonNullable<ServiceConfig['slack']>;

export interface SlackOptions {
  host: Host;
  store: EventStore;
  config: SlackConfig;
  secrets: readonly string[];
  afterTurn?: () => void;
  log?: (line: string) => void;
}

interface SlackAnswer {
  ok: boolean;
  error?: string;
  ts?: string;
  channel?: string;
}

const confirmAction = 'nightshift_confirm';
const rejectAction = 'nightshift_reject';

/** Slack's Web API over fetch: JSON bodies, bearer token, a timeout on every call. */
export class SlackApi {
  private readonly config: SlackConfig;

  constructor(config: SlackConfig) {
    this.config = config;
  }

  async call(method: string, body: Record<string, unknown>): Promise<SlackAnswer> {
    const response = await fetch(`${this.config.apiBaseUrl.replace(/\/$/, '')}/${method}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.config.botToken}`,
        'content-type': 'application/json; charset=utf-8',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.config.timeoutSeconds * 1000),
    });
    if (!response.ok) throw new Error(`Slack ${method}: HTTP ${response.status}`);
    const answer = (await response.json()) as SlackAnswer;
    if (!answer.ok) throw new Error(`Slack ${method}: ${answer.error ?? 'not ok'}`);
    return answer;
  }
}

/** The Block Kit message for a waiting proposal: its text and two buttons. */
export function proposalBlocks(text: string, proposal: ProposalView): unknown[] {
  const value = JSON.stringify({ p: proposal.id, h: proposal.argumentsHash });
  return [
    { type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 2900) } },
    {
      type: 'actions',
      block_id: `proposal:${proposal.id}`,
      elements: [
        {
          type: 'button',
          action_id: confirmAction,
          style: 'primary',
          text: { type: 'plain_text', text: `Confirm ${proposal.id}` },
          value,
        },
        {
          type: 'button',
          action_id: rejectAction,
          style: 'danger',
          text: { type: 'plain_text', text: `Reject ${proposal.id}` },
          value,
        },
      ],
    },
  ];
}

interface SlackMessageEvent {
  type: string;
  subtype?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  channel?: string;
  channel_type?: string;
  ts?: string;
  thread_ts?: string;
}

export class SlackChannel implements ChannelSink {
  readonly api: SlackApi;
  private readonly options: SlackOptions;
  private readonly background = new Set<Promise<void>>();

  constructor(options: SlackOptions) {
    this.options = options;
    this.api = new SlackApi(options.config);
  }

  /** Outbox delivery: event updates top-level, proposal notices with buttons, in their thread. */
  async deliver(n: Notification): Promise<void> {
    const proposal = n.proposalId
      ? this.options.host.pendingProposals().find((p) => p.id === n.proposalId)
      : undefined;
    const text = redact(n.text, this.options.secrets);
    const answer = await this.api.call('chat.postMessage', {
      channel: n.conversation,
      text,
      ...(n.thread ? { thread_ts: n.thread } : {}),
      ...(proposal && (n.kind === 'proposal' || n.kind === 'reminder')
        ? { blocks: proposalBlocks(text, proposal) }
        : {}),
    });
    if (!n.thread && answer.ts && (n.kind === 'event' || n.kind === 'digest')) {
      // Replies under an event update continue the lane's event conversation.
      this.options.store.rememberSlackThread(
        answer.channel ?? n.conversation,
        answer.ts,
        laneConversation(`slack:${n.conversation}`),
      );
    }
  }

  private verify(req: IncomingMessage, body: Buffer): boolean {
    const verdict = verifySlackRequest({
      headers: req.headers,
      body,
      secrets: this.options.config.signingSecret,
    });
    return verdict.ok;
  }

  private track(task: Promise<void>): void {
    const wrapped = task
      .catch((error) =>
        this.options.log?.(`slack: ${redact((error as Error).message, this.options.secrets)}`),
      )
      .finally(() => this.background.delete(wrapped));
    this.background.add(wrapped);
  }

  /** Resolves when every background reply has been handled (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (req.method !== 'POST') return false;
    if (url.pathname !== '/slack/events' && url.pathname !== '/slack/interactivity') return false;
    let body: Buffer;
    try {
      body = await readBody(req, 1024 * 1024);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        sendJson(res, 413, { error: 'payload_too_large' });
        return true;
      }
      throw error;
    }
    if (!this.verify(req, body)) {
      sendJson(res, 401, { error: 'unauthorized' });
      return true;
    }
    if (url.pathname === '/slack/events') this.onEvent(body, res);
    else this.onInteraction(body, res);
    return true;
  }

  private onEvent(body: Buffer, res: ServerResponse): void {
    let payload: {
      type?: string;
      challenge?: string;
      team_id?: string;
      event_id?: string;
      event?: SlackMessageEvent;
      authorizations?: { user_id?: string }[];
    };
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      sendJson(res, 400, { error: 'malformed JSON' });
      return;
    }
    if (payload.type === 'url_verification') {
      sendJson(res, 200, { challenge: payload.challenge });
      return;
    }
    // Slack wants an answer within three seconds; the turn runs after it.
    sendJson(res, 200, { ok: true });
    if (payload.type !== 'event_callback' || !payload.event) return;
    const { teamId } = this.options.config;
    if (teamId && payload.team_id !== teamId) return;
    if (payload.event_id && !this.options.store.firstSeen(`slack-event:${payload.event_id}`)) return;
    const event = payload.event;
    if (event.bot_id || event.subtype || !event.user || !event.channel || !event.ts) return;
    // The allow-list first: an unknown sender costs nothing at all.
    if (!this.options.host.people.lookup('slack', event.user)) return;
    const root = event.thread_ts ?? event.ts;
    const known = this.options.store.slackThreadConversation(event.channel, root);
    const botId = payload.authorizations?.[0]?.user_id;
    const mentionsBot = botId ? (event.text ?? '').includes(`<@${botId}>`) : false;
    if (event.type === 'message') {
      // A mention arrives twice (message and app_mention): take it as app_mention only.
      if (mentionsBot) return;
      if (event.channel_type !== 'im' && !known) return;
    } else if (event.type !== 'app_mention') {
      return;
    }
    const conversationId = known ?? `slack:${event.channel}:${root}`;
    if (!known) this.options.store.rememberSlackThread(event.channel, root, conversationId);
    const text = (event.text ?? '').replace(/<@[A-Z0-9]+>/g, '').trim();
    this.track(this.reply(event.user, event.channel, root, conversationId, text));
  }

  private async reply(user: string, channel: string, root: string, conversationId: string, text: string) {
    const { host, secrets } = this.options;
    let reply: string;
    try {
      const result = await host.handleMessage({ channel: 'slack', senderId: user, conversationId, text });
      if (result.ignored) return;
      reply = result.reply;
    } catch (error) {
      reply = `That did not work: ${(error as Error).message}`;
    } finally {
      this.options.afterTurn?.();
    }
    if (!reply.trim()) return;
    await this.api.call('chat.postMessage', { channel, thread_ts: root, text: redact(reply, secrets) });
  }

  private onInteraction(body: Buffer, res: ServerResponse): void {
    let payload: {
      type?: string;
      team?: { id?: string };
      user?: { id?: string };
      channel?: { id?: string };
      container?: { message_ts?: string; channel_id?: string; thread_ts?: string };
      message?: { ts?: string; thread_ts?: string };
      actions?: { action_id?: string; value?: string; action_ts?: string }[];
    };
    try {
      const raw = new URLSearchParams(body.toString('utf8')).get('payload');
      payload = JSON.parse(raw ?? '');
    } catch {
      sendJson(res, 400, { error: 'expected payload=<json>' });
      return;
    }
    res.writeHead(200).end();
    if (payload.type !== 'block_actions') return;
    const action = payload.actions?.[0];
    const user = payload.user?.id;
    const channel = payload.channel?.id ?? payload.container?.channel_id;
    const messageTs = payload.container?.message_ts ?? payload.message?.ts;
    if (!action || !user || !channel || !messageTs) return;
    if (action.action_id !== confirmAction && action.action_id !== rejectAction) return;
    // The allow-list first; an unknown clicker gets nothing back.
    const person = this.options.host.people.lookup('slack', user);
    if (!person) return;
    const threadTs = payload.message?.thread_ts ?? payload.container?.thread_ts ?? messageTs;
    const tell = (text: string) =>
      this.track(
        this.api
          .call('chat.postEphemeral', { channel, user, text, thread_ts: threadTs })
          .then(() => undefined),
      );
    const { teamId } = this.options.config;
    if (teamId && payload.team?.id !== teamId) {
      this.options.log?.('slack: a button click from another workspace was refused');
      return;
    }
    let value: { p?: string; h?: string };
    try {
      value = JSON.parse(action.value ?? '');
    } catch {
      return;
    }
    const proposalId = value.p ?? '';
    if (
      !this.options.store.firstSeen(
        `slack-action:${user}:${messageTs}:${action.action_ts ?? action.action_id}`,
      )
    ) {
      return;
    }
    if (person.role !== 'approver') {
      tell(`Only an approver can decide on ${proposalId}; nothing was run.`);
      return;
    }
    const proposal = this.options.host.pendingProposals().find((p) => p.id === proposalId);
    if (!proposal || proposal.argumentsHash !== value.h) {
      tell(
        `${proposalId} is not waiting for a decision any more (decided, expired or changed); nothing was run.`,
      );
      return;
    }
    const origin = conversationOrigin(proposal.conversationId);
    if (origin?.channel === 'slack' && origin.conversation !== channel) {
      this.options.log?.(
        `slack: a click on ${proposalId} came from a channel it was not announced in; refused`,
      );
      tell(`${proposalId} was not proposed in this channel; nothing was run.`);
      return;
    }
    const decision = action.action_id === confirmAction ? 'confirm' : 'reject';
    this.track(this.decide(user, person.name, proposal, decision, channel, messageTs, threadTs));
  }

  private async decide(
    user: string,
    name: string,
    proposal: ProposalView,
    decision: 'confirm' | 'reject',
    channel: string,
    messageTs: string,
    threadTs: string,
  ): Promise<void> {
    const { host, secrets } = this.options;
    let reply: string;
    try {
      const result = await host.handleMessage({
        channel: 'slack',
        senderId: user,
        conversationId: proposal.conversationId,
        text: `${decision} ${proposal.id}`,
      });
      reply = result.reply;
    } catch (error) {
      reply = `That did not work: ${(error as Error).message}`;
    } finally {
      this.options.afterTurn?.();
    }
    // The buttons go away so nobody clicks a decided proposal again.
    await this.api.call('chat.update', {
      channel,
      ts: messageTs,
      text: `${proposal.id}: ${decision === 'confirm' ? 'confirmed' : 'rejected'} by ${name}`,
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `${proposal.id} ${proposal.server}/${proposal.tool}: *${decision === 'confirm' ? 'confirmed' : 'rejected'}* by ${name}`,
          },
        },
      ],
    });
    if (reply.trim()) {
      await this.api.call('chat.postMessage', { channel, thread_ts: threadTs, text: redact(reply, secrets) });
    }
  }
}
