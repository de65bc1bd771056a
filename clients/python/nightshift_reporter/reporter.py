"""The job reporter: signed training events to a Nightshift service.

Standard library only. Every public method returns at once: events go to a background thread
that posts them (Standard Webhooks signature, retries with backoff) and, when the service cannot
be reached, appends them to a spool file on disk that is replayed later. Nothing here may block,
slow down or crash a training run.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as _dt
import hashlib
import hmac
import json
import os
import queue
import re
import sys
import threading
import time
import traceback as _traceback
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

__all__ = ["Reporter", "sign", "is_cuda_oom", "traceback_tail"]

_CUDA_OOM = re.compile(
    r"CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED|"
    r"OutOfMemoryError|HIP out of memory|cudaErrorMemoryAllocation",
    re.IGNORECASE,
)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks ``v1``) for a body."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def is_cuda_oom(error: Optional[BaseException] = None, text: str = "") -> bool:
    """True when an exception (or a log/traceback text) is a GPU out-of-memory failure."""
    if error is not None:
        if type(error).__name__ == "OutOfMemoryError":
            return True
        text = f"{type(error).__name__}: {error}\n{text}"
    return bool(_CUDA_OOM.search(text))


def traceback_tail(error: Optional[BaseException] = None, lines: int = 40, chars: int = 6000) -> str:
    """The last lines of a traceback: where it failed, bounded in size."""
    if error is not None:
        text = "".join(_traceback.format_exception(type(error), error, error.__traceback__))
    else:
        text = _traceback.format_exc()
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return tail[-chars:]


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _intake_url(url: str) -> str:
    stripped = url.rstrip("/")
    return stripped if stripped.endswith("/v1/events") else stripped + "/v1/events"


def _jsonable(value: Any) -> Any:
    """Metrics arrive as tensors, numpy scalars, paths: turn them into plain JSON values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _jsonable(item())
        except Exception:  # a tensor with more than one element
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return _jsonable(tolist())
        except Exception:
            pass
    return str(value)


