"""Training-framework callbacks that report through a :class:`Reporter`.

None of these imports its framework: each works with the objects the framework passes in (duck
typing). When the framework is already imported, the callback also subclasses its base class so
frameworks that check ``isinstance`` accept it; nothing is imported to find out.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Mapping, Optional

from .reporter import Reporter, get_reporter

__all__ = [
    "LightningCallback",
    "lightning_callback",
    "ultralytics_callbacks",
    "add_ultralytics_callbacks",
    "HFTrainerCallback",
    "hf_trainer_callback",
]


def _loaded_base(*candidates: str) -> type:
    """The first of ``module:Class`` already imported by the program, else ``object``."""
    for candidate in candidates:
        module_name, _, class_name = candidate.partition(":")
        module = sys.modules.get(module_name)
        base = getattr(module, class_name, None) if module is not None else None
        if isinstance(base, type):
            return base
    return object


def _metrics(values: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    return {str(k): v for k, v in (values or {}).items()}


# -- PyTorch Lightning -----------------------------------------------------------------------------


class LightningCallback:
    """Lightning hooks: train start → started, epoch end → epoch (with ``callback_metrics``),
    train end → finished, exception → failed."""

    def __init__(self, reporter: Optional[Reporter] = None) -> None:
        self.reporter = reporter or get_reporter()

    def on_train_start(self, trainer: Any, pl_module: Any = None) -> None:
        self.reporter.started(
            {"max_epochs": getattr(trainer, "max_epochs", None), "model": type(pl_module).__name__}
        )

    def on_train_epoch_end(self, trainer: Any, pl_module: Any = None) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        self.reporter.epoch(
            int(getattr(trainer, "current_epoch", 0)) + 1,
            getattr(trainer, "max_epochs", None),
            _metrics(getattr(trainer, "callback_metrics", None)),
        )

    def on_train_end(self, trainer: Any, pl_module: Any = None) -> None:
        self.reporter.finished(_metrics(getattr(trainer, "callback_metrics", None)))

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.reporter.failed(exception, epoch=int(getattr(trainer, "current_epoch", 0)) + 1)


def lightning_callback(reporter: Optional[Reporter] = None) -> Any:
    """A Lightning callback; a subclass of Lightning's ``Callback`` when Lightning is loaded."""
    base = _loaded_base("lightning.pytorch.callbacks:Callback", "pytorch_lightning.callbacks:Callback")
    if base is object:
        return LightningCallback(reporter)
    cls = type("NightshiftLightningCallback", (LightningCallback, base), {})
    return cls(reporter)


# -- Ultralytics -----------------------------------------------------------------------------------


def ultralytics_callbacks(reporter: Optional[Reporter] = None) -> Dict[str, Callable[[Any], None]]:
    """Ultralytics callbacks by event name, for ``model.add_callback(name, fn)``."""
    rep = reporter or get_reporter()

    def on_train_start(trainer: Any) -> None:
        args = getattr(trainer, "args", None)
        rep.started(
            {
                "epochs": getattr(trainer, "epochs", None),
                "data": str(getattr(args, "data", "")) or None,
                "model": str(getattr(args, "model", "")) or None,
            }
        )

    def on_fit_epoch_end(trainer: Any) -> None:
        metrics = _metrics(getattr(trainer, "metrics", None))
        lr = getattr(trainer, "lr", None)
        if isinstance(lr, Mapping):
            metrics.update({str(k): v for k, v in lr.items()})
        rep.epoch(int(getattr(trainer, "epoch", 0)) + 1, getattr(trainer, "epochs", None), metrics)

    def on_train_end(trainer: Any) -> None:
        rep.finished(
            _metrics(getattr(trainer, "metrics", None)),
            best=str(getattr(trainer, "best", "")) or None,
        )

    return {
        "on_train_start": on_train_start,
        "on_fit_epoch_end": on_fit_epoch_end,
        "on_train_end": on_train_end,
    }


def add_ultralytics_callbacks(model: Any, reporter: Optional[Reporter] = None) -> Any:
    """Adds the callbacks to an Ultralytics ``YOLO`` model; returns the model."""
    for event, callback in ultralytics_callbacks(reporter).items():
        model.add_callback(event, callback)
    return model


# -- Hugging Face Trainer --------------------------------------------------------------------------


class HFTrainerCallback:
    """Hugging Face ``Trainer`` events: train begin → started, epoch end → epoch (with the latest
    logged and evaluation metrics), train end → finished. Other events are accepted and ignored."""

    def __init__(self, reporter: Optional[Reporter] = None) -> None:
        self.reporter = reporter or get_reporter()
        self._latest: Dict[str, Any] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.reporter.started(
            {
                "num_train_epochs": getattr(args, "num_train_epochs", None),
                "learning_rate": getattr(args, "learning_rate", None),
                "output_dir": getattr(args, "output_dir", None),
            }
        )

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Mapping[str, Any]] = None, **kwargs: Any):
        self._latest.update(_metrics(logs))

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Optional[Mapping[str, Any]] = None, **kwargs: Any
    ) -> None:
        self._latest.update(_metrics(metrics))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        epoch = getattr(state, "epoch", None)
        self.reporter.epoch(
            int(round(epoch)) if isinstance(epoch, (int, float)) else 0,
            getattr(args, "num_train_epochs", None),
            dict(self._latest),
            global_step=getattr(state, "global_step", None),
        )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.reporter.finished(
            dict(self._latest),
            best_metric=getattr(state, "best_metric", None),
            best_model_checkpoint=getattr(state, "best_model_checkpoint", None),
        )

    def __getattr__(self, name: str) -> Callable[..., None]:
        # The Trainer calls every event on every callback (on_step_end, on_save, ...).
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def hf_trainer_callback(reporter: Optional[Reporter] = None) -> Any:
    """A Trainer callback; a subclass of ``transformers.TrainerCallback`` when it is loaded."""
    base = _loaded_base("transformers:TrainerCallback", "transformers.trainer_callback:TrainerCallback")
    if base is object:
        return HFTrainerCallback(reporter)
    cls = type("NightshiftTrainerCallback", (HFTrainerCallback, base), {})
    return cls(reporter)
