"""The synthetic objective of bench/sweeps.bench.mjs, run through Optuna.

Same learning curve as objective.mjs. Reads a JSON job from argv[1]:
{"trials": N, "runs": [["tpe", "none", [seeds...]], ["random", "median", [seeds...]], ...]} and
prints one JSON line per (sampler, pruner, seed): best value and steps of compute used.
"""

import json
import math
import sys

import optuna

STEPS = 30
BEST_LOG10_LR = {"adam": -3.0, "sgd": -1.5, "rmsprop": -2.5}
OPTIMIZER_PENALTY = {"adam": 0.0, "sgd": 0.02, "rmsprop": 0.01}


def curve(p, t):
    x = math.log10(p["lr"])
    best = BEST_LOG10_LR[p["opt"]]
    final = (
        0.05
        + 0.08 * (x - best) ** 2
        + 0.6 * (p["dropout"] - 0.2) ** 2
        + 0.02 * (math.log2(p["width"]) - 7) ** 2
        + OPTIMIZER_PENALTY[p["opt"]]
    )
    tau = (2 + 6 * (1 + max(0.0, best - x))) * (1 + 2 * p["dropout"])
    return final + (2.3 - final) * math.exp(-t / tau) + 0.005 * math.sin(1.7 * t + 10 * x)


def run(sampler_name, mode, seed, trials):
    used = {"steps": 0}

    def objective(trial):
        p = {
            "lr": trial.suggest_float("lr", 1e-5, 1.0, log=True),
            "opt": trial.suggest_categorical("opt", ["adam", "sgd", "rmsprop"]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.6),
            "width": trial.suggest_int("width", 16, 512, log=True),
        }
        value = None
        for t in range(1, STEPS + 1):
            value = curve(p, t)
            used["steps"] += 1
            if mode != "none":
                trial.report(value, t)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return value

    pruner = {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        "asha": optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=3, min_early_stopping_rate=0
        ),
    }[mode]
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if sampler_name == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=trials)
    pruned = len([t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED])
    return {
        "sampler": sampler_name,
        "mode": mode,
        "seed": seed,
        "best": study.best_value,
        "steps": used["steps"],
        "pruned": pruned,
    }


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    job = json.loads(sys.argv[1])
    for sampler_name, mode, seeds in job["runs"]:
        for seed in seeds:
            print(json.dumps(run(sampler_name, mode, seed, job["trials"])), flush=True)


if __name__ == "__main__":
    main()
