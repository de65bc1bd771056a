"""Nightshift job reporter: signed training events (started, epoch, milestone, finished, failed,
log) to a Nightshift service, from any Python >= 3.9 training script, standard library only.

    from nightshift_reporter import Reporter

    reporter = Reporter()            # NIGHTSHIFT_EVENTS_URL, _SECRET, _JOB_ID, _JOB_NAME
    reporter.install_excepthook()    # an uncaught exception is reported as failed
    with reporter.run(config={"epochs": 60}):
        for epoch in range(60):
            ...
            reporter.epoch(epoch + 1, 60, {"mAP50": 0.874, "lr": 3.2e-4})
"""

from .callbacks import (
    HFTrainerCallback,
    LightningCallback,
    add_ultralytics_callbacks,
    hf_trainer_callback,
    lightning_callback,
    ultralytics_callbacks,
)
from .reporter import (
    Reporter,
    epoch,
    failed,
    finished,
    get_reporter,
    install_excepthook,
    is_cuda_oom,
    log,
    milestone,
    sign,
    started,
    traceback_tail,
)

__version__ = "0.1.0"

__all__ = [
    "HFTrainerCallback",
    "LightningCallback",
    "Reporter",
    "add_ultralytics_callbacks",
    "epoch",
    "failed",
    "finished",
    "get_reporter",
    "hf_trainer_callback",
    "install_excepthook",
    "is_cuda_oom",
    "lightning_callback",
    "log",
    "milestone",
    "sign",
    "started",
    "traceback_tail",
    "ultralytics_callbacks",
]
