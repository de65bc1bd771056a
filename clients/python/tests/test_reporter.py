from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from nightshift_reporter import (
    HFTrainerCallback,
    LightningCallback,
    Reporter,
    add_ultralytics_callbacks,
    is_cuda_oom,
    lightning_callback,
)

PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def job() -> str:
    return f"j-{uuid.uuid4().hex[:8]}"


def reporter_for(intake, tmp_path, job_id: str, **kwargs) -> Reporter:
    return Reporter(
        url=intake.url,
        secret=intake.secret,
        job_id=job_id,
        job_name="customer-a/weld-defect-v4",
        spool_dir=str(tmp_path / "spool"),
        **kwargs,
    )


class FakeTensor:
    """Stands in for a torch scalar tensor: the reporter must call .item() on it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        return self.value


def test_the_whole_event_set_reaches_the_intake_signed(intake, tmp_path):
    job_id = job()
    reporter = reporter_for(intake, tmp_path, job_id)
    reporter.started({"epochs": 60, "lr": 3.2e-4})
    reporter.epoch(1, 60, {"mAP50": FakeTensor(0.512), "loss": 1.25})
    reporter.milestone("new best", {"mAP50": 0.874})
    reporter.log("dataset has 12 empty label files", level="warning")
    reporter.finished({"mAP50": 0.874})
    events = intake.wait_for(job_id, 5)
    assert [e["type"] for e in events] == ["job.started", "job.epoch", "job.milestone", "job.log", "job.finished"]
    assert {e["run_key"] for e in events} == {f"customer-a/weld-defect-v4#{job_id}"}
    epoch = json.loads(events[1]["payload"])
    assert epoch["data"] == {"epoch": 1, "epochs": 60, "metrics": {"mAP50": 0.512, "loss": 1.25}}
    assert epoch["job"] == {"id": job_id, "name": "customer-a/weld-defect-v4"}
    assert json.loads(events[3]["payload"])["data"] == {
        "message": "dataset has 12 empty label files",
        "level": "warning",
    }
    assert reporter.pending() == []


def test_reads_its_settings_from_the_job_runner_environment(intake, tmp_path):
    job_id = job()
    script = "from nightshift_reporter import started, finished\nstarted({'from': 'env'})\nfinished()\n"
    env = {
        **os.environ,
        "PYTHONPATH": PACKAGE_DIR,
        "NIGHTSHIFT_EVENTS_URL": intake.url,
        "NIGHTSHIFT_EVENTS_SECRET": intake.secret,
        "NIGHTSHIFT_JOB_ID": job_id,
        "NIGHTSHIFT_JOB_NAME": "customer-b/ocr",
        "NIGHTSHIFT_SPOOL_DIR": str(tmp_path / "spool"),
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    events = intake.wait_for(job_id, 2)
    assert [(e["type"], e["run_key"]) for e in events] == [
        ("job.started", f"customer-b/ocr#{job_id}"),
        ("job.finished", f"customer-b/ocr#{job_id}"),
    ]
    assert intake.secret not in done.stderr


def test_the_context_manager_reports_a_cuda_oom_with_the_traceback_tail(intake, tmp_path):
    job_id = job()
    reporter = reporter_for(intake, tmp_path, job_id)

    class OutOfMemoryError(RuntimeError):  # the name torch.cuda.OutOfMemoryError has
        pass

    def training_step():
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.69 GiB total capacity)")

    with pytest.raises(OutOfMemoryError):
        with reporter.run({"batch": 64}):
            reporter.epoch(1, 10, {})
            training_step()
    events = intake.wait_for(job_id, 3)
    assert [e["type"] for e in events] == ["job.started", "job.epoch", "job.failed"]
    data = json.loads(events[2]["payload"])["data"]
    assert data["cuda_oom"] is True
    assert data["error_type"] == "OutOfMemoryError"
    assert data["error"].startswith("OutOfMemoryError: CUDA out of memory")
    assert "training_step" in data["traceback"]
    assert data["traceback"].splitlines()[-1].startswith("test_reporter.")
    assert intake.events_of(job_id)[-1]["type"] == "job.failed"


def test_an_ordinary_failure_is_not_called_oom():
    assert is_cuda_oom(ValueError("bad label file")) is False
    assert is_cuda_oom(RuntimeError("CUDA error: out of memory")) is True
    assert is_cuda_oom(None, "torch.OutOfMemoryError: CUDA out of memory.") is True


def test_the_exception_hook_reports_an_uncaught_failure_and_python_still_prints_it(intake, tmp_path):
    job_id = job()
    script = (
        "from nightshift_reporter import Reporter\n"
        "r = Reporter()\n"
        "r.install_excepthook()\n"
        "r.started()\n"
        "def load_labels():\n"
        "    raise ValueError('label 7 outside the 5 classes of the head')\n"
        "load_labels()\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": PACKAGE_DIR,
        "NIGHTSHIFT_EVENTS_URL": intake.url,
        "NIGHTSHIFT_EVENTS_SECRET": intake.secret,
        "NIGHTSHIFT_JOB_ID": job_id,
        "NIGHTSHIFT_SPOOL_DIR": str(tmp_path / "spool"),
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "ValueError: label 7 outside the 5 classes of the head" in done.stderr
    events = intake.wait_for(job_id, 2)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    data = json.loads(events[1]["payload"])["data"]
    assert data["cuda_oom"] is False
    assert "load_labels" in data["traceback"]


def test_an_unreachable_agent_never_blocks_training_and_the_spool_delivers_later(intake, tmp_path, closed_port):
    job_id = job()
    offline = Reporter(
        url=f"http://127.0.0.1:{closed_port}",
        secret=intake.secret,
        job_id=job_id,
        spool_dir=str(tmp_path / "spool"),
        max_attempts=2,
        backoff=0.05,
        timeout=1.0,
    )
    start = time.monotonic()
    for n in range(1, 51):
        offline.epoch(n, 50, {"loss": 1.0 / n})
    assert time.monotonic() - start < 1.0  # the training loop did not wait for the network
    assert offline.flush(timeout=20)
    spooled = offline.pending()
    assert len(spooled) == 50
    assert intake.events_of(job_id) == []

    # The agent is back: a reporter for the same job sends the spool first, in order.
    online = Reporter(url=intake.url, secret=intake.secret, job_id=job_id, spool_dir=str(tmp_path / "spool"))
    online.finished({"loss": 0.02})
    events = intake.wait_for(job_id, 51)
    assert [json.loads(e["payload"])["data"].get("epoch") for e in events[:50]] == list(range(1, 51))
    assert events[-1]["type"] == "job.finished"
    assert online.pending() == []
    assert not Path(online.spool_path).exists()


def test_a_wrong_secret_loses_nothing(intake, tmp_path):
    job_id = job()
    wrong = Reporter(
        url=intake.url,
        secret="whsec_" + "A" * 32,
        job_id=job_id,
        spool_dir=str(tmp_path / "spool"),
        max_attempts=1,
    )
    wrong.epoch(1, 2, {})
    assert wrong.flush(timeout=10)
    assert intake.events_of(job_id) == []
    assert len(wrong.pending()) == 1
    fixed = Reporter(url=intake.url, secret=intake.secret, job_id=job_id, spool_dir=str(tmp_path / "spool"))
    assert fixed.retry_spool() is True
    assert [e["type"] for e in intake.wait_for(job_id, 1)] == ["job.epoch"]


def test_a_retried_delivery_is_stored_once(intake, tmp_path):
    job_id = job()
    reporter = reporter_for(intake, tmp_path, job_id)
    event = {
        "id": "msg_retry_" + job_id,
        "body": json.dumps(
            {"type": "job.epoch", "timestamp": "2026-11-23T09:00:00Z", "job": {"id": job_id}, "data": {}}
        ),
    }
    assert reporter._deliver(event) is True
    assert reporter._deliver(event) is True
    time.sleep(0.2)
    assert len(intake.events_of(job_id)) == 1


def test_disabled_without_settings_and_never_raises(tmp_path):
    reporter = Reporter(env={}, spool_dir=str(tmp_path))
    assert reporter.enabled is False
    reporter.started()
    reporter.epoch(1)
    reporter.failed(RuntimeError("x"))
    assert reporter.flush(1) is True
    assert reporter.pending() == []


def test_importing_the_reporter_imports_no_training_framework():
    script = (
        "import sys, nightshift_reporter\n"
        "print(sorted(m for m in ('torch', 'lightning', 'pytorch_lightning', 'ultralytics', 'transformers') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": PACKAGE_DIR},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"


def test_lightning_callback_reports_epochs_and_exceptions(intake, tmp_path):
    job_id = job()
    callback = lightning_callback(reporter_for(intake, tmp_path, job_id))
    assert isinstance(callback, LightningCallback)
    trainer = SimpleNamespace(
        current_epoch=0, max_epochs=3, sanity_checking=False, callback_metrics={"val_mAP": FakeTensor(0.4)}
    )
    module = SimpleNamespace()
    callback.on_train_start(trainer, module)
    callback.on_train_epoch_end(trainer, module)
    trainer.current_epoch = 1
    trainer.callback_metrics = {"val_mAP": FakeTensor(0.6)}
    callback.on_train_epoch_end(trainer, module)
    callback.on_exception(trainer, module, RuntimeError("CUDA out of memory. Tried to allocate 1 GiB"))
    events = intake.wait_for(job_id, 4)
    payloads = [json.loads(e["payload"])["data"] for e in events]
    assert [e["type"] for e in events] == ["job.started", "job.epoch", "job.epoch", "job.failed"]
    assert [(p["epoch"], p["epochs"], p["metrics"]) for p in payloads[1:3]] == [
        (1, 3, {"val_mAP": 0.4}),
        (2, 3, {"val_mAP": 0.6}),
    ]
    assert payloads[3]["cuda_oom"] is True and payloads[3]["epoch"] == 2


def test_ultralytics_callbacks_report_through_add_callback(intake, tmp_path):
    job_id = job()
    registered = {}
    model = SimpleNamespace(add_callback=lambda event, fn: registered.setdefault(event, []).append(fn))
    add_ultralytics_callbacks(model, reporter_for(intake, tmp_path, job_id))
    assert sorted(registered) == ["on_fit_epoch_end", "on_train_end", "on_train_start"]
    trainer = SimpleNamespace(
        epoch=0,
        epochs=2,
        args=SimpleNamespace(data="weld.yaml", model="yolov8n.pt"),
        metrics={"metrics/mAP50(B)": 0.71},
        lr={"lr/pg0": 0.01},
        best=Path("runs/train/weights/best.pt"),
    )
    for event in ("on_train_start", "on_fit_epoch_end", "on_train_end"):
        for fn in registered[event]:
            fn(trainer)
    events = intake.wait_for(job_id, 3)
    payloads = [json.loads(e["payload"])["data"] for e in events]
    assert [e["type"] for e in events] == ["job.started", "job.epoch", "job.finished"]
    assert payloads[0]["config"] == {"epochs": 2, "data": "weld.yaml", "model": "yolov8n.pt"}
    assert payloads[1]["metrics"] == {"metrics/mAP50(B)": 0.71, "lr/pg0": 0.01}
    assert payloads[2]["best"].endswith("best.pt")


def test_hf_trainer_callback_takes_every_trainer_event(intake, tmp_path):
    job_id = job()
    callback = HFTrainerCallback(reporter_for(intake, tmp_path, job_id))
    args = SimpleNamespace(num_train_epochs=2, learning_rate=5e-5, output_dir="out")
    state = SimpleNamespace(epoch=0.0, global_step=0, best_metric=None, best_model_checkpoint=None)
    control = SimpleNamespace()
    # The Trainer calls every event on every callback; unknown ones must be harmless.
    callback.on_init_end(args, state, control)
    callback.on_train_begin(args, state, control, model=None)
    callback.on_step_end(args, state, control)
    callback.on_log(args, state, control, logs={"loss": 0.9})
    state.epoch, state.global_step = 1.0, 100
    callback.on_evaluate(args, state, control, metrics={"eval_accuracy": 0.81})
    callback.on_epoch_end(args, state, control)
    callback.on_save(args, state, control)
    state.best_metric = 0.81
    callback.on_train_end(args, state, control)
    events = intake.wait_for(job_id, 3)
    payloads = [json.loads(e["payload"])["data"] for e in events]
    assert [e["type"] for e in events] == ["job.started", "job.epoch", "job.finished"]
    assert payloads[1]["epoch"] == 1 and payloads[1]["global_step"] == 100
    assert payloads[1]["metrics"] == {"loss": 0.9, "eval_accuracy": 0.81}
    assert payloads[2]["best_metric"] == 0.81
    with pytest.raises(AttributeError):
        callback.not_an_event  # noqa: B018
