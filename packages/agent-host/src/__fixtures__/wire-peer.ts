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
