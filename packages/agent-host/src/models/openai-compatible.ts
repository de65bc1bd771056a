import type OpenAI from 'openai';
import type { ModelConfig } from '../config.ts';
import type { ModelAdapter, ModelMessage, ModelResponse } from './types.ts';

/**
 * Any OpenAI-compatible Chat Completions endpoint: vLLM, Ollama, llama.cpp's server, LM Studio,
 * or OpenAI itself. Self-hosted servers usually need no key. The SDK is imported on first use.
 */
export function createOpenAiCompatibleModel(
  config: ModelConfig,
  env: NodeJS.ProcessEnv = process.env,
): ModelAdapter {
  const model = config.name ?? 'default';
  const baseUrl = config.baseUrl ?? 'http://127.0.0.1:8000/v1';
  let client: Promise<OpenAI> | undefined;
  const getClient = () => {
    client ??= import('openai').then(({ default: OpenAIClient }) => {
      const apiKey = config.apiKeyEnv ? env[config.apiKeyEnv] : undefined;
      if (config.apiKeyEnv && !apiKey) {
        throw new Error(
          `the API key is missing: set ${config.apiKeyEnv} (model.apiKeyEnv), or drop apiKeyEnv`,
        );
      }
      return new OpenAIClient({
        apiKey: apiKey ?? 'not-needed',
        baseURL: baseUrl,
        timeout: config.timeoutSeconds * 1000,
        maxRetries: 2,
      });
    });
    return client;
  };

  return {
    id: `openai-compatible:${model}`,
    async complete(request): Promise<ModelResponse> {
      const openai = await getClient();
      const body = {
        model,
        max_tokens: request.maxTokens,
        messages: toOpenAiMessages(request.system, request.messages),
        ...(request.tools.length > 0
          ? {
              tools: request.tools.map((tool) => ({
                type: 'function' as const,
                function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
              })),
            }
          : {}),
      };
      const options = request.signal ? { signal: request.signal } : undefined;
      let text = '';
      let finishReason: string | null | undefined;
      let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
      const rawCalls: Array<{ id: string; name: string; arguments: string }> = [];
      try {
        if (request.onText) {
          // Streamed over SSE; tool calls arrive in fragments keyed by index and are joined here.
          const stream = await openai.chat.completions.create(
            { ...body, stream: true, stream_options: { include_usage: true } },
            options,
          );
          for await (const chunk of stream) {
            if (chunk.usage) usage = chunk.usage;
            const choice = chunk.choices[0];
            if (!choice) continue;
            if (choice.delta.content) {
              text += choice.delta.content;
              request.onText(choice.delta.content);
            }
            for (const fragment of choice.delta.tool_calls ?? []) {
              const call = rawCalls[fragment.index] ?? { id: '', name: '', arguments: '' };
              rawCalls[fragment.index] = call;
              if (fragment.id) call.id = fragment.id;
              if (fragment.function?.name) call.name += fragment.function.name;
              if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
            }
            if (choice.finish_reason) finishReason = choice.finish_reason;
          }
        } else {
          const response = await openai.chat.completions.create(body, options);
          const choice = response.choices[0];
          text = choice?.message.content ?? '';
          finishReason = choice?.finish_reason;
          usage = response.usage;
          for (const call of choice?.message.tool_calls ?? []) {
            if (call.type === 'function') {
              rawCalls.push({ id: call.id, name: call.function.name, arguments: call.function.arguments });
            }
          }
        }
      } catch (error) {
        throw explain(error, config.apiKeyEnv, baseUrl);
      }
      const toolCalls: ModelResponse['toolCalls'] = rawCalls.filter(Boolean).map((call, index) => {
        let args: Record<string, unknown>;
        try {
          args = call.arguments ? (JSON.parse(call.arguments) as Record<string, unknown>) : {};
        } catch {
          // A model that emits broken JSON gets an error result for this call instead of a crash.
          args = { __unparsable_arguments: call.arguments };
        }
        return { id: call.id || `call_${index}`, name: call.name, arguments: args };
      });
      return {
        text,
        toolCalls,
        usage: { inputTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? 0 },
        stopReason:
          finishReason === 'tool_calls'
            ? 'tool_use'
            : finishReason === 'length'
              ? 'max_tokens'
              : finishReason === 'stop'
                ? 'end'
                : 'other',
      };
    },
    async check(signal) {
      const openai = await getClient();
      try {
        const page = await openai.models.list(signal ? { signal } : undefined);
        const known = page.data.map((m) => m.id);
        return known.includes(model)
          ? `openai-compatible: ${baseUrl} reachable; model ${model} is served`
          : `openai-compatible: ${baseUrl} reachable; model ${model} not listed (served: ${known.slice(0, 5).join(', ') || 'none'})`;
      } catch (error) {
        throw explain(error, config.apiKeyEnv, baseUrl);
      }
    },
  };
}

export function toOpenAiMessages(
  system: string,
  messages: ModelMessage[],
): OpenAI.Chat.Completions.ChatCompletionMessageParam[] {
  const out: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
  for (const message of messages) {
    if (message.role === 'user') out.push({ role: 'user', content: message.content });
    else if (message.role === 'tool') {
      for (const result of message.results) {
        out.push({
          role: 'tool',
          tool_call_id: result.callId,
          content: result.isError ? `ERROR: ${result.content}` : result.content || '(no output)',
        });
      }
    } else {
      out.push({
        role: 'assistant',
        content: message.text || null,
        ...(message.toolCalls.length > 0
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            }
          : {}),
      });
    }
  }
  return out;
}

function explain(error: unknown, keyEnv: string | undefined, baseUrl: string): Error {
  const status = (error as { status?: number }).status;
  const name = (error as Error).name;
  if (name === 'AbortError' || name === 'APIUserAbortError') return error as Error;
  if (status === 401 || status === 403) {
    return new Error(`${baseUrl} rejected the API key (${status})${keyEnv ? `; check ${keyEnv}` : ''}`);
  }
  if (status === 404)
    return new Error(`${baseUrl} answered 404: check model.name and model.baseUrl (often ends in /v1)`);
  if (status === undefined)
    return new Error(`cannot reach the model endpoint ${baseUrl}: ${(error as Error).message}`);
  return new Error(`model endpoint error ${status}: ${(error as Error).message}`);
}
