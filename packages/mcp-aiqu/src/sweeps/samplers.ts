import { z } from 'zod';
import { createRng, deriveSeed } from './random.ts';
import { gridPoint, gridSize, type Params, type SearchSpace, sampleUniform } from './space.ts';
import { type Observation, suggestTpe } from './tpe.ts';

export const samplerSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z
      .literal('grid')
      .describe('Every combination, in order; ranges are cut into evenly spaced points.'),
    pointsPerRange: z
      .number()
      .int()
      .min(2)
      .max(50)
      .optional()
      .describe('Points per numeric range (default 5); log ranges are spaced on the log scale.'),
  }),
  z.object({ type: z.literal('random').describe('Independent uniform draws (log-uniform for log ranges).') }),
  z.object({
    type: z
      .literal('tpe')
      .describe('Tree-structured Parzen Estimator: random first, then model-based toward good regions.'),
    startupTrials: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Random trials before the model is used (default 10).'),
    candidates: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Candidates scored per parameter for each suggestion (default 24).'),
  }),
]);
export type SamplerSpec = z.infer<typeof samplerSpecSchema>;

export const defaultGridPoints = 5;

/** How many distinct trials a sampler can produce; Infinity except for a grid. */
export function samplerCapacity(sampler: SamplerSpec, space: SearchSpace): number {
  return sampler.type === 'grid'
    ? gridSize(space, sampler.pointsPerRange ?? defaultGridPoints)
    : Number.POSITIVE_INFINITY;
}

/**
 * The parameters of trial `index`. Deterministic in (seed, index, observations), so a
 * controller resumed from disk carries on as if it had never stopped.
 */
export function suggestParams(
  sampler: SamplerSpec,
  space: SearchSpace,
  index: number,
  observations: readonly Observation[],
  seed: number,
): Params {
  const rng = createRng(deriveSeed(seed, index));
  switch (sampler.type) {
    case 'grid':
      return gridPoint(space, sampler.pointsPerRange ?? defaultGridPoints, index);
    case 'random':
      return sampleUniform(space, rng);
    case 'tpe':
      return suggestTpe(space, observations, rng, {
        ...(sampler.startupTrials !== undefined ? { startupTrials: sampler.startupTrials } : {}),
        ...(sampler.candidates !== undefined ? { candidates: sampler.candidates } : {}),
      });
  }
}
