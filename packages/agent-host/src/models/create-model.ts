import type { ModelConfig } from '../config.ts';
import type { ModelAdapter } from './types.ts';

/** How to configure a model; shown wherever a model call fails because none is configured. */
export const modelSetupHelp = `No model is configured. Add a "model" block to nightshift.config.yaml, either Anthropic:

  model:
    provider: anthropic
    name: claude-sonnet-4-5
    apiKeyEnv: ANTHROPIC_API_KEY   # export ANTHROPIC_API_KEY=...

or a self-hosted OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio):

  model:
    provider: openai-compatible
    baseUrl: http://127.0.0.1:11434/v1
    name: qwen2.5:32b-instruct

Then restart nightshift and run "nightshift doctor" to check it.`;

const marker = Symbol.for('nightshift.ModelNotConfiguredError');

/** Raised by model calls when the config has no model block. */
export class ModelNotConfiguredError extends Error {
  override readonly name = 'ModelNotConfiguredError';
  readonly [marker] = true;
  constructor() {
    super(modelSetupHelp);
  }
  static isInstance(value: unknown): value is ModelNotConfiguredError {
    return typeof value === 'object' && value !== null && marker in value;
  }
}

/** The adapter for the configured provider; each provider's module (and SDK) loads only when chosen. */
export async function createModel(
  config: ModelConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ModelAdapter> {
  if (!config) {
    return {
      id: 'none',
      complete: async () => {
        throw new ModelNotConfiguredError();
      },
      check: async () => {
        throw new ModelNotConfiguredError();
      },
    };
  }
  switch (config.provider) {
    case 'anthropic': {
      const { createAnthropicModel } = await import('./anthropic.ts');
      return createAnthropicModel(config, env);
    }
    case 'openai-compatible': {
      const { createOpenAiCompatibleModel } = await import('./openai-compatible.ts');
      return createOpenAiCompatibleModel(config, env);
    }
    case 'scripted': {
      const { createScriptedModel, loadScript } = await import('./scripted.ts');
      return createScriptedModel(loadScript(config.script as string), `scripted:${config.script}`);
    }
  }
}
