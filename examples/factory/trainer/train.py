"""The example workspace's trainer: really trains a small model with numpy, logs to MLflow when
MLFLOW_TRACKING_URI is set, and reports to Nightshift through the job reporter.

The model is a multi-label logistic classifier on pooled pixels ("which defect classes appear in
this image"); its validation metric is the mean average precision over classes. It is small so the
example runs anywhere, but its failure modes are the real ones: a config whose image_size does not
match the model head makes the (simulated) GPU run out of memory once multi-scale training reaches
full scale at epoch 12, with the same message a CUDA job prints.

    python3 train.py --config train_cfg.yaml --datasets <root> [--epoch-seconds 0.5]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from pngio import read_png
from tinyyaml import loads

GPU_MEMORY_GIB = 80.0

try:  # The reporter ships with Nightshift (clients/python); training runs without it too.
    from nightshift_reporter import Reporter
except ImportError:  # pragma: no cover - exercised when the reporter is not on PYTHONPATH
    Reporter = None

# Reads NIGHTSHIFT_EVENTS_URL/_SECRET/_JOB_ID/_JOB_NAME; without them every call is a no-op.
reporter = Reporter() if Reporter is not None else None


def report(event: str, *args, **fields) -> None:
    if reporter is not None:
        getattr(reporter, event)(*args, **fields)


class MlflowLogger:
    """Logs params and metrics through MLflow's REST API; a logging failure never stops training."""

    def __init__(self, uri: str | None, experiment: str, run_name: str, tags: dict[str, str]):
        self.uri = uri.rstrip("/") if uri else None
        self.run_id: str | None = None
        if not self.uri:
            return
        try:
            found = self._call("GET", f"experiments/get-by-name?experiment_name={urllib.parse.quote(experiment)}")
            experiment_id = found["experiment"]["experiment_id"] if found else None
            if experiment_id is None:
                experiment_id = self._call("POST", "experiments/create", {"name": experiment})["experiment_id"]
            run = self._call(
                "POST",
                "runs/create",
                {
                    "experiment_id": experiment_id,
                    "run_name": run_name,
                    "start_time": int(time.time() * 1000),
                    "tags": [{"key": k, "value": v} for k, v in tags.items()],
                },
            )
            self.run_id = run["run"]["info"]["run_id"]
        except Exception as error:  # noqa: BLE001 - any failure means "train without MLflow"
            print(f"[train] MLflow unavailable ({error}); training continues without it", file=sys.stderr)
            self.uri = None

    def _call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"{self.uri}/api/2.0/mlflow/{path}", method=method)
        request.add_header("Content-Type", "application/json")
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        elif user and password:
            request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        data = json.dumps(body).encode() if body is not None else None
        try:
            with urllib.request.urlopen(request, data=data, timeout=5) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 404 and method == "GET":
                return None
            raise

    def log(self, params: dict | None = None, metrics: dict | None = None, step: int = 0) -> None:
        if not self.run_id:
            return
        now = int(time.time() * 1000)
        body = {
            "run_id": self.run_id,
            "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
            "metrics": [{"key": k, "value": float(v), "timestamp": now, "step": step} for k, v in (metrics or {}).items()],
        }
        try:
            self._call("POST", "runs/log-batch", body)
        except Exception as error:  # noqa: BLE001
            print(f"[train] MLflow logging failed: {error}", file=sys.stderr)

    def finish(self, status: str) -> None:
        if self.run_id:
            try:
                self._call("POST", "runs/update", {"run_id": self.run_id, "status": status, "end_time": int(time.time() * 1000)})
            except Exception as error:  # noqa: BLE001
                print(f"[train] MLflow status update failed: {error}", file=sys.stderr)


