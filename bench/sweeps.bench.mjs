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

function runOptuna(python, runs) {
  const result = spawnSync(
    python,
    [join(root, 'bench', 'sweeps', 'objective.py'), JSON.stringify({ seeds, trials, runs })],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 1_800_000 },
  );
  if (result.status !== 0) throw new Error(`optuna run failed: ${result.stderr.slice(-500)}`);
  const lines = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const by = {};
  for (const line of lines) {
    const key = `${line.sampler}/${line.mode}`;
    by[key] = [...(by[key] ?? []), line];
  }
  return by;
}

/** One sweep through the real controller; returns its best final value and steps of compute. */
async function runOurs(sampler, pruner, seed, modules, horizon = steps) {
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
    sampler,
    objective: { metric: 'val_loss', direction: 'minimize' },
    budget: { maxTrials: trials, maxParallel: 1 },
    pruner,
    maxSteps: horizon,
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
      if (t === horizon) backend.finish(job.id, 'succeeded');
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

  const tpe = { type: 'tpe', startupTrials: 10 };
  const random = { type: 'random' };
  const pruners = {
    none: { type: 'none' },
    median: { type: 'median', startupTrials: 5 },
    asha: { type: 'asha', minResource: 1, reductionFactor: 3 },
    // Flat = the last 10 reports improved the best by at most 1%: relative, so it reads the same
    // at any loss scale, and a 10-report window spans the curves' noise (±0.005, period ~4).
    plateau: { type: 'plateau', patience: 10, minDelta: 0.01, relative: true },
  };
  const ours = {};
  const sweep = async (key, sampler, pruner, horizon, seedList = seeds) => {
    ours[key] = [];
    for (const seed of seedList) ours[key].push(await runOurs(sampler, pruner, seed, modules, horizon));
  };
  await sweep('tpe/none', tpe, pruners.none);
  await sweep('tpe/median', tpe, pruners.median);
  for (const name of Object.keys(pruners)) await sweep(`random/${name}`, random, pruners[name]);
  // A schedule four times longer than the 30 steps: good runs flatten well before its end.
  const longSeeds = seeds.slice(0, Math.max(2, Math.ceil(seeds.length / 2)));
  await sweep('random-long/none', random, pruners.none, 4 * steps, longSeeds);
  await sweep('random-long/plateau', random, pruners.plateau, 4 * steps, longSeeds);

  const installed = optunaPython();
  const optuna = installed.python
    ? runOptuna(installed.python, [
        ['tpe', 'none'],
        ['tpe', 'median'],
        ['random', 'none'],
        ['random', 'median'],
      ])
    : undefined;

  const bestOf = (runs) => median(runs.map((r) => r.best));
  const stepsOf = (runs) => median(runs.map((r) => r.steps));
  const per = `median of ${seeds.length} seeds, ${trials} trials`;
  const rows = [];
  const vsOptuna = (label, mine, theirs, unit, target) =>
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
  const perCompute = (runs) => median(runs.map((r) => 1 / r.best / (r.steps / 1000)));
  vsOptuna(
    `TPE, no pruning: best val_loss (${per})`,
    bestOf(ours['tpe/none']),
    optuna && bestOf(optuna['tpe/none']),
    'loss',
    '≤ 1.05× Optuna',
  );
  vsOptuna(
    `TPE + median: best val_loss (${per})`,
    bestOf(ours['tpe/median']),
    optuna && bestOf(optuna['tpe/median']),
    'loss',
    '≤ 1.05× Optuna',
  );
  vsOptuna(
    'TPE + median: compute',
    stepsOf(ours['tpe/median']),
    optuna && stepsOf(optuna['tpe/median']),
    'steps',
    'info',
  );
  vsOptuna(
    'TPE + median: 1/best per 1k steps',
    perCompute(ours['tpe/median']),
    optuna && perCompute(optuna['tpe/median']),
    '1/loss',
    '≥ 0.95× Optuna',
  );

  // Pruning on its own: a random sampler draws the same trials with and without pruning (per
  // seed), so the compute saved and the regret belong to the pruner alone. Regret is per seed,
  // (best with pruning - best without) / best without, then the median over seeds.
  const saved = (pruned, full) => 100 * (1 - stepsOf(pruned) / stepsOf(full));
  const regret = (pruned, full) =>
    median(pruned.map((r, i) => (100 * (r.best - full[i].best)) / full[i].best));
  const prunerRows = (name, key, fullKey, optunaKey, sameTrials = true) => {
    const theirs = optuna && optunaKey ? optuna[optunaKey] : undefined;
    const mineSaved = saved(ours[key], ours[fullKey]);
    const theirSaved = theirs ? saved(theirs, optuna[optunaKey.replace(/\/.*/, '/none')]) : undefined;
    rows.push({
      bench: 'sweeps pruning',
      case: `${name}: compute saved${sameTrials ? ' (same trials as without pruning)' : ''}`,
      value: mineSaved,
      unit: '%',
      ...(theirSaved !== undefined
        ? { baseline: theirSaved, baselineName: `optuna ${optunaVersion}`, ratio: mineSaved / theirSaved }
        : {}),
      target: '≥ 40%',
    });
    const mineRegret = regret(ours[key], ours[fullKey]);
    const theirRegret = theirs ? regret(theirs, optuna[optunaKey.replace(/\/.*/, '/none')]) : undefined;
    rows.push({
      bench: 'sweeps pruning',
      case: `${name}: regret of the best val_loss`,
      value: mineRegret,
      unit: '%',
      ...(theirRegret !== undefined
        ? { baseline: theirRegret, baselineName: `optuna ${optunaVersion}` }
        : {}),
      target: '≤ 2%',
    });
  };
  prunerRows('random + median', 'random/median', 'random/none', 'random/median');
  prunerRows('random + ASHA', 'random/asha', 'random/none');
  prunerRows(`random + plateau, ${steps}-step schedule`, 'random/plateau', 'random/none');
  prunerRows(`random + plateau, ${4 * steps}-step schedule`, 'random-long/plateau', 'random-long/none');
  // With TPE the pruned and unpruned sweeps sample different trials: regret mixes in the sampler.
  prunerRows('TPE + median', 'tpe/median', 'tpe/none', 'tpe/median', false);
  return rows;
}
