import type Anthropic from '@anthropic-ai/sdk';
import type { ModelConfig } from '../config.ts';
import type { ModelAdapter, ModelMessage, ModelResponse } from './types.ts';

/**
 * Anthropic Messages API with tool use. The system prompt (brief + host rules) and the tool
 * list are stable across turns, so both carry a cache breakpoint: each turn re-reads them from
 * the prompt cache instead of paying for them again. The SDK is imported on first use.
 */
export function createAnthropicModel(
  config: ModelConfig,
  env: NodeJS.ProcessEnv = process.env,
): ModelAdapter {
  const keyEnv = config.apiKeyEnv ?? 'ANTHROPIC_API_KEY';
  const model = config.name ?? 'claude-sonnet-4-5';
  let client: Promise<Anthropic> | undefined;
  const getClient = () => {
    client ??= import('@anthropic-ai/sdk').then(({ default: AnthropicClient }) => {
      const apiKey = env[keyEnv];
      if (!apiKey) {
        throw new Error(
          `the Anthropic API key is missing: set ${keyEnv} in the environment (model.apiKeyEnv names the variable)`,
        );
      }
      return new AnthropicClient({
        apiKey,
        ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
        timeout: config.timeoutSeconds * 1000,
        maxRetries: 2,
      });
    });
    return client;
  };

  return {
    id: `anthropic:${model}`,
    async complete(request): Promise<ModelResponse> {
      const anthropic = await getClient();
      const tools: Anthropic.Messages.Tool[] = request.tools.map((tool, index) => ({
        name: tool.name,
        description: tool.description,
        input_schema: tool.inputSchema as Anthropic.Messages.Tool.InputSchema,
        ...(index === request.tools.length - 1 ? { cache_control: { type: 'ephemeral' as const } } : {}),
      }));
      const body: Anthropic.Messages.MessageCreateParamsNonStreaming = {
        model,
        max_tokens: request.maxTokens,
        system: [{ type: 'text', text: request.system, cache_control: { type: 'ephemeral' } }],
        ...(tools.length > 0 ? { tools } : {}),
        messages: withConversationBreakpoint(toAnthropicMessages(request.messages)),
      };
      const options = request.signal ? { signal: request.signal } : undefined;
      let response: Anthropic.Messages.Message;
      try {
        if (request.onText) {
          // Streamed over SSE so a chat can show the answer as it is written.
          const stream = anthropic.messages.stream(body, options);
          const onText = request.onText;
          stream.on('text', (delta) => onText(delta));
          response = await stream.finalMessage();
        } else {
          response = await anthropic.messages.create(body, options);
        }
      } catch (error) {
        throw explain(error, keyEnv, config.baseUrl ?? 'https://api.anthropic.com');
      }
      let text = '';
      const toolCalls: ModelResponse['toolCalls'] = [];
      for (const block of response.content) {
        if (block.type === 'text') text += block.text;
        else if (block.type === 'tool_use') {
          toolCalls.push({
            id: block.id,
            name: block.name,
            arguments: (block.input ?? {}) as Record<string, unknown>,
          });
        }
      }
      return {
        text,
        toolCalls,
        usage: {
          inputTokens:
            response.usage.input_tokens +
            (response.usage.cache_read_input_tokens ?? 0) +
            (response.usage.cache_creation_input_tokens ?? 0),
          outputTokens: response.usage.output_tokens,
        },
        stopReason:
          response.stop_reason === 'tool_use'
            ? 'tool_use'
            : response.stop_reason === 'max_tokens'
              ? 'max_tokens'
              : response.stop_reason === 'end_turn'
                ? 'end'
                : 'other',
      };
    },
    async check(signal) {
      const anthropic = await getClient();
      try {
        const page = await anthropic.models.list({ limit: 20 }, signal ? { signal } : undefined);
        const known = page.data.map((m) => m.id);
        return known.includes(model)
          ? `anthropic: reachable; model ${model} is available`
          : `anthropic: reachable; model ${model} not in the first page of models (${known.slice(0, 5).join(', ')})`;
      } catch (error) {
        throw explain(error, keyEnv, config.baseUrl ?? 'https://api.anthropic.com');
      }
    },
  };
}

/** Provider-neutral messages → Anthropic turns (tool results ride in a user turn). */
export function toAnthropicMessages(messages: ModelMessage[]): Anthropic.Messages.MessageParam[] {
  const out: Anthropic.Messages.MessageParam[] = [];
  const pushUser = (blocks: Anthropic.Messages.ContentBlockParam[]) => {
    const last = out[out.length - 1];
    // Tool results and the next person's text both travel as user content; the API wants
    // alternating roles, so consecutive user parts are merged into one turn.
    if (last && last.role === 'user' && Array.isArray(last.content)) last.content.push(...blocks);
    else out.push({ role: 'user', content: blocks });
  };
  for (const message of messages) {
    if (message.role === 'user') pushUser([{ type: 'text', text: message.content || '(empty)' }]);
    else if (message.role === 'tool') {
      pushUser(
        message.results.map((result) => ({
          type: 'tool_result' as const,
          tool_use_id: result.callId,
          content: result.content || '(no output)',
          ...(result.isError ? { is_error: true } : {}),
        })),
      );
    } else {
      const content: Anthropic.Messages.ContentBlockParam[] = [];
      if (message.text) content.push({ type: 'text', text: message.text });
      for (const call of message.toolCalls) {
        content.push({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments });
      }
      if (content.length === 0) content.push({ type: 'text', text: '(no answer)' });
      out.push({ role: 'assistant', content });
    }
  }
  return out;
}

/**
 * A third cache breakpoint on the newest block: the next step of the same turn (after a tool
 * result) re-reads the whole conversation so far from the cache. System, tools and this one
 * stay within the API's limit of four breakpoints.
 */
function withConversationBreakpoint(
  messages: Anthropic.Messages.MessageParam[],
): Anthropic.Messages.MessageParam[] {
  const last = messages[messages.length - 1];
  if (!last || !Array.isArray(last.content) || last.content.length === 0) return messages;
  const blocks = [...last.content];
  const final = blocks[blocks.length - 1] as Anthropic.Messages.ContentBlockParam & {
    cache_control?: unknown;
  };
  blocks[blocks.length - 1] = {
    ...final,
    cache_control: { type: 'ephemeral' },
  } as Anthropic.Messages.ContentBlockParam;
  return [...messages.slice(0, -1), { ...last, content: blocks } as Anthropic.Messages.MessageParam];
}

function explain(error: unknown, keyEnv: string, baseUrl: string): Error {
  const status = (error as { status?: number }).status;
  const name = (error as Error).name;
  if (name === 'AbortError' || name === 'APIUserAbortError') return error as Error;
  if (status === 401 || status === 403) {
    return new Error(`Anthropic rejected the API key (${status}); check ${keyEnv}`);
  }
  if (status === 404)
    return new Error(`Anthropic answered 404: check model.name (${(error as Error).message})`);
  if (status === 429) return new Error('Anthropic rate limit reached (429); try again in a minute');
  if (status === undefined) {
    return new Error(`cannot reach the Anthropic API at ${baseUrl}: ${(error as Error).message}`);
  }
  return new Error(`Anthropic API error ${status}: ${(error as Error).message}`);
}