class Reporter:
    """Reports one job's events.

    Configuration comes from arguments or, when absent, from the environment the job runner
    sets: ``NIGHTSHIFT_EVENTS_URL`` (the service, e.g. ``http://127.0.0.1:7400``),
    ``NIGHTSHIFT_EVENTS_SECRET`` (``whsec_...``), ``NIGHTSHIFT_JOB_ID``, ``NIGHTSHIFT_JOB_NAME``.
    Without a URL or secret the reporter is disabled: every call is a no-op.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        secret: Optional[str] = None,
        job_id: Optional[str] = None,
        job_name: Optional[str] = None,
        spool_dir: Optional[str] = None,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if env is None else env
        raw_url = url or env.get("NIGHTSHIFT_EVENTS_URL") or ""
        self.url = _intake_url(raw_url) if raw_url else ""
        self._secret = secret or env.get("NIGHTSHIFT_EVENTS_SECRET") or ""
        self.job_id = job_id or env.get("NIGHTSHIFT_JOB_ID") or f"local-{os.getpid()}-{int(time.time())}"
        self.job_name = job_name or env.get("NIGHTSHIFT_JOB_NAME") or None
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.enabled = bool(self.url and self._secret)
        if self.enabled:
            try:
                sign(self._secret, "probe", 0, b"")
            except Exception:
                self.enabled = False
                self._warn("NIGHTSHIFT_EVENTS_SECRET is not a whsec_ secret; events are not sent")
        base = spool_dir or env.get("NIGHTSHIFT_SPOOL_DIR") or os.path.join(
            env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "nightshift", "spool"
        )
        safe_job = re.sub(r"[^A-Za-z0-9_.-]", "_", self.job_id)[:100]
        self.spool_path = os.path.join(base, f"{safe_job}.jsonl")
        self._queue: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue(maxsize=10_000)
        self._spool_lock = threading.Lock()
        self._idle = threading.Condition()
        self._busy = 0
        self._worker: Optional[threading.Thread] = None
        self._warned: set = set()
        self._closed = False
        if self.enabled:
            atexit.register(self.close, 10.0)

    # -- the event set --------------------------------------------------------------------------

    def started(self, config: Optional[Mapping[str, Any]] = None, **data: Any) -> None:
        """The run started (with its config, if given)."""
        self._emit("started", {**({"config": config} if config is not None else {}), **data})

    def epoch(
        self,
        epoch: int,
        epochs: Optional[int] = None,
        metrics: Optional[Mapping[str, Any]] = None,
        **data: Any,
    ) -> None:
        """An epoch ended: its number (1-based), the total, and its metrics."""
        self._emit("epoch", {"epoch": epoch, "epochs": epochs, "metrics": metrics or {}, **data})

    def milestone(self, name: str, metrics: Optional[Mapping[str, Any]] = None, **data: Any) -> None:
        """Something worth noting: a new best, a checkpoint, an evaluation."""
        self._emit("milestone", {"name": name, "metrics": metrics or {}, **data})

    def finished(self, metrics: Optional[Mapping[str, Any]] = None, **data: Any) -> None:
        """The run finished; waits (bounded) for pending events to go out."""
        self._emit("finished", {"metrics": metrics or {}, **data})
        self.flush(timeout=self.timeout)

    def failed(
        self,
        error: Optional[BaseException] = None,
        message: Optional[str] = None,
        traceback: Optional[str] = None,
        **data: Any,
    ) -> None:
        """The run failed: error, traceback tail, and whether it was a CUDA out-of-memory."""
        tail = traceback if traceback is not None else (traceback_tail(error) if error is not None else "")
        text = message or (f"{type(error).__name__}: {error}" if error is not None else "failed")
        self._emit(
            "failed",
            {
                "error": text[:2000],
                "error_type": type(error).__name__ if error is not None else None,
                "traceback": tail,
                "cuda_oom": is_cuda_oom(error, f"{text}\n{tail}"),
                **data,
            },
        )
        self.flush(timeout=self.timeout)

    def log(self, message: str, level: str = "info", **data: Any) -> None:
        """A log line worth the agent's attention (a warning, a data problem)."""
        self._emit("log", {"message": str(message)[:4000], "level": level, **data})

    # -- failure capture ------------------------------------------------------------------------

    @contextlib.contextmanager
    def failures(self) -> Iterator["Reporter"]:
        """Reports an exception leaving the block as ``failed``, then re-raises it."""
        try:
            yield self
        except BaseException as error:  # noqa: B036 - KeyboardInterrupt is a failure too
            if not isinstance(error, (SystemExit, GeneratorExit)) or (
                isinstance(error, SystemExit) and error.code not in (0, None)
            ):
                self.failed(error)
            raise

    @contextlib.contextmanager
    def run(self, config: Optional[Mapping[str, Any]] = None, **data: Any) -> Iterator["Reporter"]:
        """``started`` on entry, ``finished`` on a normal exit, ``failed`` on an exception."""
        self.started(config, **data)
        with self.failures():
            yield self
        self.finished()

    def install_excepthook(self) -> None:
        """Reports an uncaught exception (main thread or any thread) before Python's own hook."""
        previous = sys.excepthook

        def hook(kind, error, tb):  # type: ignore[no-untyped-def]
            try:
                if error is not None and error.__traceback__ is None:
                    error = error.with_traceback(tb)
                self.failed(error)
            except Exception:
                pass
            previous(kind, error, tb)

        sys.excepthook = hook
        if hasattr(threading, "excepthook"):
            previous_thread = threading.excepthook

            def thread_hook(args):  # type: ignore[no-untyped-def]
                try:
                    if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
                        self.failed(args.exc_value, thread=getattr(args.thread, "name", None))
                except Exception:
                    pass
                previous_thread(args)

            threading.excepthook = thread_hook

    # -- delivery -------------------------------------------------------------------------------

    def _emit(self, kind: str, data: Dict[str, Any]) -> None:
        if not self.enabled or self._closed:
            return
        try:
            job: Dict[str, Any] = {"id": self.job_id}
            if self.job_name:
                job["name"] = self.job_name
            event = {
                "id": f"msg_{uuid.uuid4().hex}",
                "body": json.dumps(
                    {"type": f"job.{kind}", "timestamp": _now_iso(), "job": job, "data": _jsonable(data)},
                    separators=(",", ":"),
                ),
            }
            self._ensure_worker()
            with self._idle:
                self._busy += 1
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()
                self._spool(event)
        except Exception as error:  # never let reporting break training
            self._warn(f"could not queue an event: {error}")

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="nightshift-reporter", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        replay_at = 0.0
        while True:
            try:
                event = self._queue.get(timeout=1.0)
            except queue.Empty:
                event = None
                if time.monotonic() >= replay_at and os.path.exists(self.spool_path):
                    replay_at = time.monotonic() + 30.0
                    self._replay()
                continue
            if event is None:
                return
            try:
                # Spooled events are older: they go first, as soon as the service answers again.
                if os.path.exists(self.spool_path) and not self._replay():
                    self._spool(event)
                elif not self._deliver(event):
                    self._spool(event)
            except Exception as error:
                self._warn(f"delivery error: {error}")
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _deliver(self, event: Mapping[str, str]) -> bool:
        """Posts one event with retries; True when the service took it (or refused it for good)."""
        body = event["body"].encode()
        delay = self.backoff
        for attempt in range(self.max_attempts):
            timestamp = int(time.time())
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "content-type": "application/json",
                    "webhook-id": event["id"],
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(self._secret, event["id"], timestamp, body),
                    "user-agent": "nightshift-reporter-python/0.1",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                    return True
            except urllib.error.HTTPError as error:
                if error.code in (400, 413):
                    # The service will never take this body; keeping it would only repeat that.
                    self._warn(f"the service refused an event ({error.code}): {error.read()[:200]!r}")
                    return True
            except Exception:
                pass
            if attempt + 1 < self.max_attempts:
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        return False

    def _spool(self, event: Mapping[str, str]) -> None:
        try:
            with self._spool_lock:
                os.makedirs(os.path.dirname(self.spool_path), exist_ok=True)
                with open(self.spool_path, "a", encoding="utf-8") as spool:
                    spool.write(json.dumps(event) + "\n")
        except Exception as error:
            self._warn(f"could not spool an event to {self.spool_path}: {error}")

    def _replay(self) -> bool:
        """Sends spooled events in order; True when the spool is empty afterwards."""
        with self._spool_lock:
            try:
                with open(self.spool_path, encoding="utf-8") as spool:
                    events = [json.loads(line) for line in spool if line.strip()]
            except FileNotFoundError:
                return True
            except Exception as error:
                self._warn(f"unreadable spool {self.spool_path}: {error}")
                return False
            sent = 0
            for event in events:
                if not self._deliver_once(event):
                    break
                sent += 1
            remaining = events[sent:]
            if remaining:
                tmp = self.spool_path + ".tmp"
                with open(tmp, "w", encoding="utf-8") as spool:
                    spool.writelines(json.dumps(e) + "\n" for e in remaining)
                os.replace(tmp, self.spool_path)
                return False
            os.remove(self.spool_path)
            return True

    def _deliver_once(self, event: Mapping[str, str]) -> bool:
        attempts, self.max_attempts = self.max_attempts, 1
        try:
            return self._deliver(event)
        finally:
            self.max_attempts = attempts

    def pending(self) -> List[Dict[str, Any]]:
        """Events waiting in the spool file (for tests and curious operators)."""
        try:
            with open(self.spool_path, encoding="utf-8") as spool:
                return [json.loads(line) for line in spool if line.strip()]
        except FileNotFoundError:
            return []

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until queued events were delivered or spooled; False when the time ran out."""
        if not self.enabled:
            return True
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def retry_spool(self) -> bool:
        """Sends spooled events now (in the caller's thread); True when none remain."""
        if not self.enabled:
            return True
        return self._replay()

    def close(self, timeout: float = 10.0) -> None:
        """Flushes (bounded) and stops the background thread."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        if self._worker is not None and self._worker.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

    def _warn(self, message: str) -> None:
        if message in self._warned:
            return
        self._warned.add(message)
        try:
            sys.stderr.write(f"[nightshift-reporter] {message}\n")
        except Exception:
            pass


_default: Optional[Reporter] = None
_default_lock = threading.Lock()


def get_reporter() -> Reporter:
    """The process-wide reporter configured from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Reporter()
        return _default


def _delegate(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(get_reporter(), name)(*args, **kwargs)

    call.__name__ = name
    call.__doc__ = getattr(Reporter, name).__doc__
    return call


started = _delegate("started")
epoch = _delegate("epoch")
milestone = _delegate("milestone")
finished = _delegate("finished")
failed = _delegate("failed")
log = _delegate("log")
install_excepthook = _delegate("install_excepthook")
