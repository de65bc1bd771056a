// Sweeps against Optuna on the same synthetic objective (bench/sweeps/objective.*): a
// validation loss with a learning curve over 30 steps, four hyperparameters (log lr, optimizer,
// dropout, log int width). Ours runs through the real SweepController (state on disk, trials as
// jobs on an in-memory queue that advances one step per tick, metrics read per tick); Optuna
// runs its TPESampler and MedianPruner with matching settings (10 random startup trials, median
// after 5 completed trials). Same trial budget, same seeds; compute = learning-curve steps run.
//
// Targets: best value within 5% of Optuna's TPE + median pruner at the same budget; pruning
// saves >= 40% of compute with <= 2% regret (best value with pruning vs without).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';
import { curve, space, steps } from './sweeps/objective.mjs';

const root = new URL('..', import.meta.url).pathname;
const optunaVersion = '5.0.0';
const trials = Number(process.env.BENCH_SWEEP_TRIALS ?? 60);
const seeds = Array.from({ length: Number(process.env.BENCH_SWEEP_SEEDS ?? 8) }, (_, i) => i + 1);
const cache =
  process.env.NIGHTSHIFT_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache'), 'nightshift');

/** Installs Optuna into a cached venv; returns its python, or a reason it could not. */
function optunaPython() {
  const venv = join(cache, `optuna-venv-${optunaVersion}`);
  const python = join(venv, 'bin', 'python');
  if (existsSync(join(venv, '.nightshift-complete'))) return { python };
  try {
    rmSync(venv, { recursive: true, force: true });
    execFileSync('python3', ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync(
      join(venv, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', `optuna==${optunaVersion}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 600_000,
      },
    );
    writeFileSync(join(venv, '.nightshift-complete'), '');
    return { python };
  } catch (error) {
    return {
      reason: `optuna ${optunaVersion} could not be installed: ${String(error.message).split('\n')[0]}`,
    };
  }
}

function runOptuna(python, modes) {
  const result = spawnSync(
    python,
    [join(root, 'bench', 'sweeps', 'objective.py'), JSON.stringify({ seeds, trials, modes })],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 1_800_000 },
  );
  if (result.status !== 0) throw new Error(`optuna run failed: ${result.stderr.slice(-500)}`);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** One sweep through the real controller; returns its best final value and steps of compute. */
async function runOurs(pruner, seed, modules) {
  const { SweepController, SweepStore, ScriptedBackend, ScriptedMetrics, bestTrial } = modules;
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-sweep-'));
  let clock = new Date('2026-01-01T00:00:00Z');
  const now = () => clock;
  const backend = new ScriptedBackend(now);
  const metrics = new ScriptedMetrics();
  const controller = new SweepController({
    store: new SweepStore(dir),
    backend: () => backend,
    buildTrialSpec: (request) => ({
      name: request.name,
      command: ['train'],
      env: request.env,
      params: request.params,
      resources: { gpus: 1, cpus: 1 },
      priority: 0,
      labels: request.labels,
    }),
    metrics,
    now,
  });
  let state = await controller.start({
    name: 'bench',
    template: 'synthetic',
    space,
    sampler: { type: 'tpe', startupTrials: 10 },
    objective: { metric: 'val_loss', direction: 'minimize' },
    budget: { maxTrials: trials, maxParallel: 1 },
    pruner,
    maxSteps: steps,
    seed,
  });
  let used = 0;
  while (state.status === 'running') {
    for (const job of backend.running()) {
      const params = {
        lr: Number(job.params.lr),
        opt: job.params.opt,
        dropout: Number(job.params.dropout),
        width: Number(job.params.width),
      };
      const t = (metrics.points.get(job.id)?.length ?? 0) + 1;
      metrics.report(job.id, curve(params, t));
      used++;
      if (t === steps) backend.finish(job.id, 'succeeded');
    }
    clock = new Date(clock.getTime() + 60_000);
    state = await controller.tick(state.id);
  }
  rmSync(dir, { recursive: true, force: true });
  const pruned = state.trials.filter((t) => t.state === 'pruned').length;
  return { best: bestTrial(state)?.value ?? Number.NaN, steps: used, pruned };
}

export async function run() {
  const src = join(root, 'packages', 'mcp-aiqu', 'src', 'sweeps');
  const { SweepController, bestTrial } = await import(join(src, 'controller.ts'));
  const { SweepStore } = await import(join(src, 'store.ts'));
  const { ScriptedBackend, ScriptedMetrics } = await import(join(src, '__fixtures__', 'scripted-backend.ts'));
  const modules = { SweepController, SweepStore, ScriptedBackend, ScriptedMetrics, bestTrial };

  const ours = {};
  const pruners = {
    none: { type: 'none' },
    median: { type: 'median', startupTrials: 5 },
    asha: { type: 'asha', minResource: 1, reductionFactor: 3 },
    plateau: { type: 'plateau', patience: 5, minDelta: 0.002 },
  };
  for (const [name, pruner] of Object.entries(pruners)) {
    ours[name] = [];
    for (const seed of seeds) ours[name].push(await runOurs(pruner, seed, modules));
  }

  const installed = optunaPython();
  let optuna;
  if (installed.python) {
    const results = runOptuna(installed.python, ['none', 'median']);
    optuna = {
      none: results.filter((r) => r.mode === 'none'),
      median: results.filter((r) => r.mode === 'median'),
    };
  }

  const bestOf = (runs) => median(runs.map((r) => r.best));
  const stepsOf = (runs) => median(runs.map((r) => r.steps));
  const per = `median of ${seeds.length} seeds, ${trials} trials`;
  const rows = [];
  const compare = (label, mine, theirs, unit, target) =>
    rows.push({
      bench: 'sweeps vs Optuna',
      case: label,
      value: mine,
      unit,
      ...(theirs !== undefined
        ? { baseline: theirs, baselineName: `optuna ${optunaVersion}`, ratio: mine / theirs }
        : { baselineName: installed.reason }),
      target,
    });

  compare(
    `TPE, no pruning: best val_loss (${per})`,
    bestOf(ours.none),
    optuna && bestOf(optuna.none),
    'loss',
    '≤ 1.05× Optuna',
  );
  compare(
    `TPE + median: best val_loss (${per})`,
    bestOf(ours.median),
    optuna && bestOf(optuna.median),
    'loss',
    '≤ 1.05× Optuna',
  );
  compare(
    'TPE + median: compute (steps)',
    stepsOf(ours.median),
    optuna && stepsOf(optuna.median),
    'steps',
    'info',
  );
  const perCompute = (runs) => median(runs.map((r) => 1 / r.best / (r.steps / 1000)));
  compare(
    'TPE + median: (1/best) per 1k steps',
    perCompute(ours.median),
    optuna && perCompute(optuna.median),
    '1/loss',
    '≥ 0.95× Optuna',
  );

  const full = stepsOf(ours.none);
  const unprunedBest = bestOf(ours.none);
  for (const name of ['median', 'asha', 'plateau']) {
    const saved = 100 * (1 - stepsOf(ours[name]) / full);
    const regret = (100 * (bestOf(ours[name]) - unprunedBest)) / unprunedBest;
    rows.push({
      bench: 'sweeps pruning',
      case: `${name}: compute saved vs no pruning`,
      value: saved,
      unit: '%',
      baseline:
        optuna && name === 'median' ? 100 * (1 - stepsOf(optuna.median) / stepsOf(optuna.none)) : undefined,
      baselineName: optuna && name === 'median' ? `optuna ${optunaVersion} median` : 'no pruning',
      ...(optuna && name === 'median'
        ? { ratio: saved / (100 * (1 - stepsOf(optuna.median) / stepsOf(optuna.none))) }
        : {}),
      target: '≥ 40%',
    });
    rows.push({
      bench: 'sweeps pruning',
      case: `${name}: regret vs no pruning (best val_loss)`,
      value: regret,
      unit: '%',
      baseline: unprunedBest,
      baselineName: 'best without pruning',
      target: '≤ 2%',
    });
  }
  return rows;
}
