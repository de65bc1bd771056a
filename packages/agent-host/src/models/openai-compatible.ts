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
      let response: OpenAI.Chat.Completions.ChatCompletion;
      try {
        response = await openai.chat.completions.create(
          {
            model,
            max_tokens: request.maxTokens,
            messages: toOpenAiMessages(request.system, request.messages),
            ...(request.tools.length > 0
              ? {
                  tools: request.tools.map((tool) => ({
                    type: 'function' as const,
                    function: {
                      name: tool.name,
                      description: tool.description,
                      parameters: tool.inputSchema,
                    },
                  })),
                }
              : {}),
          },
          request.signal ? { signal: request.signal } : undefined,
        );
      } catch (error) {
        throw explain(error, config.apiKeyEnv, baseUrl);
      }
      const choice = response.choices[0];
      const text = choice?.message.content ?? '';
      const toolCalls: ModelResponse['toolCalls'] = [];
      for (const call of choice?.message.tool_calls ?? []) {
        if (call.type !== 'function') continue;
        let args: Record<string, unknown> = {};
        try {
          args = call.function.arguments
            ? (JSON.parse(call.function.arguments) as Record<string, unknown>)
            : {};
        } catch {
          // A model that emits broken JSON gets an error result for this call instead of a crash.
          args = { __unparsable_arguments: call.function.arguments };
        }
        toolCalls.push({ id: call.id, name: call.function.name, arguments: args });
      }
      if (text) request.onText?.(text);
      return {
        text,
        toolCalls,
        usage: {
          inputTokens: response.usage?.prompt_tokens ?? 0,
          outputTokens: response.usage?.completion_tokens ?? 0,
        },
        stopReason:
          choice?.finish_reason === 'tool_calls'
            ? 'tool_use'
            : choice?.finish_reason === 'length'
              ? 'max_tokens'
              : choice?.finish_reason === 'stop'
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
