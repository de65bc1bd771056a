// A synthetic training run with a learning curve, the same formula as objective.py: a
// validation loss that falls from 2.3 toward a final value set by the hyperparameters, at a
// speed set by them too. Small learning rates and heavy dropout converge slowly, so an early
// stop can misjudge a run that would have ended well: pruning has a real cost to weigh.

export const steps = 30;

const bestLog10Lr = { adam: -3, sgd: -1.5, rmsprop: -2.5 };
const optimizerPenalty = { adam: 0, sgd: 0.02, rmsprop: 0.01 };

/** Validation loss after `t` steps (1-based). */
export function curve(params, t) {
  const x = Math.log10(params.lr);
  const best = bestLog10Lr[params.opt];
  const final =
    0.05 +
    0.08 * (x - best) ** 2 +
    0.6 * (params.dropout - 0.2) ** 2 +
    0.02 * (Math.log2(params.width) - 7) ** 2 +
    optimizerPenalty[params.opt];
  const tau = (2 + 6 * (1 + Math.max(0, best - x))) * (1 + 2 * params.dropout);
  return final + (2.3 - final) * Math.exp(-t / tau) + 0.005 * Math.sin(1.7 * t + 10 * x);
}

export const space = {
  lr: { type: 'loguniform', low: 1e-5, high: 1 },
  opt: { type: 'choice', values: ['adam', 'sgd', 'rmsprop'] },
  dropout: { type: 'uniform', low: 0, high: 0.6 },
  width: { type: 'int', low: 16, high: 512, log: true },
};
