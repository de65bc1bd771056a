import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ModelAdapter, ModelRequest, ModelResponse } from './types.ts';

/**
 * The scripted provider: a file of model turns, played in order, one per model call. For tests
 * (a scripted model can try anything a real one might, including every way around the gate)
 * and for demos without a model endpoint.
 *
 * ```yaml
 * turns:
 *   - text: Checking the job.
 *     toolCalls:
 *       - { name: aiqu_get_job, arguments: { jobId: j-12 } }
 *   - text: The job failed with CUDA OOM.
 * ```
 */

const turnSchema = z.strictObject({
  text: z.string().default(''),
  toolCalls: z
    .array(
      z.strictObject({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()).default({}) }),
    )
    .default([]),
});
const scriptSchema = z.union([z.array(turnSchema), z.strictObject({ turns: z.array(turnSchema) })]);

export type ScriptedTurn = z.input<typeof turnSchema>;

export interface ScriptedModel extends ModelAdapter {
  /** Every request the model received, in order (tests inspect what the model saw). */
  readonly requests: ModelRequest[];
  /** Turns not played yet. */
  remaining(): number;
}

export function loadScript(path: string): ScriptedTurn[] {
  const text = readFileSync(path, 'utf8');
  const parsed = scriptSchema.safeParse(path.endsWith('.json') ? JSON.parse(text) : parseYaml(text));
  if (!parsed.success) {
    throw new Error(
      `model script ${path} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return Array.isArray(parsed.data) ? parsed.data : parsed.data.turns;
}

export function createScriptedModel(turns: ScriptedTurn[], id = 'scripted'): ScriptedModel {
  const queue = turns.map((turn) => turnSchema.parse(turn));
  const requests: ModelRequest[] = [];
  let callIds = 0;
  return {
    id,
    requests,
    remaining: () => queue.length,
    async complete(request): Promise<ModelResponse> {
      request.signal?.throwIfAborted();
      requests.push(structuredClone({ ...request, signal: undefined, onText: undefined }));
      const turn = queue.shift();
      if (!turn) throw new Error('the scripted model has no turns left');
      if (turn.text) request.onText?.(turn.text);
      const toolCalls = turn.toolCalls.map((call) => ({
        id: `call_${++callIds}`,
        name: call.name,
        arguments: call.arguments,
      }));
      return {
        text: turn.text,
        toolCalls,
        usage: { inputTokens: 0, outputTokens: 0 },
        stopReason: toolCalls.length > 0 ? 'tool_use' : 'end',
      };
    },
    async check() {
      return `scripted: ${queue.length} turn(s) loaded`;
    },
  };
}
