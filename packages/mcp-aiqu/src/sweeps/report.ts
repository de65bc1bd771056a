import type { SweepChange } from './controller.ts';
import { bestTrial, sweepUsage } from './controller.ts';

/** Where the agent's event intake is, and the secret events are signed with. */
export interface SweepEventTarget {
  url: string;
  secret: string;
  /** Undelivered events wait here (the reporter's disk spool). */
  spoolDir: string;
}

interface SweepReporter {
  milestone(name: string, metrics?: Record<string, unknown>, data?: Record<string, unknown>): void;
  finished(metrics?: Record<string, unknown>, data?: Record<string, unknown>): Promise<boolean>;
  failed(error?: unknown, data?: Record<string, unknown>): Promise<boolean>;
}

/**
 * Turns sweep changes into signed training events, one "job" per sweep (`sweep/<name>`), so the
 * agent hears of a sweep as it hears of any run: trial results and new bests as milestones, the
 * end as finished (or failed). Whether anyone is told is the agent's call, not this code's.
 */
export function sweepEventReporter(
  target: SweepEventTarget,
  createReporter?: (sweepId: string, name: string) => SweepReporter,
): (change: SweepChange) => void {
  const reporters = new Map<string, Promise<SweepReporter>>();
  const reporterFor = (sweepId: string, name: string): Promise<SweepReporter> => {
    let reporter = reporters.get(sweepId);
    if (!reporter) {
      reporter = createReporter
        ? Promise.resolve(createReporter(sweepId, name))
        : // Loaded on the first sweep event: the reporter is not needed to start the server.
          import('@nightshift/reporter').then(
            ({ Reporter }) =>
              new Reporter({
                url: target.url,
                secret: target.secret,
                jobId: sweepId,
                jobName: `sweep/${name}`,
                spoolDir: target.spoolDir,
              }),
          );
      reporters.set(sweepId, reporter);
    }
    return reporter;
  };

  return (change) => {
    const { state } = change;
    const objective = state.spec.objective.metric;
    void reporterFor(state.id, state.spec.name).then((reporter) => {
      if (change.kind === 'trial_ended') {
        const { trial } = change;
        reporter.milestone('trial_ended', trial.value === undefined ? {} : { [objective]: trial.value }, {
          trial: trial.id,
          state: trial.state,
          params: trial.params,
          ...(trial.reason ? { reason: trial.reason } : {}),
        });
      } else if (change.kind === 'new_best') {
        reporter.milestone(
          'new_best',
          { [objective]: change.trial.value },
          {
            trial: change.trial.id,
            params: change.trial.params,
            ...(change.previous
              ? { previous: { trial: change.previous.id, [objective]: change.previous.value } }
              : {}),
          },
        );
      } else {
        const best = bestTrial(state);
        const usage = sweepUsage(state, new Date());
        const summary = {
          status: state.status,
          reason: state.statusReason,
          trials: state.trials.length,
          pruned: state.trials.filter((t) => t.state === 'pruned').length,
          failed: state.trials.filter((t) => t.state === 'failed').length,
          gpuHoursUsed: Number(usage.gpuHours.toFixed(3)),
          gpuHoursSaved: Number(usage.gpuHoursSaved.toFixed(3)),
          ...(best ? { best: { trial: best.id, params: best.params, [objective]: best.value } } : {}),
        };
        if (state.status === 'failed')
          void reporter.failed(new Error(state.statusReason ?? 'sweep failed'), summary);
        else void reporter.finished(best ? { [objective]: best.value } : {}, summary);
        reporters.delete(state.id);
      }
    });
  };
}
