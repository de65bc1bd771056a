"""A sweep trial for the Slurm + MLflow tests: logs a learning curve of val_loss to MLflow.

The run is tagged nightshift.job_id, as real trainers do, so the sweep finds it. The final loss is
best at lr = 0.01; every step takes STEP_SECONDS so the controller can prune mid-run.
"""

import json
import math
import os
import sys
import time
import urllib.request

URI = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
STEPS = int(os.environ.get("NIGHTSHIFT_PARAM_STEPS", "20"))
STEP_SECONDS = float(os.environ.get("NIGHTSHIFT_PARAM_STEP_SECONDS", "0.4"))


def call(path, body=None, method="POST"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{URI}/api/2.0/mlflow/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def experiment_id(name):
    try:
        return call(f"experiments/get-by-name?experiment_name={name}", method="GET")["experiment"]["experiment_id"]
    except Exception:
        try:
            return call("experiments/create", {"name": name})["experiment_id"]
        except Exception:
            # Another trial created it first.
            return call(f"experiments/get-by-name?experiment_name={name}", method="GET")["experiment"]["experiment_id"]


def main():
    lr = float(os.environ["NIGHTSHIFT_PARAM_LR"])
    final = 0.1 * (math.log10(lr) + 2) ** 2 + 0.1
    exp = experiment_id(os.environ.get("NIGHTSHIFT_PARAM_EXPERIMENT", "sweep-e2e"))
    run = call(
        "runs/create",
        {
            "experiment_id": exp,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": "nightshift.job_id", "value": os.environ["NIGHTSHIFT_JOB_ID"]}],
        },
    )["run"]["info"]["run_id"]
    print(f"mlflow run {run}", flush=True)
    for step in range(1, STEPS + 1):
        loss = final + 2 * math.exp(-step / 4)
        call(
            "runs/log-metric",
            {"run_id": run, "key": "val_loss", "value": loss, "timestamp": int(time.time() * 1000), "step": step},
        )
        print(f"step {step} val_loss {loss:.4f}", flush=True)
        time.sleep(STEP_SECONDS)
    call("runs/update", {"run_id": run, "status": "FINISHED", "end_time": int(time.time() * 1000)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
