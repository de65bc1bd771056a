import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A local HTTP peer speaking a model provider's wire format (Anthropic Messages or OpenAI Chat
 * Completions): it records every request and answers from a queue. The real SDKs talk to it.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
}

export interface WirePeer {
  url: string;
  requests: RecordedRequest[];
  /** Bodies answered in order to POSTs; a `{ status, body }` entry answers with that status. */
  queue: Array<Record<string, unknown> | { status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startWirePeer(models: Record<string, unknown>): Promise<WirePeer> {
  const requests: RecordedRequest[] = [];
  const queue: WirePeer['queue'] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    });
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url?.includes('/models')) {
      res.end(JSON.stringify(models));
      return;
    }
    const next = queue.shift();
    if (!next) {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { type: 'api_error', message: 'the peer has no answer queued' } }));
      return;
    }
    if ('status' in next && typeof next.status === 'number') {
      res.statusCode = next.status;
      res.end(JSON.stringify(next.body));
      return;
    }
    const body = requests.at(-1)?.body;
    if (body?.stream === true) {
      // The same queued answer, sent the way the provider streams it (server-sent events).
      res.setHeader('content-type', 'text/event-stream');
      const events = 'choices' in next ? openAiSse(next) : anthropicSse(next);
      for (const event of events) res.write(event);
      res.end();
      return;
    }
    res.end(JSON.stringify(next));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queue,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const anthropicMessage = (
  content: Array<Record<string, unknown>>,
  stop: 'end_turn' | 'tool_use' = content.some((c) => c.type === 'tool_use') ? 'tool_use' : 'end_turn',
) => ({
  id: `msg_${Math.random().toString(36).slice(2)}`,
  type: 'message',
  role: 'assistant',
  model: 'claude-test',
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage: {
    input_tokens: 120,
    output_tokens: 30,
    cache_read_input_tokens: 100,
    cache_creation_input_tokens: 0,
  },
});

export const openAiCompletion = (
  content: string | null,
  toolCalls: Array<{ id: string; name: string; arguments: Record<string, unknown> }> = [],
) => ({
  id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'qwen-test',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content,
        ...(toolCalls.length > 0
          ? {
              tool_calls: toolCalls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: JSON.stringify(c.arguments) },
              })),
            }
          : {}),
      },
      finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
    },
  ],
  usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 },
});

/** Splits text in two so a test sees more than one delta. */
function halves(text: string): string[] {
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)].filter(Boolean);
}

/** An Anthropic message as its documented SSE sequence. */
export function anthropicSse(message: Record<string, unknown>): string[] {
  const sse = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const content = message.content as Array<Record<string, unknown>>;
  const usage = message.usage as Record<string, number>;
  const out = [
    sse('message_start', {
      message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    }),
  ];
  content.forEach((block, index) => {
    if (block.type === 'text') {
      out.push(sse('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (const part of halves(String(block.text))) {
        out.push(sse('content_block_delta', { index, delta: { type: 'text_delta', text: part } }));
      }
    } else {
      out.push(sse('content_block_start', { index, content_block: { ...block, input: {} } }));
      for (const part of halves(JSON.stringify(block.input))) {
        out.push(
          sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } }),
        );
      }
    }
    out.push(sse('content_block_stop', { index }));
  });
  out.push(
    sse('message_delta', {
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    }),
  );
  out.push(sse('message_stop', {}));
  return out;
}

/** A Chat Completion as its documented SSE chunks, ending with a usage chunk and [DONE]. */
export function openAiSse(completion: Record<string, unknown>): string[] {
  const choice = (completion.choices as Array<Record<string, unknown>>)[0] as {
    message: {
      content: string | null;
      tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
    };
    finish_reason: string;
  };
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const out = [chunk({ role: 'assistant', content: '' })];
  for (const part of halves(choice.message.content ?? '')) out.push(chunk({ content: part }));
  (choice.message.tool_calls ?? []).forEach((call, index) => {
    out.push(
      chunk({
        tool_calls: [
          { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
        ],
      }),
    );
    for (const part of halves(call.function.arguments)) {
      out.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  out.push(chunk({}, choice.finish_reason));
  out.push(`data: ${JSON.stringify({ ...base, choices: [], usage: completion.usage })}\n\n`);
  out.push('data: [DONE]\n\n');
  return out;
}