def load_split(root: str, split: str, classes: int, pool: int = 8) -> tuple[np.ndarray, np.ndarray]:
    image_dir = os.path.join(root, "images", split)
    features, targets = [], []
    for name in sorted(os.listdir(image_dir)):
        if not name.endswith(".png"):
            continue
        pixels = read_png(os.path.join(image_dir, name))
        h, w = pixels.shape
        pooled = pixels[: h - h % pool, : w - w % pool].reshape(h // pool, pool, w // pool, pool)
        features.append(np.concatenate([pooled.mean(axis=(1, 3)).ravel(), pooled.std(axis=(1, 3)).ravel()]))
        target = np.zeros(classes, dtype=np.float32)
        label = os.path.join(root, "labels", split, name[:-4] + ".txt")
        if os.path.exists(label):
            for line in open(label):
                if line.strip():
                    target[int(line.split()[0])] = 1.0
        targets.append(target)
    x = np.asarray(features, dtype=np.float32)
    return x, np.asarray(targets, dtype=np.float32)


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    if truth.sum() == 0:
        return float("nan")
    order = np.argsort(-scores)
    hits = truth[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def memory_needed_gib(cfg: dict, epoch: int) -> float:
    """Activation memory of one step: multi-scale training ramps to full scale by epoch 12, and a
    head compiled for another input size re-projects every feature map."""
    train, model = cfg["train"], cfg["model"]
    scale = 0.5 + 0.5 * min(1.0, epoch / 12)
    size_ratio = (train["image_size"] / 640) ** 2
    mismatch = (train["image_size"] / model["head_size"]) ** 2 if train["image_size"] != model["head_size"] else 1.0
    return 6.0 + train["batch"] * 0.074 * size_ratio * mismatch * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--datasets", required=True, help="the datasets root")
    parser.add_argument("--epoch-seconds", type=float, default=float(os.environ.get("TRAIN_EPOCH_SECONDS", "0.5")))
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()

    cfg = loads(open(args.config).read())
    name = os.environ.get("NIGHTSHIFT_JOB_NAME") or os.path.basename(os.path.dirname(os.path.abspath(args.config)))
    train, model, data = cfg["train"], cfg["model"], cfg["data"]
    epochs = args.epochs or int(train["epochs"])
    classes = len(model["classes"])
    dataset_dir = os.path.join(args.datasets, data["dataset"], data["version"])

    x_train, y_train = load_split(dataset_dir, "train", classes)
    x_val, y_val = load_split(dataset_dir, "val", classes)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std

    params = {**{f"train.{k}": v for k, v in train.items()}, "model.head_size": model["head_size"],
              "data.dataset": data["dataset"], "data.version": data["version"], "samples.train": len(x_train)}
    mlflow = MlflowLogger(os.environ.get("MLFLOW_TRACKING_URI"), experiment=name.split("/")[0], run_name=name,
                          tags={"nightshift.job_id": os.environ.get("NIGHTSHIFT_JOB_ID", ""), "nightshift.model": name})
    mlflow.log(params=params)
    report("started", config=params, epochs=epochs, mlflow_run_id=mlflow.run_id)
    print(f"[train] {name}: {len(x_train)} train / {len(x_val)} val images, {classes} classes, {epochs} epochs", flush=True)

    rng = np.random.default_rng(int(train.get("seed", 0)))
    weights = np.zeros((x_train.shape[1], classes), dtype=np.float32)
    bias = np.zeros(classes, dtype=np.float32)
    lr, best = float(train["lr"]), -1.0
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))  # noqa: E731

    for epoch in range(1, epochs + 1):
        need = memory_needed_gib(cfg, epoch)
        if need > GPU_MEMORY_GIB:
            raise RuntimeError(
                f"CUDA out of memory. Tried to allocate {need - GPU_MEMORY_GIB + 2.0:.2f} GiB "
                f"(GPU 0; {GPU_MEMORY_GIB:.2f} GiB total capacity; {GPU_MEMORY_GIB - 1.9:.2f} GiB already allocated; "
                f"batch {train['batch']}, image_size {train['image_size']})"
            )
        order = rng.permutation(len(x_train))
        losses = []
        batch = min(int(train["batch"]), len(x_train))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            p = sigmoid(x_train[idx] @ weights + bias)
            grad = (p - y_train[idx]) / len(idx)
            weights -= lr * (x_train[idx].T @ grad + 1e-3 * weights)
            bias -= lr * grad.sum(axis=0)
            losses.append(float(-np.mean(y_train[idx] * np.log(p + 1e-7) + (1 - y_train[idx]) * np.log(1 - p + 1e-7))))
        p_val = sigmoid(x_val @ weights + bias)
        val_loss = float(-np.mean(y_val * np.log(p_val + 1e-7) + (1 - y_val) * np.log(1 - p_val + 1e-7)))
        aps = [average_precision(p_val[:, c], y_val[:, c]) for c in range(classes)]
        val_map = float(np.nanmean(aps)) if not all(np.isnan(aps)) else 0.0
        metrics = {"train/loss": float(np.mean(losses)), "val/loss": val_loss, "val/mAP": val_map, "lr": lr}
        mlflow.log(metrics=metrics, step=epoch)
        report("epoch", epoch, epochs, metrics)
        if val_map > best + 1e-9:
            if best >= 0:
                report("milestone", "new_best", {"val/mAP": val_map}, epoch=epoch, epochs=epochs, previous_best=best)
            best = val_map
        print(f"[train] epoch {epoch}/{epochs} loss {metrics['train/loss']:.4f} val/mAP {val_map:.4f} lr {lr:.2e}", flush=True)
        lr *= float(train.get("lr_decay", 1.0))
        time.sleep(args.epoch_seconds)

    mlflow.finish("FINISHED")
    report("finished", {"val/mAP": best}, epochs=epochs, mlflow_run_id=mlflow.run_id)
    print(f"[train] done: best val/mAP {best:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:
        import traceback

        traceback.print_exc()
        report("failed", error=error)
        sys.exit(1)
